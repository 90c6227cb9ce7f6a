"""The decoder's fast paths (usual block shape, slot-level construction, block checks) agree with the general
path on every input, and every value range is still checked."""

import dataclasses

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.bpv7 import Bundle, CanonicalBlock, CrcType, decode, encode
from dtn.bpv7.codec import _decode_block, decode_block, encode_block
from dtn.bpv7.testing import blocks, bundles
from dtn.errors import DecodeError

from ..conftest import examples


def rebuilt(value):
    """The same value built through the dataclasses' own __init__."""
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
    copy = type(value)(**fields)
    object.__setattr__(copy, "raw", value.raw) if hasattr(value, "raw") else None
    return copy


@settings(max_examples=examples(100))
@given(bundle=bundles())
def test_decoded_objects_equal_ones_built_through_init(bundle):
    decoded = decode(encode(bundle))
    assert decoded == bundle
    assert rebuilt(decoded.primary) == decoded.primary and decoded.primary.raw is not None
    for block in decoded.blocks:
        assert rebuilt(block) == block and repr(rebuilt(block)) == repr(block)
        assert bytes(block.raw) == encode_block(block)
    assert Bundle(decoded.primary, decoded.blocks) == decoded
    assert hash(decoded.primary.destination) == hash(bundle.primary.destination)


def outcome(fn, view, pos):
    try:
        block, end = fn(view, pos)
    except DecodeError as exc:
        return "error", exc.offset
    return (block, bytes(block.raw), bytes(block.data), end)


@settings(max_examples=examples(300))
@given(
    block=blocks(),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    cut=st.integers(0, 10_000),
    crc=st.sampled_from(list(CrcType)),
)
def test_fast_block_path_agrees_with_the_general_path(block, flips, cut, crc):
    data = bytearray(encode_block(dataclasses.replace(block, crc_type=crc)))
    for at, value in flips:
        data[at % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % 4)]) + b"\xff"
    view = memoryview(data)
    fast, general = outcome(decode_block, view, 0), outcome(_decode_block, view, 0)
    if fast[0] == "error":
        assert general[0] == "error" and fast[1] == general[1]
    else:
        assert fast == general


@pytest.mark.parametrize(
    "data_head", [b"\x58\x03", b"\x59\x00\x03", b"\x5a\x00\x00\x00\x03", b"\x5b" + bytes(7) + b"\x03"]
)
def test_every_byte_string_length_head_is_read_in_the_fast_path(data_head):
    from dtn.bpv7.crc import compute_crc

    body = b"\x86\x07\x02\x00\x02" + data_head + b"abc" + b"\x44"
    raw = body + compute_crc(CrcType.CRC32C, (body, bytes(4)))
    block, end = decode_block(memoryview(raw + b"\xff"), 0)
    assert (block.type, block.number, bytes(block.data), end) == (7, 2, b"abc", len(raw))


def bundle_with(primary: list) -> bytes:
    return b"\x9f" + cbor2.dumps(primary) + cbor2.dumps([1, 1, 0, 0, b"payload"]) + b"\xff"


@pytest.mark.parametrize(
    "index,value,what",
    [
        (7, -1, "lifetime"),
        (6, [-1000, 0], "creation time"),
        (6, [1000, -1], "sequence number"),
        (1, (1 << 64), "bundle processing flags"),
    ],
)
def test_negative_and_oversized_primary_fields_are_rejected(index, value, what):
    primary = [7, 0, 0, [2, [2, 1]], [2, [1, 1]], [1, 0], [1000, 0], 3_600_000]
    primary[index] = value
    with pytest.raises(DecodeError, match=what):
        decode(bundle_with(primary))


def test_negative_fragment_offset_is_rejected():
    primary = [7, 1, 0, [2, [2, 1]], [2, [1, 1]], [1, 0], [1000, 0], 3_600_000, -1, 10]
    with pytest.raises(DecodeError, match="fragment offset"):
        decode(bundle_with(primary))


def test_decode_accepts_every_bytes_like_input():
    raw = encode(Bundle.create("ipn:1.1", "ipn:2.1", b"x" * 100, creation_time_ms=1000, hop_limit=5))
    for data in (raw, bytearray(raw), memoryview(raw), memoryview(bytearray(raw))[0:]):
        assert bytes(decode(data).payload) == b"x" * 100
    block = decode(raw).blocks[-1]
    assert isinstance(block, CanonicalBlock) and block.raw.obj is raw  # zero-copy views of the input
