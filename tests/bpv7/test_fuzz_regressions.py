"""Inputs tools/fuzz.py found that once ended in an unexpected exception (docs/security.md lists them)."""

from __future__ import annotations

import pytest

from dtn.bpv7 import decode
from dtn.errors import DecodeError

CRASHES = [
    # cbor2 decodes a self-referencing tag (28/29, shared values) whose hash raises RuntimeError; the EID
    # cache hashed it.
    "9f88071a00020000008202db020182028201018222820100821b03ff8582028201018222820100821b03ff85007f82028201018222820100821b03ff85007f007f",
    "9f88071a00ff0000008202820201820282d70182028201018202820100821903e8001a0036ee80850704000041058506030000458202820301850a0200004382080085010100004a6865018202820100821903e8001a0036ee80850704000041058506030000458202820301850a0200004382080085010100004a6865018202820100821903e8001a0036ee8064746e21850704000041058506030000458202820301850a0200004382080085010100004a6865018202820100821903e8001a0036ee808507040000418202820100821903e8001a0036ee80850704000041058506030000458202820301850a0200004382080085010100008202820100821903e8001a0036ee80850704000041058506030000458202820301850a0200004382080085010100008202820100821903e8001a0036ee80850704000041058506030000458202820301850a0200a74382080085010100008202820100821903e8001a0036ee80850704000041058506030000458202820301850a020000438208008501010000058506030000458202820301850a0200004382080085010100004a686500821903e8001a0036ee80850704000041058506030000458202820301850a0200004382080085010100004a6865a46c6f2066757b7a1bffffffffffffffffff",
    # cbor2 itself raised RuntimeError building a map key from a self-referencing shared value.
    "9f89a4d462480700018201652f2f622f798201652f2f612f788201008200001a0036ee804216668607020001410042b65286010100014a3031323334353637383942f571ff",
]


@pytest.mark.parametrize("hex_input", CRASHES)
def test_decode_gives_a_typed_error(hex_input):
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(hex_input))


def test_non_utf8_text_is_a_decode_error_and_does_not_leak():
    """cbor2 5's C decoder leaks about 1 KB per non-UTF-8 text string it refuses; the codec checks text first."""
    import gc

    from dtn.bpv7 import encode
    from dtn.bpv7.bundle import Bundle

    good = encode(Bundle.create("dtn://node/app", "ipn:2.1", b"x", creation_time_ms=1000))
    i = good.index(b"node/app")
    bad = good[:i] + b"\xff" + good[i + 1 :]  # the source EID's text is no longer UTF-8

    def rss_kib() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4

    for _ in range(2000):  # warm up
        with pytest.raises(DecodeError):
            decode(bad)
    gc.collect()
    before = rss_kib()
    for _ in range(50_000):
        with pytest.raises(DecodeError):
            decode(bad)
    gc.collect()
    assert rss_kib() - before < 8 * 1024  # KiB; the leak was about 50 MB here
