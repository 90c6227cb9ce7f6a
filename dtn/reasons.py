"""Bundle status report reason codes, RFC 9171 §6.1.1 and RFC 9172 §11.2: one enum for the whole stack.

It lives apart from the codec (`dtn.bpv7.admin` re-exports it) so that the store and the node can name a reason
without importing the codec.
"""

from __future__ import annotations

import enum


class StatusReasonCode(enum.IntEnum):
    """Bundle status report reason codes, RFC 9171 §6.1.1 (0-11) and RFC 9172 §11.2 (12-16)."""

    NO_ADDITIONAL_INFORMATION = 0
    LIFETIME_EXPIRED = 1
    FORWARDED_OVER_UNIDIRECTIONAL_LINK = 2
    TRANSMISSION_CANCELED = 3
    DEPLETED_STORAGE = 4
    DESTINATION_ENDPOINT_ID_UNAVAILABLE = 5
    NO_KNOWN_ROUTE = 6
    NO_TIMELY_CONTACT = 7
    BLOCK_UNINTELLIGIBLE = 8
    HOP_LIMIT_EXCEEDED = 9
    TRAFFIC_PARED = 10
    BLOCK_UNSUPPORTED = 11
    MISSING_SECURITY_SERVICE = 12
    UNKNOWN_SECURITY_SERVICE = 13
    UNEXPECTED_SECURITY_SERVICE = 14
    FAILED_SECURITY_SERVICE = 15
    CONFLICTING_SECURITY_SERVICES = 16
    # RFC 9172 §11.2 spells 12-16 "security operation": the same codes under those names.
    MISSING_SECURITY_OPERATION = 12
    UNKNOWN_SECURITY_OPERATION = 13
    UNEXPECTED_SECURITY_OPERATION = 14
    FAILED_SECURITY_OPERATION = 15
    CONFLICTING_SECURITY_OPERATION = 16

    @property
    def event_name(self) -> str:
        """The short name a node's event log gives this reason ("lifetime_expired", "no_information")."""
        return _SHORT_NAMES.get(self, self.name.lower())


_SHORT_NAMES = {
    StatusReasonCode.NO_ADDITIONAL_INFORMATION: "no_information",
    StatusReasonCode.FORWARDED_OVER_UNIDIRECTIONAL_LINK: "unidirectional_link",
    StatusReasonCode.DESTINATION_ENDPOINT_ID_UNAVAILABLE: "destination_unavailable",
}


def reason_name(code: int) -> str:
    """The event-log name of a reason code; the number as text when the code is unassigned."""
    try:
        return StatusReasonCode(code).event_name
    except ValueError:
        return str(code)
