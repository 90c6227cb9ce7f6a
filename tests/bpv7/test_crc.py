"""dtn/bpv7/crc.py: CRC-16 X.25 and CRC-32C check values, chunking, and agreement with pyd3tn's tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpv7.crc import CrcType, compute_crc, crc16_x25, crc32c


def test_check_values():
    # The standard check values over b"123456789" (CRC catalogue: CRC-16/IBM-SDLC and CRC-32/ISCSI).
    assert crc16_x25([b"123456789"]) == 0x906E
    assert crc32c([b"123456789"]) == 0xE3069283


@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=3000))
def test_parts_equal_whole(data, cut):
    assert crc16_x25([data[:cut], memoryview(data[cut:])]) == crc16_x25([data])
    assert crc32c([data[:cut], bytearray(data[cut:])]) == crc32c([data])


@given(st.binary(max_size=500))
def test_agrees_with_pyd3tn(data):
    crc = pytest.importorskip("pyd3tn.crc")
    assert crc16_x25([data]) == crc.crc16_x25(data)
    assert crc32c([data]) == crc.crc32_c(data)


def test_wire_form():
    assert compute_crc(CrcType.NONE, [b"x"]) == b""
    assert compute_crc(CrcType.CRC16, [b"123456789"]) == bytes.fromhex("906e")
    assert compute_crc(CrcType.CRC32C, [b"123456789"]) == bytes.fromhex("e3069283")


def test_large_input_chunked():
    data = bytes(range(256)) * 20_000  # > one 1 MiB translate chunk
    assert crc16_x25([data]) == crc16_x25([data[:1_000_003], data[1_000_003:]])
