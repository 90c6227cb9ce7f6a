"""The JSON form of a bundle, used by `dtn bundle decode --json` and `dtn bundle encode` (docs/bundle.md).

    {"primary": {"version": 7, "flags": 0, "crc_type": 2, "destination": "ipn:2.1", "source": "ipn:1.1",
                 "report_to": "dtn:none", "creation_time_ms": 1, "sequence": 0, "lifetime_ms": 3600000,
                 "fragment_offset": null, "total_adu_length": null},
     "blocks": [{"type": 1, "number": 1, "flags": 0, "crc_type": 2, "data_hex": "68656c6c6f"}]}

Exactness: `to_json(decode(b))` then `from_json` and `encode` gives back `b` byte for byte. A block (or the
primary) whose received encoding is valid but not the canonical one (indefinite-length arrays, long heads) gets
an extra "encoding_hex" with its exact bytes; `from_json` checks that those bytes decode to the same fields and
keeps them. The only thing not kept is a definite-length outer array, which encodes as the conformant
indefinite-length array (RFC 9171 §4.1).
"""

from __future__ import annotations

import binascii

from dtn.bpv7.bundle import BlockFlag, Bundle, BundleFlag, CanonicalBlock, PrimaryBlock, block_type
from dtn.bpv7.codec import decode_block, decode_primary, encode_block, encode_primary
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import parse_eid
from dtn.errors import DecodeError

_PRIMARY_KEYS = (
    "version",
    "flags",
    "crc_type",
    "destination",
    "source",
    "report_to",
    "creation_time_ms",
    "sequence",
    "lifetime_ms",
    "fragment_offset",
    "total_adu_length",
)
_BLOCK_KEYS = ("type", "number", "flags", "crc_type", "data_hex")


def _raw_if_noncanonical(raw, canonical: bytes) -> str | None:
    if raw is None or raw == canonical:
        return None
    return bytes(raw).hex()


def to_json(bundle: Bundle) -> dict:
    """The JSON-ready dict of a bundle."""
    p = bundle.primary
    primary = {
        "version": p.version,
        "flags": int(p.flags),
        "crc_type": int(p.crc_type),
        "destination": str(p.destination),
        "source": str(p.source),
        "report_to": str(p.report_to),
        "creation_time_ms": p.creation_time_ms,
        "sequence": p.sequence,
        "lifetime_ms": p.lifetime_ms,
        "fragment_offset": p.fragment_offset,
        "total_adu_length": p.total_adu_length,
    }
    if p.raw is not None and (raw_hex := _raw_if_noncanonical(p.raw, encode_primary(p))):
        primary["encoding_hex"] = raw_hex
    blocks = []
    for block in bundle.blocks:
        item = {
            "type": int(block.type),
            "number": block.number,
            "flags": int(block.flags),
            "crc_type": int(block.crc_type),
            "data_hex": bytes(block.data).hex(),
        }
        if block.raw is not None and (raw_hex := _raw_if_noncanonical(block.raw, encode_block(block))):
            item["encoding_hex"] = raw_hex
        blocks.append(item)
    return {"primary": primary, "blocks": blocks}


def _field(obj: dict, key: str, where: str, *, nullable: bool = False) -> object:
    if key not in obj:
        raise DecodeError(f"JSON {where}: missing key {key!r}")
    value = obj[key]
    if value is None and nullable:
        return None
    if key in ("destination", "source", "report_to"):
        if not isinstance(value, str):
            raise DecodeError(f"JSON {where}.{key}: expected EID text like 'ipn:2.1'")
        return parse_eid(value)
    if key == "data_hex":
        if not isinstance(value, str):
            raise DecodeError(f"JSON {where}.{key}: expected a hex string")
        return _unhex(value, f"{where}.{key}")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DecodeError(f"JSON {where}.{key}: expected an unsigned integer, got {value!r}")
    return value


def _unhex(text: str, where: str) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise DecodeError(f"JSON {where}: not valid hex") from None


def _crc(value: int, where: str) -> CrcType:
    try:
        return CrcType(value)
    except ValueError:
        raise DecodeError(f"JSON {where}.crc_type: must be 0, 1 or 2, got {value}") from None


def from_json(obj: object) -> Bundle:
    """A Bundle from its JSON form; DecodeError (offset None) naming the JSON path if it is malformed."""
    if not isinstance(obj, dict) or not isinstance(obj.get("primary"), dict) or not isinstance(obj.get("blocks"), list):
        raise DecodeError("JSON bundle must be an object with a 'primary' object and a 'blocks' list")
    pj = obj["primary"]
    fields = {k: _field(pj, k, "primary", nullable=k in ("fragment_offset", "total_adu_length")) for k in _PRIMARY_KEYS}
    fields["flags"] = BundleFlag(fields["flags"])
    fields["crc_type"] = _crc(fields["crc_type"], "primary")
    primary = PrimaryBlock(**fields)
    if "encoding_hex" in pj:
        primary = _attach(primary, _unhex(str(pj["encoding_hex"]), "primary.encoding_hex"), "primary", decode_primary)
    blocks = []
    for index, bj in enumerate(obj["blocks"]):
        where = f"blocks[{index}]"
        if not isinstance(bj, dict):
            raise DecodeError(f"JSON {where}: expected an object")
        values = {k: _field(bj, k, where) for k in _BLOCK_KEYS}
        block = CanonicalBlock(
            block_type(values["type"]),
            values["number"],
            BlockFlag(values["flags"]),
            _crc(values["crc_type"], where),
            values["data_hex"],
        )
        if "encoding_hex" in bj:
            block = _attach(block, _unhex(str(bj["encoding_hex"]), f"{where}.encoding_hex"), where, decode_block)
        blocks.append(block)
    return Bundle(primary, tuple(blocks))


def _attach(value, raw: bytes, where: str, decoder):
    """Keep `raw` as the exact encoding of `value`, after checking it decodes to the same fields."""
    view = memoryview(raw)
    try:
        decoded, end = decoder(view, 0)
    except DecodeError as exc:
        raise DecodeError(f"JSON {where}.encoding_hex: {exc.reason}", offset=exc.offset) from None
    if end != len(view):
        raise DecodeError(f"JSON {where}.encoding_hex: {len(view) - end} trailing bytes")
    if decoded != value:
        raise DecodeError(f"JSON {where}.encoding_hex does not match the other fields of {where}")
    return decoded
