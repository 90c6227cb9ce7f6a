"""What BPSec processing keeps between calls, on an object the caller owns (never in module globals, never
keyed by `id()`): set-up ciphers for long-term keys, the CBOR form of security sources, canonical primary
blocks and parsed BCB parameters.

    cache = SecurityCache()                       # a node's security policy holds one
    sealed = encrypt(bundle, key=k, security_source="ipn:2.0", cache=cache)
    opened = decrypt(sealed, k, cache=cache)

Every entry is keyed by value, with the wire form of each EID (`EID.wire_key`) in the key: an ipn EID compares
equal to its three-element form but encodes differently. Each table is small and emptied when full; a result
that failed is never kept. Without a cache, the operations compute everything afresh (same results).
"""

from __future__ import annotations

from typing import Any, Callable

from dtn.bpsec.contexts import AesGcmParameters, CipherCache
from dtn.bpv7.bundle import BlockFlag, PrimaryBlock
from dtn.bpv7.eid import EID

_TABLE_ENTRIES = 256


class SecurityCache:
    """Per-caller memo tables for `dtn.bpsec.processing` (see module docstring)."""

    def __init__(self, *, max_keys: int = 16) -> None:
        self.ciphers = CipherCache(max_keys)
        self._eid_cbor: dict[tuple, bytes] = {}
        self._source_cbor: dict[str, bytes] = {}
        self._primary: dict[tuple, bytes] = {}
        self._bcb_parameters: dict[tuple, AesGcmParameters] = {}
        self._block_flags: dict[int, BlockFlag] = {}

    def eid_cbor(self, eid: EID, encode: Callable[[EID], bytes]) -> bytes:
        return _memo(self._eid_cbor, eid.wire_key, lambda: encode(eid))

    def source_cbor(self, text: str, encode: Callable[[str], bytes]) -> bytes:
        return _memo(self._source_cbor, text, lambda: encode(text))

    def primary_bytes(self, primary: PrimaryBlock, encode: Callable[[PrimaryBlock], bytes]) -> bytes:
        key = (primary, primary.destination.wire_key, primary.source.wire_key, primary.report_to.wire_key)
        return _memo(self._primary, key, lambda: encode(primary))

    def bcb_parameters(self, asb: Any) -> AesGcmParameters:
        return _memo(self._bcb_parameters, (asb, asb.source.wire_key), lambda: AesGcmParameters.from_asb(asb))

    def block_flag(self, value: int) -> BlockFlag:
        return _memo(self._block_flags, value, lambda: BlockFlag(value))


def _memo(table: dict, key: Any, make: Callable[[], Any]) -> Any:
    found = table.get(key)
    if found is None:
        found = make()  # raises: nothing kept
        if len(table) >= _TABLE_ENTRIES:
            table.clear()
        table[key] = found
    return found
