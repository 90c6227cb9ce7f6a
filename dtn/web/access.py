"""Who may change things through the web page: the holder of the node's secret, nobody else.

Reads are open (the page listens on loopback only). A request that changes state must carry
`Authorization: Bearer <secret>`; the comparison is constant-time. Without a configured secret every change is
refused. This is one small function so that the agent's own secret can be wired in the same way.
"""

from __future__ import annotations

import hmac
import pathlib

from dtn.errors import ConfigError


def load_secret(path: pathlib.Path | None) -> bytes | None:
    """The secret in a file (surrounding whitespace dropped), or None when no file is configured."""
    if path is None:
        return None
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the web secret file {path}: {exc.strerror or exc}", key="web.secret_file")
    if len(secret) < 16:
        raise ConfigError(f"the web secret in {path} is shorter than 16 bytes", key="web.secret_file")
    return secret


def may_change(authorization: str | None, secret: bytes | tuple[bytes, ...] | None) -> bool:
    """True when an Authorization header value carries `secret` (or one of several: the web secret and the
    node's agent token) as a bearer token."""
    if not secret or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = token.strip().encode("utf-8", "replace")
    secrets = (secret,) if isinstance(secret, bytes) else secret
    return any([hmac.compare_digest(given, s) for s in secrets])  # every comparison runs: no early exit
