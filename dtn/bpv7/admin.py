"""Administrative records, RFC 9171 §6.1: bundle status reports.

An administrative record is the payload of a bundle flagged IS_ADMIN_RECORD: the CBOR array
[record type code, record content]. Record type 1 is the bundle status report (§6.1.1):

    [[received], [forwarded], [delivered], [deleted], reason code, subject source, [subject time, seq],
     (subject fragment offset, subject payload length)]

inside the content array, where each status assertion is [false], [true] or [true, DTN time in ms] (the time is
present when the subject bundle requested STATUS_TIME_REQUESTED).
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from dtn.bpv7._cbor import MAJOR_ARRAY, head, loads_strict
from dtn.bpv7.bundle import STATUS_REPORT_FLAGS, Bundle, BundleFlag
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DTN_NONE, EID, eid_from_cbor
from dtn.errors import DecodeError, EncodeError
from dtn.reasons import StatusReasonCode, reason_name  # noqa: F401 (re-exported: the codes belong to §6.1.1)

RECORD_TYPE_STATUS_REPORT = 1


def reason_code(code: int) -> int:
    """`StatusReasonCode` when known, the plain int otherwise (unassigned codes are preserved)."""
    try:
        return StatusReasonCode(code)
    except ValueError:
        return code


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A bundle status report, RFC 9171 §6.1.1. A `*_time_ms` is DTN time and only meaningful when asserted."""

    source: EID
    creation_time_ms: int
    sequence: int
    reason: int = StatusReasonCode.NO_ADDITIONAL_INFORMATION
    received: bool = False
    forwarded: bool = False
    delivered: bool = False
    deleted: bool = False
    received_time_ms: int | None = None
    forwarded_time_ms: int | None = None
    delivered_time_ms: int | None = None
    deleted_time_ms: int | None = None
    fragment_offset: int | None = None
    fragment_length: int | None = None

    @property
    def assertions(self) -> list[tuple[str, bool, int | None]]:
        return [
            ("received", self.received, self.received_time_ms),
            ("forwarded", self.forwarded, self.forwarded_time_ms),
            ("delivered", self.delivered, self.delivered_time_ms),
            ("deleted", self.deleted, self.deleted_time_ms),
        ]


@dataclass(frozen=True, slots=True)
class AdministrativeRecord:
    """An administrative record of a type other than the status report: its code and raw CBOR content."""

    record_type: int
    content: bytes


def _assertion(asserted: bool, time_ms: int | None, name: str) -> list:
    if not asserted:
        if time_ms is not None:
            raise EncodeError(f"{name} has a time but is not asserted")
        return [False]
    return [True] if time_ms is None else [True, time_ms]


def encode_admin_record(record: StatusReport | AdministrativeRecord) -> bytes:
    """The payload bytes of an administrative record bundle."""
    if isinstance(record, AdministrativeRecord):
        return head(MAJOR_ARRAY, 2) + cbor2.dumps(record.record_type) + record.content
    content = [
        _assertion(record.received, record.received_time_ms, "received"),
        _assertion(record.forwarded, record.forwarded_time_ms, "forwarded"),
        _assertion(record.delivered, record.delivered_time_ms, "delivered"),
        _assertion(record.deleted, record.deleted_time_ms, "deleted"),
    ]
    content = [content, int(record.reason), record.source.to_cbor(), [record.creation_time_ms, record.sequence]]
    if (record.fragment_offset is None) != (record.fragment_length is None):
        raise EncodeError("a status report about a fragment needs both fragment_offset and fragment_length")
    if record.fragment_offset is not None:
        content += [record.fragment_offset, record.fragment_length]
    try:
        return cbor2.dumps([RECORD_TYPE_STATUS_REPORT, content])
    except (OverflowError, ValueError, TypeError, cbor2.CBOREncodeError) as exc:
        raise EncodeError(f"cannot encode status report: {exc}") from None


def _parse_assertion(value: object, name: str) -> tuple[bool, int | None]:
    if type(value) is not list or not 1 <= len(value) <= 2 or type(value[0]) is not bool:
        raise DecodeError(f"status assertion '{name}' must be [bool] or [true, time]")
    if len(value) == 2:
        if not value[0] or type(value[1]) is not int:
            raise DecodeError(f"status assertion '{name}' has a time but is not asserted, or a bad time")
        return True, value[1]
    return value[0], None


def decode_admin_record(payload: bytes | memoryview) -> StatusReport | AdministrativeRecord:
    """Decode an administrative record (the payload of an IS_ADMIN_RECORD bundle); DecodeError if malformed."""
    value = _loads_admin(payload)
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int:
        raise DecodeError("administrative record must be [record type code, record content]")
    record_type, content = value
    if record_type != RECORD_TYPE_STATUS_REPORT:
        return AdministrativeRecord(record_type, cbor2.dumps(content))
    if type(content) is not list or len(content) not in (4, 6):
        raise DecodeError("status report must have 4 items, or 6 when the subject is a fragment")
    info = content[0]
    # RFC 9171 §6.1.1: at least the four assertions; later ones (from future extensions) are ignored.
    if type(info) is not list or len(info) < 4:
        raise DecodeError("status report information must hold 4 status assertions")
    names = ("received", "forwarded", "delivered", "deleted")
    parsed = [_parse_assertion(item, name) for item, name in zip(info, names)]
    code = content[1]
    if type(code) is not int:
        raise DecodeError("status report reason code must be an unsigned integer")
    timestamp = content[3]
    if type(timestamp) is not list or len(timestamp) != 2 or any(type(t) is not int for t in timestamp):
        raise DecodeError("status report subject timestamp must be [DTN time, sequence]")
    fragment = content[4:6] if len(content) == 6 else [None, None]
    if any(f is not None and type(f) is not int for f in fragment):
        raise DecodeError("status report fragment offset/length must be unsigned integers")
    return StatusReport(
        source=eid_from_cbor(content[2]),
        creation_time_ms=timestamp[0],
        sequence=timestamp[1],
        reason=reason_code(code),
        received=parsed[0][0],
        forwarded=parsed[1][0],
        delivered=parsed[2][0],
        deleted=parsed[3][0],
        received_time_ms=parsed[0][1],
        forwarded_time_ms=parsed[1][1],
        delivered_time_ms=parsed[2][1],
        deleted_time_ms=parsed[3][1],
        fragment_offset=fragment[0],
        fragment_length=fragment[1],
    )


def _loads_admin(payload: bytes | memoryview) -> object:
    if not len(payload):
        raise DecodeError("empty administrative record")
    # Status assertions hold CBOR booleans, so booleans are allowed here (and checked field by field above).
    return loads_strict(payload, "administrative record", allow_bool=True)


def make_status_report_bundle(
    subject: Bundle,
    *,
    source: EID,
    creation_time_ms: int,
    received: bool = False,
    forwarded: bool = False,
    delivered: bool = False,
    deleted: bool = False,
    reason: int = StatusReasonCode.NO_ADDITIONAL_INFORMATION,
    time_ms: int | None = None,
    sequence: int = 0,
    lifetime_ms: int = 86_400_000,
    crc_type: CrcType = CrcType.CRC32C,
) -> Bundle:
    """A status report about `subject`, addressed to its report-to endpoint (RFC 9171 §6.1.1, §5.x).

    Times of the asserted items are included only if the subject requested STATUS_TIME_REQUESTED (then
    `time_ms`, the DTN time of the event, is required). Raises EncodeError when the subject's report-to is
    dtn:none. The report bundle itself requests no reports (RFC 9171 §4.2.3).
    """
    if subject.primary.report_to == DTN_NONE:
        raise EncodeError("the subject bundle's report-to endpoint is dtn:none: no status report can be sent")
    with_time = bool(subject.primary.flags & BundleFlag.STATUS_TIME_REQUESTED)
    if with_time and time_ms is None:
        raise EncodeError("the subject requested status times: pass time_ms")
    stamp = time_ms if with_time else None
    p = subject.primary
    report = StatusReport(
        source=p.source,
        creation_time_ms=p.creation_time_ms,
        sequence=p.sequence,
        reason=reason,
        received=received,
        forwarded=forwarded,
        delivered=delivered,
        deleted=deleted,
        received_time_ms=stamp if received else None,
        forwarded_time_ms=stamp if forwarded else None,
        delivered_time_ms=stamp if delivered else None,
        deleted_time_ms=stamp if deleted else None,
        fragment_offset=p.fragment_offset if p.is_fragment else None,
        fragment_length=len(subject.payload) if p.is_fragment else None,
    )
    flags = BundleFlag.IS_ADMIN_RECORD
    if source == DTN_NONE:
        flags |= BundleFlag.MUST_NOT_FRAGMENT
    return Bundle.create(
        source,
        p.report_to,
        encode_admin_record(report),
        creation_time_ms=creation_time_ms,
        sequence=sequence,
        lifetime_ms=lifetime_ms,
        flags=flags & ~STATUS_REPORT_FLAGS,
        crc_type=crc_type,
    )
