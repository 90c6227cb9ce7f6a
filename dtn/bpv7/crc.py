"""Block CRCs, RFC 9171 §4.2.1: none, CRC-16 X.25 and CRC-32C (Castagnoli).

The CRC of a block is computed over the block's whole CBOR encoding with the CRC field's value set to zeros.
Both functions take the data in parts (any bytes-like objects) so a large payload is never concatenated.
"""

from __future__ import annotations

import binascii
import enum
from collections.abc import Iterable

import crc32c as _crc32c


class CrcType(enum.IntEnum):
    """CRC type codes, RFC 9171 §4.2.1."""

    NONE = 0
    CRC16 = 1
    CRC32C = 2


CRC_SIZE_BYTES = {CrcType.NONE: 0, CrcType.CRC16: 2, CrcType.CRC32C: 4}

# CRC-16/X.25 is the bit-reflected CRC-CCITT (poly 0x1021, init 0xffff, xorout 0xffff). binascii.crc_hqx is the
# non-reflected CRC-CCITT in C; a reflected CRC equals the non-reflected one over bit-reversed input bytes, with the
# result bit-reversed. Bit-reversing bytes is one C-level bytes.translate, so the whole CRC runs at C speed.
_REVERSE_BITS = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
_CHUNK_BYTES = 1 << 20  # translate in bounded chunks: a 1 GiB payload never needs a second 1 GiB buffer


def _reverse16(value: int) -> int:
    return (_REVERSE_BITS[value & 0xFF] << 8) | _REVERSE_BITS[value >> 8]


def crc16_x25(parts: Iterable[bytes | bytearray | memoryview]) -> int:
    """CRC-16 X.25 over the concatenation of `parts` (check value for b"123456789": 0x906E)."""
    crc = 0xFFFF
    for part in parts:
        view = memoryview(part).cast("B")
        for start in range(0, len(view), _CHUNK_BYTES):
            crc = binascii.crc_hqx(bytes(view[start : start + _CHUNK_BYTES]).translate(_REVERSE_BITS), crc)
    return _reverse16(crc) ^ 0xFFFF


def crc32c(parts: Iterable[bytes | bytearray | memoryview]) -> int:
    """CRC-32C over the concatenation of `parts` (check value for b"123456789": 0xE3069283)."""
    crc = 0
    for part in parts:
        crc = _crc32c.crc32c(part, crc)
    return crc


def compute_crc(crc_type: CrcType, parts: Iterable[bytes | bytearray | memoryview]) -> bytes:
    """The CRC value as it goes on the wire (big-endian, 2 or 4 bytes); b"" for CrcType.NONE."""
    if crc_type == CrcType.CRC16:
        return crc16_x25(parts).to_bytes(2, "big")
    if crc_type == CrcType.CRC32C:
        return crc32c(parts).to_bytes(4, "big")
    return b""
