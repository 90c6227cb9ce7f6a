"""Shared helpers for the store tests: records and payloads derived from a key, so any process can check them."""

from __future__ import annotations

import hashlib
import random

from dtn.store import StoredBundle


def entry(
    n: int,
    *,
    source: str = "ipn:1.0",
    destination: str = "ipn:2.1",
    expiry_s: float = 2e9,
    received_s: float | None = None,
    **kwargs,
) -> StoredBundle:
    return StoredBundle(
        source=source,
        creation_time_ms=764_000_000_000 + n,
        sequence=n % 7,
        destination=destination,
        expiry_s=expiry_s,
        received_s=float(n) if received_s is None else received_s,
        **kwargs,
    )


def payload(key: str, size: int) -> bytes:
    """Deterministic bytes for a key (what a crash-test child stored, recomputable by the parent)."""
    return random.Random(key).randbytes(size)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
