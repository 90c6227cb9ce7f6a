"""dtn/bpv7/admin.py: bundle status reports (RFC 9171 §6.1.1)."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpv7 import Bundle, BundleFlag, decode, encode, parse_eid
from dtn.bpv7.admin import (
    AdministrativeRecord,
    StatusReasonCode,
    StatusReport,
    decode_admin_record,
    encode_admin_record,
    make_status_report_bundle,
)
from dtn.bpv7.testing import eids
from dtn.errors import DecodeError, EncodeError


def test_reason_codes_have_rfc_values():
    expected = {
        "NO_ADDITIONAL_INFORMATION": 0,
        "LIFETIME_EXPIRED": 1,
        "FORWARDED_OVER_UNIDIRECTIONAL_LINK": 2,
        "TRANSMISSION_CANCELED": 3,
        "DEPLETED_STORAGE": 4,
        "DESTINATION_ENDPOINT_ID_UNAVAILABLE": 5,
        "NO_KNOWN_ROUTE": 6,
        "NO_TIMELY_CONTACT": 7,
        "BLOCK_UNINTELLIGIBLE": 8,
        "HOP_LIMIT_EXCEEDED": 9,
        "TRAFFIC_PARED": 10,
        "BLOCK_UNSUPPORTED": 11,
        "MISSING_SECURITY_SERVICE": 12,
        "UNKNOWN_SECURITY_SERVICE": 13,
        "UNEXPECTED_SECURITY_SERVICE": 14,
        "FAILED_SECURITY_SERVICE": 15,
        "CONFLICTING_SECURITY_SERVICES": 16,
    }
    assert {c.name: c.value for c in StatusReasonCode} == expected


_TIME = st.one_of(st.none(), st.integers(min_value=0, max_value=1 << 50))


@st.composite
def status_reports(draw):
    flags = [draw(st.booleans()) for _ in range(4)]
    times = [draw(_TIME) if asserted else None for asserted in flags]
    fragment = draw(st.booleans())
    return StatusReport(
        source=draw(eids()),
        creation_time_ms=draw(st.integers(0, 1 << 50)),
        sequence=draw(st.integers(0, 1 << 40)),
        reason=draw(st.one_of(st.sampled_from(list(StatusReasonCode)), st.integers(17, 255))),
        received=flags[0],
        forwarded=flags[1],
        delivered=flags[2],
        deleted=flags[3],
        received_time_ms=times[0],
        forwarded_time_ms=times[1],
        delivered_time_ms=times[2],
        deleted_time_ms=times[3],
        fragment_offset=draw(st.integers(0, 1 << 30)) if fragment else None,
        fragment_length=draw(st.integers(0, 1 << 30)) if fragment else None,
    )


@given(status_reports())
def test_status_report_round_trip(report):
    assert decode_admin_record(encode_admin_record(report)) == report


def test_other_record_types_are_kept():
    record = AdministrativeRecord(3, cbor2.dumps([1, b"x"]))
    assert decode_admin_record(encode_admin_record(record)) == record


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\x01",
        cbor2.dumps([1]),
        cbor2.dumps([1, [[[True]] * 4, 0, [2, [1, 1]]]]),
        cbor2.dumps([1, [[[True]] * 3, 0, [2, [1, 1]], [0, 0]]]),
        cbor2.dumps([1, [[[False, 5], [False], [False], [False]], 0, [2, [1, 1]], [0, 0]]]),
        cbor2.dumps([1, [[[1], [False], [False], [False]], 0, [2, [1, 1]], [0, 0]]]),
        cbor2.dumps([1, [[[False]] * 4, "x", [2, [1, 1]], [0, 0]]]),
        cbor2.dumps([1, [[[False]] * 4, 0, [2, [1, 1]], [0, 0], 5]]),
        cbor2.dumps([1, [[[False]] * 4, 0, [2, [1, 1]], [0, 0]]]) + b"\x00",
    ],
)
def test_malformed_records_raise_decode_error(value):
    with pytest.raises(DecodeError):
        decode_admin_record(value)


def test_make_status_report_bundle():
    subject = Bundle.create(
        "ipn:1.1",
        "ipn:2.1",
        b"data",
        creation_time_ms=42,
        sequence=7,
        report_to="ipn:1.0",
        flags=BundleFlag.REPORT_DELIVERY | BundleFlag.STATUS_TIME_REQUESTED,
    )
    report_bundle = make_status_report_bundle(
        subject,
        source=parse_eid("ipn:2.0"),
        creation_time_ms=100,
        delivered=True,
        time_ms=99,
        reason=StatusReasonCode.NO_ADDITIONAL_INFORMATION,
    )
    assert report_bundle.is_admin_record and report_bundle.validate() == []
    assert str(report_bundle.primary.destination) == "ipn:1.0"
    report = decode_admin_record(decode(encode(report_bundle)).payload)
    assert report.delivered and report.delivered_time_ms == 99 and not report.received
    assert (str(report.source), report.creation_time_ms, report.sequence) == ("ipn:1.1", 42, 7)


def test_make_status_report_without_time_request_omits_time():
    subject = Bundle.create("ipn:1.1", "ipn:2.1", b"d", creation_time_ms=1, report_to="ipn:1.0")
    bundle = make_status_report_bundle(
        subject,
        source=parse_eid("ipn:2.0"),
        creation_time_ms=5,
        deleted=True,
        time_ms=99,
        reason=StatusReasonCode.HOP_LIMIT_EXCEEDED,
    )
    report = decode_admin_record(bundle.payload)
    assert report.deleted and report.deleted_time_ms is None and report.reason == StatusReasonCode.HOP_LIMIT_EXCEEDED


def test_make_status_report_refuses_null_report_to():
    subject = Bundle.create("ipn:1.1", "ipn:2.1", b"d", creation_time_ms=1)
    with pytest.raises(EncodeError):
        make_status_report_bundle(subject, source=parse_eid("ipn:2.0"), creation_time_ms=5, received=True)
