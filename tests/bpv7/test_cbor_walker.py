"""dtn/bpv7/_cbor.py: the walker over CBOR heads (RFC 8949 §3) that does the strict checks, and items decoded by
cbor2's public API on exactly their bytes. Differential against cbor2 itself, hostile inputs by hand."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpv7._cbor import MAJOR_ARRAY, MAJOR_BYTES, MAJOR_TEXT, head, loads_strict, scan_item, strict_item
from dtn.errors import DecodeError

plain = st.recursive(
    st.integers(0, 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=20,
)


def _depth(value) -> int:
    return 1 + max(map(_depth, value), default=0) if isinstance(value, list) else 0


def indefinite(value) -> bytes:
    """A valid, non-canonical encoding: every array and string indefinite-length (strings in two chunks)."""
    if isinstance(value, list):
        return b"\x9f" + b"".join(indefinite(v) for v in value) + b"\xff"
    if isinstance(value, bytes):
        half = len(value) // 2
        return (
            b"\x5f"
            + head(MAJOR_BYTES, half)
            + value[:half]
            + head(MAJOR_BYTES, len(value) - half)
            + value[half:]
            + b"\xff"
        )
    if isinstance(value, str):
        raw = value.encode()
        return b"\x7f" + head(MAJOR_TEXT, len(raw)) + raw + b"\xff"
    return cbor2.dumps(value)


@given(plain, st.binary(max_size=8))
def test_canonical_items_are_found_exactly(value, trailing):
    raw = cbor2.dumps(value)
    if _depth(value) > 9:
        return
    got, end, canonical = strict_item(memoryview(raw + trailing), 0, "item")
    assert (got, end, canonical) == (value, len(raw), True)
    assert loads_strict(raw, "item") == value


@given(plain)
def test_indefinite_lengths_are_valid_but_not_canonical(value):
    if _depth(value) > 9:
        return
    raw = indefinite(value)
    got, end, canonical = strict_item(memoryview(raw), 0, "item")
    assert got == value and end == len(raw)
    assert canonical == (raw == cbor2.dumps(value))


def test_long_heads_are_not_canonical():
    assert scan_item(memoryview(b"\x18\x05"), 0, "x") == (2, False)
    assert scan_item(memoryview(b"\x19\x00\xff"), 0, "x") == (3, False)
    assert scan_item(memoryview(b"\x18\x18"), 0, "x") == (2, True)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\x82\x01\xff\x02", "stray CBOR break"),  # cbor2 5 accepts this as break_marker inside the array
        (b"\xff", "stray CBOR break"),
        (b"\x20", "integer out of range"),  # -1
        (b"\xa0", "maps"),
        (b"\xc2\x41\x01", "tags"),  # a bignum
        (b"\xd8\x18\x41\x01", "tags"),
        (b"\xf6", "simple values"),  # null
        (b"\xf9\x00\x00", "simple values"),  # a float
        (b"\xf5", "bool"),
        (b"\x1c", "reserved"),
        (b"\x1f", "reserved"),  # indefinite-length integer
        (b"\x83\x01\x02", "truncated"),
        (b"\x45abc", "runs past the end"),
        (b"\x5f\x41a\x61b\xff", "bad chunk"),
        (b"\x5f\x41a", "truncated"),
        (b"\x81" * 12 + b"\x01", "nesting too deep"),
        (b"\x62\xff\xfe", "malformed CBOR"),  # text that is not UTF-8: cbor2 says so, as a DecodeError
    ],
)
def test_refused(raw, reason):
    with pytest.raises(DecodeError, match=reason):
        strict_item(memoryview(raw), 0, "item")


def test_bools_only_when_allowed_and_trailing_bytes_refused():
    assert loads_strict(b"\x82\xf4\xf5", "record", allow_bool=True) == [False, True]
    with pytest.raises(DecodeError, match="bool"):
        loads_strict(b"\x82\xf4\xf5", "record")
    with pytest.raises(DecodeError, match="trailing") as info:
        loads_strict(b"\x01\x02", "record", base_offset=100)
    assert info.value.offset == 101


@given(st.binary(max_size=64))
def test_arbitrary_bytes_give_a_value_or_a_decode_error(raw):
    try:
        value, end, _ = strict_item(memoryview(raw), 0, "item", allow_bool=True)
    except DecodeError:
        return
    assert 0 < end <= len(raw)
    assert value == cbor2.loads(raw[:end])


def test_huge_declared_lengths_allocate_nothing():
    declared = head(MAJOR_ARRAY, 2**63) + b"\x01"
    with pytest.raises(DecodeError, match="truncated"):
        strict_item(memoryview(declared), 0, "item")
    with pytest.raises(DecodeError, match="runs past"):
        strict_item(memoryview(head(MAJOR_BYTES, 2**40) + b"x"), 0, "item")
