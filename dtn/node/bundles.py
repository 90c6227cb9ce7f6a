"""The node's one seam to the codec (`dtn.bpv7`), routing (`routing.cgr`) and BPSec (`dtn.bpsec`).

Everything the node needs from a bundle goes through here, as plain values (`Info`), so the processing code in
`dtn.node.node` reads like RFC 9171 §5 and does not depend on the codec's object layout.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

from contact_plans.model import ContactPlan
from dtn.bpv7.bundle import Bundle, BundleFlag
from dtn.bpv7.codec import decode as _decode
from dtn.bpv7.codec import encode as _encode
from dtn.bpv7.eid import parse_eid
from dtn.bpv7.time import dtn_ms_to_unix, unix_to_dtn_ms  # noqa: F401 (re-exported for the node)
from dtn.errors import DecodeError, DtnError, RoutingError
from dtn.store import StoredBundle, bundle_key

# Status report request bits as the node keeps them in store metadata (independent of the wire flags).
REPORT_RECEPTION = 1
REPORT_FORWARDING = 2
REPORT_DELIVERY = 4
REPORT_DELETION = 8

_WIRE_BITS = (
    (BundleFlag.REPORT_RECEPTION, REPORT_RECEPTION),
    (BundleFlag.REPORT_FORWARDING, REPORT_FORWARDING),
    (BundleFlag.REPORT_DELIVERY, REPORT_DELIVERY),
    (BundleFlag.REPORT_DELETION, REPORT_DELETION),
)

# Bytes a fragment adds over its share of the payload (primary block fields, extension blocks replicated):
# a generous bound used to size fragments for a contact's remaining volume.
FRAGMENT_OVERHEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class Info:
    """What bundle processing needs from one bundle (RFC 9171 §4.3.1, §4.4)."""

    source: str
    destination: str
    report_to: str
    creation_time_ms: int
    sequence: int
    lifetime_ms: int
    fragment_offset: int | None
    fragment_payload_bytes: int | None  # the fragment's payload length (its identity, as Bundle.id)
    total_adu_length: int | None
    is_admin: bool
    must_not_fragment: bool
    report_bits: int
    status_time_requested: bool
    hop_limit: int | None
    hop_count: int
    bundle_age_ms: int | None
    payload_bytes: int


def decode(data: bytes) -> Bundle:
    return _decode(data)


def encode(bundle: Bundle) -> bytes:
    return _encode(bundle)


def info(bundle: Bundle) -> Info:
    p = bundle.primary
    flags = BundleFlag(p.flags)
    hop = bundle.hop_count
    payload_len = len(bundle.payload)
    return Info(
        source=str(p.source),
        destination=str(p.destination),
        report_to=str(p.report_to),
        creation_time_ms=p.creation_time_ms,
        sequence=p.sequence,
        lifetime_ms=p.lifetime_ms,
        fragment_offset=p.fragment_offset if p.is_fragment else None,
        fragment_payload_bytes=payload_len if p.is_fragment else None,
        total_adu_length=p.total_adu_length if p.is_fragment else None,
        is_admin=bool(flags & BundleFlag.IS_ADMIN_RECORD),
        must_not_fragment=bool(flags & BundleFlag.MUST_NOT_FRAGMENT),
        report_bits=sum(bit for wire, bit in _WIRE_BITS if flags & wire),
        status_time_requested=bool(flags & BundleFlag.STATUS_TIME_REQUESTED),
        hop_limit=hop[0] if hop else None,
        hop_count=hop[1] if hop else 0,
        bundle_age_ms=bundle.bundle_age_ms,
        payload_bytes=payload_len,
    )


def key_of(i: Info) -> str:
    """The store key: `dtn.store.bundle_key` over the identity fields; a fragment is told apart by its offset
    and its own payload length (as `Bundle.id`), so overlapping fragments of one ADU never collide."""
    return bundle_key(i.source, i.creation_time_ms, i.sequence, i.fragment_offset, i.fragment_payload_bytes)


def payload(bundle: Bundle) -> bytes:
    return bytes(bundle.payload)


def reception_problems(bundle: Bundle) -> list[str]:
    """Problems that make a received bundle unprocessable (RFC 9171 §5.6 / §4): everything `validate()`
    reports except the two RFC 9173 Appendix A waivers, which BPSec policy decides on."""
    problems = bundle.validate()
    return [p for p in problems if "CRC type must not be 0" not in p and "Bundle Age" not in p]


def check_eid(text: str, what: str) -> None:
    try:
        parse_eid(text)
    except DecodeError as exc:
        raise DtnError(f"{what}: {exc.reason}") from None


def eid_node_number(text: str) -> int | None:
    """ipn:N.S -> N; dtn EIDs -> None. DecodeError if not an EID."""
    return parse_eid(text).node_number


def eid_node_name(text: str) -> str | None:
    eid = parse_eid(text)
    return getattr(eid, "node_name", None)


def is_null(text: str) -> bool:
    try:
        return parse_eid(text).is_null
    except DecodeError:
        return True


def create(
    *,
    source: str,
    destination: str,
    payload: bytes,
    creation_time_ms: int,
    sequence: int,
    lifetime_ms: int,
    report_to: str,
    report_bits: int,
    no_fragment: bool,
    crc_type: int,
    hop_limit: int | None,
    block_crc_type: int | None = None,
) -> Bundle:
    """A new bundle; `crc_type` is the primary block's CRC, `block_crc_type` every other block's (default: the
    same). See `check_primary_crc` for the rule the primary must meet once security is applied."""
    flags = BundleFlag(0)
    for wire, bit in _WIRE_BITS:
        if report_bits & bit:
            flags |= wire
    if no_fragment:
        flags |= BundleFlag.MUST_NOT_FRAGMENT
    bundle = Bundle.create(
        source,
        destination,
        payload,
        creation_time_ms=creation_time_ms,
        sequence=sequence,
        lifetime_ms=lifetime_ms,
        report_to=report_to,
        flags=flags,
        crc_type=crc_type,
        hop_limit=hop_limit,
    )
    if block_crc_type is not None and block_crc_type != crc_type:
        import dataclasses

        from dtn.bpv7.crc import CrcType

        bundle = dataclasses.replace(
            bundle, blocks=tuple(dataclasses.replace(b, crc_type=CrcType(block_crc_type)) for b in bundle.blocks)
        )
    return bundle


def check_primary_crc(bundle: Bundle) -> None:
    """RFC 9171 §4.3.1: the primary block carries a CRC unless a BIB covers it (EncodeError otherwise)."""
    from dtn.bpv7.bundle import bib_targets
    from dtn.errors import EncodeError

    if int(bundle.primary.crc_type) == 0 and 0 not in bib_targets(bundle.blocks):
        raise EncodeError(
            "the primary block needs a CRC (primary_crc_type 1 or 2) unless a BIB covers it "
            "(RFC 9171 §4.3.1); no [security] rule signs the primary block of this bundle"
        )


def for_forwarding(bundle: Bundle, node_id: str, age_ms: int) -> Bundle:
    """RFC 9171 §4.4: previous node = this node; hop count + 1; bundle age updated when the bundle carries
    a Bundle Age block (required when the creation time is 0)."""
    out = bundle.with_previous_node(node_id)
    hop = bundle.hop_count
    if hop is not None:
        out = out.with_hop_count(hop[0], hop[1] + 1)
    if bundle.bundle_age_ms is not None or bundle.primary.creation_time_ms == 0:
        out = out.with_bundle_age_ms(max(0, age_ms))
    return out


def no_fragment(entry: StoredBundle) -> bool:
    return bool((entry.metadata or {}).get("nf")) or bool((entry.metadata or {}).get("adm"))


# -- administrative records (RFC 9171 §6) ------------------------------------------------------------------------


def status_report(
    *,
    subject: StoredBundle,
    kind_bit: int,
    reason: int,
    time_ms: int,
    source: str,
    destination: str,
    creation_time_ms: int,
    sequence: int,
    lifetime_ms: int,
    crc_type: int,
) -> Bundle:
    """A bundle carrying a status report about `subject` (RFC 9171 §6.1.1), built from the stored record so a
    bundle can be reported on after its bytes are gone (expiry, refusal). `time_ms` 0: no times asserted."""
    from dtn.bpv7 import admin

    stamp = time_ms or None
    report = admin.StatusReport(
        source=parse_eid(subject.source),
        creation_time_ms=subject.creation_time_ms,
        sequence=subject.sequence,
        reason=reason,
        received=bool(kind_bit & REPORT_RECEPTION),
        forwarded=bool(kind_bit & REPORT_FORWARDING),
        delivered=bool(kind_bit & REPORT_DELIVERY),
        deleted=bool(kind_bit & REPORT_DELETION),
        received_time_ms=stamp if kind_bit & REPORT_RECEPTION else None,
        forwarded_time_ms=stamp if kind_bit & REPORT_FORWARDING else None,
        delivered_time_ms=stamp if kind_bit & REPORT_DELIVERY else None,
        deleted_time_ms=stamp if kind_bit & REPORT_DELETION else None,
        fragment_offset=subject.fragment_offset,
        fragment_length=subject.payload_length if subject.fragment_offset is not None else None,
    )
    return Bundle.create(
        source,
        destination,
        admin.encode_admin_record(report),
        creation_time_ms=creation_time_ms,
        sequence=sequence,
        lifetime_ms=lifetime_ms,
        flags=BundleFlag.IS_ADMIN_RECORD,
        crc_type=crc_type or 1,  # reports are not signed, so never CRC type 0 (RFC 9171 §4.3.1)
    )


def read_admin(bundle: Bundle) -> dict[str, Any] | None:
    """A received administrative record as a plain dict (None if unreadable):
    `{"type": "status_report", "subject": key, "status": ["received", ...], "reason": name, "times_ms": {...}}`."""
    from dtn.bpv7 import admin

    try:
        record = admin.decode_admin_record(bundle.payload)
    except DtnError:
        return None
    if not isinstance(record, admin.StatusReport):
        return {"type": "admin", "record_type": record.record_type}
    status = [name for name, asserted, _ in record.assertions if asserted]
    times = {name: t for name, asserted, t in record.assertions if asserted and t is not None}
    reason = record.reason
    return {
        "type": "status_report",
        "subject": bundle_key(
            str(record.source), record.creation_time_ms, record.sequence, record.fragment_offset, record.fragment_length
        ),
        "status": status,
        "reason": reason.name.lower() if hasattr(reason, "name") else str(reason),
        "reason_code": int(reason),
        "times_ms": times,
    }


# -- fragmentation (RFC 9171 §5.8, §5.9) -------------------------------------------------------------------------


def fragment(bundle: Bundle, max_bundle_bytes: int) -> list[Bundle]:
    from dtn.bpv7 import fragment as frag

    return list(frag.fragment(bundle, max_bundle_bytes))


class Reassembly:
    """Fragments of one ADU collected at its destination; `add` returns the whole bundle once complete."""

    def __init__(self) -> None:
        from dtn.bpv7 import fragment as frag

        self._inner = frag.Reassembler()
        self._keys: list[str] = []

    def add(self, key: str, bundle: Bundle) -> Bundle | None:
        if key not in self._keys:
            self._keys.append(key)
        return self._inner.add(bundle)

    def forget(self, key: str) -> None:
        if key in self._keys:
            self._keys.remove(key)

    def keys(self) -> list[str]:
        return list(self._keys)


# -- routing -----------------------------------------------------------------------------------------------------


_ROUTER_PROTOTYPES: list[tuple[ContactPlan, int, Any]] = []


def make_router(plan: ContactPlan) -> Any:
    """A router of its own for one node. Nodes of one process that share a plan object (the digital twin) copy
    one prototype instead of each indexing the whole plan again."""
    from routing.cgr import Router

    plan.ensure_nodes()
    for known, n_contacts, prototype in _ROUTER_PROTOTYPES:
        if known is plan and n_contacts == len(plan.contacts):
            return prototype.copy()
    prototype = Router(plan)
    _ROUTER_PROTOTYPES.insert(0, (plan, len(plan.contacts), prototype))
    del _ROUTER_PROTOTYPES[4:]
    return prototype.copy()


def best_route(
    router: Any,
    source: int,
    destination: int,
    now_s: float,
    size_bytes: float,
    *,
    excluded: frozenset[int] = frozenset(),
    deadline_s: float | None = None,
) -> Any:
    """The best route, or None (also for a destination the plan does not know)."""
    try:
        routes = router.decide(source, destination, now_s, size_bytes, excluded=excluded, deadline_s=deadline_s)
    except RoutingError:
        return None
    return routes[0] if routes else None


def route_summary(route: Any) -> tuple:
    """What the store keeps of a route: the nodes and the first contact (for operators and restarts)."""
    c = route.first_contact
    return (tuple(route.nodes), (c.from_node, c.to_node, c.start_s, c.end_s), round(route.arrival_s, 6))


# -- BPSec -------------------------------------------------------------------------------------------------------


def make_security_policy(table: dict[str, Any], base_dir: pathlib.Path, node_id: str) -> Any:
    from dtn.bpsec.policy import SecurityPolicy

    return SecurityPolicy.from_table(table, base_dir=base_dir, node_id=node_id)


def entry_with(entry: StoredBundle, **changes: Any) -> StoredBundle:
    """A copy of a store entry with `changes`; its next hop and route are cleared unless given (a new key
    is computed from the identity fields)."""
    fields = {
        "source": entry.source,
        "creation_time_ms": entry.creation_time_ms,
        "sequence": entry.sequence,
        "destination": entry.destination,
        "expiry_s": entry.expiry_s,
        "fragment_offset": entry.fragment_offset,
        "payload_length": entry.payload_length,
        "retention": entry.retention,
        "received_s": entry.received_s,
        "size_bytes": entry.size_bytes,
        "metadata": dict(entry.metadata),
    }
    fields.update(changes)
    return StoredBundle(**fields)


def contact_name(contact: Any) -> str | None:
    """How events name a contact: "1->2@3600"."""
    if contact is None:
        return None
    return f"{contact.from_node}->{contact.to_node}@{contact.start_s:g}"
