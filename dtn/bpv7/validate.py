"""`Bundle.validate()`: every problem against RFC 9171 (and RFC 9172's block rules), as a list of sentences.

`decode()` stops at the first structural error; this lists everything, including the rules a node's policy may
choose to waive (RFC 9173 Appendix A bundles break two of them on purpose).
"""

from __future__ import annotations

from dtn.bpv7._cbor import UINT64_MAX
from dtn.bpv7.bundle import (
    _CONTENT_PARSERS,
    BP_VERSION,
    BlockFlag,
    STATUS_REPORT_FLAGS,
    BlockType,
    Bundle,
    BundleFlag,
    bcb_targets,
    bib_targets,
)
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import EID, DtnEID, IpnEID
from dtn.errors import DecodeError


def _uint_problem(name: str, value: object) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= UINT64_MAX:
        return f"{name} must be an unsigned 64-bit integer, got {value!r}"
    return None


def _node_id_problem(eid: object) -> str | None:
    """Why `eid` is not a node ID (RFC 9171 §4.2.5.2: a node's administrative endpoint), or None."""
    if not isinstance(eid, EID):
        return "not an EID"
    if eid.is_null:
        return "dtn:none names no node"
    if isinstance(eid, IpnEID) and eid.service != 0:
        return "an ipn node ID has service number 0"
    if isinstance(eid, DtnEID) and eid.demux:
        return "a dtn node ID has an empty demux (dtn://node/)"
    return None


def validate_bundle(bundle: Bundle) -> list[str]:
    problems: list[str] = []
    p = bundle.primary
    blocks = bundle.blocks

    # Primary block, RFC 9171 §4.3.1.
    if p.version != BP_VERSION:
        problems.append(f"bundle protocol version is {p.version}, must be 7")
    for name, value in (
        ("creation time", p.creation_time_ms),
        ("sequence number", p.sequence),
        ("lifetime", p.lifetime_ms),
        ("bundle processing flags", int(p.flags)),
    ):
        if (problem := _uint_problem(name, value)) is not None:
            problems.append(problem)
    for name, eid in (("destination", p.destination), ("source", p.source), ("report-to", p.report_to)):
        if not isinstance(eid, EID):
            problems.append(f"{name} is not an EID: {eid!r}")
    if p.crc_type not in (0, 1, 2):
        problems.append(f"primary block CRC type {p.crc_type} is not 0, 1 or 2")
    if p.crc_type == CrcType.NONE and 0 not in bib_targets(blocks):
        problems.append("primary block has no CRC and no BIB protects it (RFC 9171 §4.3.1: CRC type must not be 0)")
    if p.creation_time_ms == 0 and not any(b.type == BlockType.BUNDLE_AGE for b in blocks):
        problems.append("creation time is 0 (no clock) but there is no Bundle Age block (RFC 9171 §4.3.1, §4.4.2)")

    # Flags, RFC 9171 §4.2.3.
    flags = BundleFlag(p.flags)
    if flags & BundleFlag.IS_ADMIN_RECORD and flags & STATUS_REPORT_FLAGS:
        problems.append("an administrative record must not request status reports (RFC 9171 §4.2.3)")
    if getattr(p.source, "is_null", False):
        if not flags & BundleFlag.MUST_NOT_FRAGMENT:
            problems.append("source is dtn:none, so the bundle must be flagged MUST_NOT_FRAGMENT (RFC 9171 §4.2.3)")
        if flags & STATUS_REPORT_FLAGS:
            problems.append("source is dtn:none, so no status reports may be requested (RFC 9171 §4.2.3)")

    # Fragments, RFC 9171 §4.3.1 and §5.8.
    payload = bundle.payload_block
    if flags & BundleFlag.IS_FRAGMENT:
        if p.fragment_offset is None or p.total_adu_length is None:
            problems.append("IS_FRAGMENT is set but fragment offset or total ADU length is missing")
        else:
            for name, value in (("fragment offset", p.fragment_offset), ("total ADU length", p.total_adu_length)):
                if (problem := _uint_problem(name, value)) is not None:
                    problems.append(problem)
            length = len(payload.data) if payload is not None else 0
            if isinstance(p.fragment_offset, int) and isinstance(p.total_adu_length, int):
                if p.fragment_offset + length > p.total_adu_length:
                    problems.append(
                        f"fragment [{p.fragment_offset}, {p.fragment_offset + length}) runs past the total ADU "
                        f"length {p.total_adu_length}"
                    )
        if flags & BundleFlag.MUST_NOT_FRAGMENT:
            problems.append("a fragment is flagged MUST_NOT_FRAGMENT")
    elif p.fragment_offset is not None or p.total_adu_length is not None:
        problems.append("fragment offset/total ADU length present but IS_FRAGMENT is not set")

    # Canonical blocks, RFC 9171 §4.1, §4.3.2, §4.4.
    if not blocks:
        problems.append("the bundle has no payload block")
    payloads = [b for b in blocks if b.type == BlockType.PAYLOAD]
    if len(payloads) > 1:
        problems.append(f"the bundle has {len(payloads)} payload blocks, exactly one is allowed")
    if blocks and blocks[-1].type != BlockType.PAYLOAD:
        problems.append("the last block must be the payload block")
    numbers = [b.number for b in blocks]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate block numbers {duplicates}")
    encrypted = bcb_targets(blocks)
    seen_types: set[int] = set()
    for block in blocks:
        label = f"block {block.number} (type {int(block.type)})"
        for name, value in (("type", block.type), ("number", block.number), ("flags", int(block.flags))):
            if (problem := _uint_problem(f"{label} {name}", value)) is not None:
                problems.append(problem)
        if block.crc_type not in (0, 1, 2):
            problems.append(f"{label}: CRC type {block.crc_type} is not 0, 1 or 2")
        if block.type == BlockType.PAYLOAD and block.number != 1:
            problems.append(f"the payload block must be block number 1, not {block.number}")
        elif block.type != BlockType.PAYLOAD and block.number in (0, 1):
            problems.append(f"{label}: block numbers 0 and 1 are reserved for the primary and payload blocks")
        if block.type == 0:
            problems.append(f"{label}: block type 0 is reserved")
        if block.type in _CONTENT_PARSERS:
            if block.type in seen_types:
                problems.append(f"more than one {BlockType(block.type).name} block")
            seen_types.add(block.type)
            if block.number not in encrypted:
                try:
                    value = _CONTENT_PARSERS[block.type](block.data)
                except DecodeError as exc:
                    problems.append(f"{label}: {exc.reason}")
                else:
                    if block.type == BlockType.PREVIOUS_NODE and (reason := _node_id_problem(value)) is not None:
                        problems.append(
                            f"{label}: the previous node {value} is not a node ID: {reason} (RFC 9171 §4.4.1, §4.2.5.2)"
                        )
                    if block.type == BlockType.HOP_COUNT:
                        limit, count = value  # type: ignore[misc]
                        if not 1 <= limit <= 255:
                            problems.append(f"hop limit {limit} is outside 1..255 (RFC 9171 §4.4.3)")
                        if count > limit:
                            problems.append(f"hop count {count} exceeds the hop limit {limit}")
    if flags & BundleFlag.IS_ADMIN_RECORD:
        asking = [b.number for b in blocks if int(b.flags) & BlockFlag.REPORT_IF_UNPROCESSABLE]
        if asking:
            problems.append(
                f"an administrative record's blocks {asking} ask for a 'block unprocessable' status "
                "report (RFC 9171 §4.2.4: that flag must be zero)"
            )
    for block in blocks:
        if block.type in (BlockType.BIB, BlockType.BCB):
            targets = bib_targets([block]) if block.type == BlockType.BIB else bcb_targets([block])
            missing = sorted(t for t in targets if t != 0 and t not in numbers)
            if missing:
                problems.append(f"block {block.number} ({BlockType(block.type).name}) targets missing blocks {missing}")
    return problems
