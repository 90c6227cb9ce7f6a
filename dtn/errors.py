"""One exception hierarchy for the whole stack.

Every decoder, parser, config loader and protocol machine raises one of these; the CLI turns any
`DtnError` into one line on stderr and exit status 2.
"""

from __future__ import annotations


class DtnError(Exception):
    """Base of every error spacedtn raises on purpose."""


class DecodeError(DtnError):
    """Malformed wire data. `offset` is the byte offset where decoding failed (None if unknown)."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"decode error{where}: {reason}")


class EncodeError(DtnError):
    """A value that cannot be encoded (out of range, inconsistent)."""


class ProtocolError(DtnError):
    """A protocol violation. `reason_code` is the code to send to the peer, when the protocol has one."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        self.reason_code = reason_code
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """We misused a protocol machine (e.g. sent a message in the wrong state)."""


class RemoteProtocolError(ProtocolError):
    """The peer violated the protocol."""


class PlanFormatError(DtnError):
    """A contact plan file is malformed. Names the file, the line or JSON path, and the reason."""

    def __init__(self, reason: str, file: str | None = None, where: str | int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.where = where
        parts = [p for p in (file, None if where is None else str(where)) if p]
        prefix = ":".join(parts)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class PlanError(DtnError):
    """A contact plan is inconsistent, or a generation request is invalid."""


class RoutingError(DtnError):
    """A routing request is invalid (unknown node, negative size, ...)."""


class ConfigError(DtnError):
    """A configuration file is invalid. Names the key and the problem."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        self.reason = reason
        self.key = key
        super().__init__(f"{key}: {reason}" if key else reason)


class StoreError(DtnError):
    """The bundle store failed or refused. `reason_code` carries an RFC 9171 status report reason code
    (e.g. 4, depleted storage) when the refusal maps to one."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        self.reason_code = reason_code
        super().__init__(message)


class SecurityError(DtnError):
    """A BPSec operation failed (bad key, failed verification, forbidden target). `reason_code` is the
    RFC 9172 bundle deletion reason code to use."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        self.reason_code = reason_code
        super().__init__(message)


class CryptoInternalError(DtnError):
    """The crypto library failed in a way that is not an authentication failure (an unexpected exception, a
    missing feature, an environment problem). An internal error, not a BPSec failure: it is never reported to a
    peer as "failed security operation" (RFC 9172 reason 15), which only a tag or HMAC mismatch is."""


class ClaError(DtnError):
    """A convergence layer failed (connection refused, TLS failure, session closed)."""


class ClientError(DtnError):
    """The agent API refused a request, or the node could not be reached."""


class ScenarioError(DtnError):
    """A replay/simulation scenario, traffic or faults file is invalid."""
