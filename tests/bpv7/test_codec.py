"""dtn/bpv7/codec.py: round trips, strictness, RFC 9173 vectors, fuzzing, zero copy."""

from __future__ import annotations

import dataclasses
import time

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtn.bpv7 import (
    BlockFlag,
    BlockType,
    Bundle,
    BundleFlag,
    CanonicalBlock,
    CrcType,
    decode,
    encode,
    encode_parts,
    encoded_size,
    parse_eid,
)
from dtn.bpv7.testing import bundles
from dtn.errors import DecodeError, EncodeError
from tests.bpv7.vectors import PAYLOAD, RFC9173_A1_ORIGINAL, RFC9173_A1_WITH_BIB, RFC9173_A3_ORIGINAL
from tests.conftest import examples


def _canonical(bundle: Bundle) -> Bundle:
    """The same bundle with every remembered encoding dropped (forces a canonical re-encode)."""
    return Bundle(dataclasses.replace(bundle.primary), tuple(dataclasses.replace(b) for b in bundle.blocks))


def _simple(**kwargs) -> Bundle:
    return Bundle.create("ipn:1.1", "ipn:2.1", kwargs.pop("payload", b"hello"), creation_time_ms=1000, **kwargs)


@settings(max_examples=examples(150))
@given(bundles())
def test_any_bundle_round_trips_byte_exact(bundle):
    data = encode(bundle)
    decoded = decode(data)
    assert decoded == bundle
    assert encode(decoded) == data
    assert encode(_canonical(decoded)) == data
    assert encoded_size(bundle) == len(data)
    assert decoded.validate() == []


@pytest.mark.parametrize("crc_type", list(CrcType))
def test_crc_types_on_every_block(crc_type):
    bundle = _simple(crc_type=crc_type, hop_limit=4)
    decoded = decode(encode(bundle))
    assert decoded.primary.crc_type == crc_type
    assert {b.crc_type for b in decoded.blocks} == {crc_type}


@pytest.mark.parametrize("crc_type", [CrcType.CRC16, CrcType.CRC32C])
def test_every_corrupted_byte_is_caught(crc_type):
    data = encode(_simple(crc_type=crc_type, hop_limit=4))
    for index in range(1, len(data) - 1):
        corrupted = bytearray(data)
        corrupted[index] ^= 0x01
        try:
            decoded = decode(bytes(corrupted))
        except DecodeError as exc:
            assert exc.offset is not None
        else:  # a flipped bit that still decodes must have changed nothing the CRC covers... impossible here
            pytest.fail(f"flip at {index} decoded as {decoded}")


def test_crc_error_names_offset_and_reason():
    data = bytearray(encode(_simple()))
    data[-3] ^= 0xFF  # inside the payload block's CRC value
    with pytest.raises(DecodeError, match="CRC mismatch") as info:
        decode(bytes(data))
    assert info.value.offset == len(data) - 5


@pytest.mark.parametrize("vector", [RFC9173_A1_ORIGINAL, RFC9173_A1_WITH_BIB, RFC9173_A3_ORIGINAL])
def test_rfc9173_vectors_decode_and_reencode_byte_exact(vector):
    data = bytes.fromhex(vector)
    bundle = decode(data)
    assert bytes(bundle.payload) == PAYLOAD
    assert bundle.primary.crc_type == CrcType.NONE
    assert bundle.primary.creation_time_ms == 0
    assert str(bundle.primary.source) == "ipn:2.1" and str(bundle.primary.destination) == "ipn:1.2"
    assert encode(bundle) == data
    assert encode(_canonical(bundle)) == data


def test_rfc9173_a1_validate_reports_exactly_the_two_problems():
    problems = decode(bytes.fromhex(RFC9173_A1_ORIGINAL)).validate()
    assert len(problems) == 2
    assert any("no CRC" in p for p in problems) and any("Bundle Age" in p for p in problems)


def test_rfc9173_a1_with_bib_still_lacks_primary_bib():
    # A.1.4's BIB targets the payload (block 1) only, so the primary block remains unprotected.
    problems = decode(bytes.fromhex(RFC9173_A1_WITH_BIB)).validate()
    assert len(problems) == 2


def test_a3_has_bundle_age_so_only_crc_problem():
    problems = decode(bytes.fromhex(RFC9173_A3_ORIGINAL)).validate()
    assert problems == ["primary block has no CRC and no BIB protects it (RFC 9171 §4.3.1: CRC type must not be 0)"]


# -- strictness -------------------------------------------------------------------------------------------------


def _blocks_cbor(bundle: Bundle) -> list:
    """The bundle as cbor2 values, to build malformed variants from."""
    return cbor2.loads(encode(_canonical(bundle))[1:-1].join([b"\x9f", b"\xff"]))


def _rebuild(primary: list, blocks: list) -> bytes:
    return b"\x9f" + b"".join(cbor2.dumps(item) for item in [primary, *blocks]) + b"\xff"


def _no_crc_primary(**changes) -> list:
    fields = [7, 0, 0, [2, [2, 1]], [2, [1, 1]], [1, 0], [1000, 0], 3600000]
    for index, value in changes.items():
        fields[int(index[1:])] = value
    return fields


PAYLOAD_BLOCK = [1, 1, 0, 0, b"x"]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"\xa0", "must be a CBOR array"),
        (_rebuild(_no_crc_primary(), [PAYLOAD_BLOCK])[:-1], "not terminated"),
        (_rebuild(_no_crc_primary(), [PAYLOAD_BLOCK]) + b"\x00", "trailing"),
        (_rebuild(_no_crc_primary(i0=6), [PAYLOAD_BLOCK]), "version 6"),
        (_rebuild(_no_crc_primary(i2=3), [PAYLOAD_BLOCK]), "unknown CRC type 3"),
        (_rebuild(_no_crc_primary(i3=[3, 1]), [PAYLOAD_BLOCK]), "scheme"),
        (_rebuild(_no_crc_primary(i3=[1, "x"]), [PAYLOAD_BLOCK]), "dtn://"),
        (_rebuild(_no_crc_primary(i3=[2, [1 << 32, 1, 1]]), [PAYLOAD_BLOCK]), "out of range"),
        (_rebuild(_no_crc_primary(i6=[1000]), [PAYLOAD_BLOCK]), "creation timestamp"),
        (_rebuild(_no_crc_primary(i1=1), [PAYLOAD_BLOCK]), "expected 10"),
        (_rebuild(_no_crc_primary()[:7], [PAYLOAD_BLOCK]), "at least 8"),
        (_rebuild(_no_crc_primary(), []), "payload block"),
        (_rebuild(_no_crc_primary(), [PAYLOAD_BLOCK, [7, 2, 0, 0, b"\x00"]]), "last block"),
        (_rebuild(_no_crc_primary(), [[7, 2, 0, 0, b"\x00"], [7, 3, 0, 0, b"\x00"], PAYLOAD_BLOCK]), "more than one"),
        (
            _rebuild(_no_crc_primary(), [[20, 2, 0, 0, b""], [21, 2, 0, 0, b""], PAYLOAD_BLOCK]),
            "duplicate block number",
        ),
        (_rebuild(_no_crc_primary(), [[20, 1, 0, 0, b""], PAYLOAD_BLOCK]), "reserved"),
        (_rebuild(_no_crc_primary(), [[1, 2, 0, 0, b"x"]]), "number 1"),
        (_rebuild(_no_crc_primary(), [[1, 1, 0, 0, b"x"], PAYLOAD_BLOCK]), "last block"),
        (_rebuild(_no_crc_primary(), [[1, 1, 0, 0, "text"]]), "byte string"),
        (_rebuild(_no_crc_primary(), [[1, 1, 0, 2, b"x", b"\x00\x00"]]), "4 bytes"),
        (_rebuild(_no_crc_primary(), [[1, 1, 0, 0, b"x", b"\x00\x00"]]), "expected 5"),
        (_rebuild(_no_crc_primary(), [[10, 2, 0, 0, cbor2.dumps([1])], PAYLOAD_BLOCK]), "hop count"),
        (_rebuild(_no_crc_primary(), [[7, 2, 0, 0, cbor2.dumps(-1)], PAYLOAD_BLOCK]), "bundle age"),
        (_rebuild(_no_crc_primary(), [[6, 2, 0, 0, b"\x82\x02"], PAYLOAD_BLOCK]), "previous node"),
        # Block-type-specific data must be a definite-length byte string (RFC 9171 §4.3.2).
        (_rebuild(_no_crc_primary(), [])[:-1] + b"\x85\x01\x01\x00\x00\x5f\x41x\xff\xff", "definite-length"),
        # cbor2 would accept a stray break inside a definite-length array (PITFALLS).
        (b"\x9f\x88\x07\x00\x00\xff" + _rebuild(_no_crc_primary(), [PAYLOAD_BLOCK])[6:], "stray"),
        # A bignum-tagged flags field is not an unsigned integer.
        (_rebuild(_no_crc_primary(), [PAYLOAD_BLOCK]).replace(b"\x88\x07\x00", b"\x88\x07\xc2\x40", 1), "tags"),
        (_rebuild(_no_crc_primary(i1=True), [PAYLOAD_BLOCK]), "flags must be an unsigned integer"),
        (_rebuild(_no_crc_primary(), [[7, 2, 0, 0, cbor2.dumps(True)], PAYLOAD_BLOCK]), "bool"),
    ],
)
def test_decode_rejects(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_definite_outer_array_accepted_and_made_conformant():
    indefinite = encode(_simple())
    body = indefinite[1:-1]
    definite = b"\x82" + body
    bundle = decode(definite)
    assert bundle == decode(indefinite)
    assert encode(bundle) == indefinite


def test_non_canonical_blocks_are_kept_exactly():
    # Primary as an indefinite-length array, an EID with a long integer head: valid CBOR, not canonical.
    primary = b"\x9f\x07\x00\x00\x82\x02\x82\x18\x02\x01\x82\x02\x82\x01\x01\x82\x01\x00\x82\x19\x03\xe8\x00\x1a\x00\x36\xee\x80\xff"
    block = b"\x9f\x01\x01\x00\x00\x41x\xff"
    data = b"\x9f" + primary + block + b"\xff"
    bundle = decode(data)
    assert str(bundle.primary.destination) == "ipn:2.1"
    assert encode(bundle) == data
    canonical = encode(_canonical(bundle))
    assert canonical != data and decode(canonical) == bundle


def test_unknown_blocks_preserved_with_flags():
    unknown = CanonicalBlock(
        200, 7, BlockFlag.DISCARD_IF_UNPROCESSABLE | BlockFlag.REPLICATE_IN_FRAGMENTS, CrcType.CRC16, b"\x01\x02opaque"
    )
    bundle = _simple(extra_blocks=[unknown])
    decoded = decode(encode(bundle))
    assert decoded.block(200) == unknown
    assert decoded.block(200).flags == unknown.flags


# -- accessors and immutable updates --------------------------------------------------------------------------


def test_extension_accessors_and_updates():
    bundle = _simple(hop_limit=5)
    assert bundle.hop_count == (5, 0)
    assert bundle.bundle_age_ms is None and bundle.previous_node is None
    updated = bundle.with_hop_count(5, 1).with_previous_node("ipn:7.0").with_bundle_age_ms(250)
    decoded = decode(encode(updated))
    assert decoded.hop_count == (5, 1)
    assert decoded.previous_node == parse_eid("ipn:7.0")
    assert decoded.bundle_age_ms == 250
    assert decoded.blocks[-1].type == BlockType.PAYLOAD
    assert len({b.number for b in decoded.blocks}) == len(decoded.blocks)
    assert decoded.validate() == []
    # Only the changed block is re-encoded; the others keep their received bytes.
    again = decoded.with_hop_count(5, 2)
    assert again.payload_block.raw is not None and again.block(BlockType.HOP_COUNT).raw is None


def test_bundle_id_and_key():
    bundle = _simple(sequence=3)
    assert bundle.id.key() == "ipn:1.1 1000 3"
    assert hash(bundle.id) == hash(decode(encode(bundle)).id)
    assert not bundle.id.is_fragment


def test_expiry():
    assert _simple(lifetime_ms=500).expiry_dtn_ms() == 1500
    clockless = Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=0).with_bundle_age_ms(100)
    assert clockless.expiry_dtn_ms() is None
    assert clockless.expiry_dtn_ms(received_dtn_ms=10_000) == 10_000 - 100 + 3_600_000


def test_create_adds_bundle_age_without_clock():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=0)
    assert bundle.bundle_age_ms == 0 and bundle.validate() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hop_limit": 0},
        {"extra_blocks": [CanonicalBlock(BlockType.PAYLOAD, 2, data=b"")]},
        {"extra_blocks": [CanonicalBlock(20, 1)]},
        {"flags": BundleFlag.IS_FRAGMENT},
    ],
)
def test_create_refuses(kwargs):
    with pytest.raises(EncodeError):
        _simple(**kwargs)


def test_encode_refuses_out_of_range():
    with pytest.raises(EncodeError):
        encode(_simple(lifetime_ms=1 << 64))


def test_validate_lists_every_problem():
    bundle = Bundle.create(
        "dtn:none",
        "ipn:2.1",
        b"x",
        creation_time_ms=5,
        flags=BundleFlag.IS_ADMIN_RECORD | BundleFlag.REPORT_DELIVERY,
    )
    bad = bundle.with_blocks([*bundle.blocks, CanonicalBlock(BlockType.HOP_COUNT, 2, data=cbor2.dumps([3, 9]))])
    problems = bad.validate()
    text = "\n".join(problems)
    for fragment in (
        "administrative record",
        "MUST_NOT_FRAGMENT",
        "dtn:none, so no status",
        "last block",
        "exceeds the hop limit",
    ):
        assert fragment in text, text


# -- zero copy and large payloads -------------------------------------------------------------------------------


def test_large_payload_is_not_copied():
    payload = bytearray(8 << 20)
    payload[123] = 7
    bundle = _simple(payload=payload)
    parts = encode_parts(bundle)
    assert any(part is payload for part in parts), "encode_parts must hand out the payload buffer itself"
    data = encode(bundle)
    decoded = decode(data)
    view = decoded.payload
    assert isinstance(view, memoryview) and view.obj is data
    assert view[123] == 7 and len(view) == len(payload)


# -- fuzzing -----------------------------------------------------------------------------------------------------


def _decode_only_decode_error(data: bytes) -> None:
    start = time.perf_counter()
    try:
        decode(data)
    except DecodeError:
        pass
    assert time.perf_counter() - start < 2.0


@pytest.mark.timeout(120)
@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_error(data):
    _decode_only_decode_error(data)
    _decode_only_decode_error(b"\x9f" + data)


@st.composite
def _mutated(draw):
    data = bytearray(encode(draw(bundles(max_payload_bytes=64))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        index = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if action == "flip" and data:
            data[index] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "set" and data:
            data[index] = draw(st.sampled_from([0x00, 0x18, 0x1B, 0x1F, 0x5F, 0x7F, 0x9F, 0xBF, 0xC2, 0xF5, 0xFF]))
        elif action == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and data:
            del data[index]
        else:
            del data[index:]
    return bytes(data)


@pytest.mark.timeout(120)
@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_bundles_raise_only_decode_error(data):
    _decode_only_decode_error(data)


def test_deep_nesting_is_a_decode_error():
    with pytest.raises(DecodeError):
        decode(b"\x9f\x88" + b"\x81" * 100_000)
