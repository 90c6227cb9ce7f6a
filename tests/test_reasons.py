"""dtn/reasons.py: one enum of status report reason codes for the whole stack, and its event-log names."""

from __future__ import annotations

from dtn.bpsec import ReasonCode
from dtn.bpv7.admin import StatusReasonCode as AdminCode
from dtn.reasons import StatusReasonCode, reason_name
from dtn.store import REASON_DEPLETED_STORAGE


def test_one_enum_everywhere():
    assert AdminCode is StatusReasonCode and ReasonCode is StatusReasonCode
    assert REASON_DEPLETED_STORAGE is StatusReasonCode.DEPLETED_STORAGE
    # RFC 9172 §11.2 names are aliases of the same members
    assert StatusReasonCode.FAILED_SECURITY_OPERATION is StatusReasonCode.FAILED_SECURITY_SERVICE
    assert [int(c) for c in StatusReasonCode] == list(range(17))


def test_event_names_are_the_ones_the_event_log_always_used():
    assert reason_name(0) == "no_information"
    assert reason_name(1) == "lifetime_expired"
    assert reason_name(2) == "unidirectional_link"
    assert reason_name(5) == "destination_unavailable"
    assert reason_name(StatusReasonCode.BLOCK_UNINTELLIGIBLE) == "block_unintelligible"
    assert reason_name(15) == "failed_security_service"
    assert reason_name(16) == "conflicting_security_services"
    assert reason_name(99) == "99"  # unassigned codes stay visible
