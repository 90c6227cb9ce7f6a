"""BPSec processing on whole bundles, RFC 9172 §3 and §5, with the default security contexts of RFC 9173.

This module holds integrity (BIB-HMAC-SHA2: `sign`, `verify`) and what both services share (reading and
checking the security blocks of a bundle); confidentiality (BCB-AES-GCM: `encrypt`, `decrypt`) is
`dtn.bpsec.confidentiality`. `dtn.bpsec` exports all four.

Four operations, each taking a `Bundle` and returning a new one (nothing is changed in place):

    sign(bundle, key=..., security_source=..., targets=(1,))      add a BIB   (this node: security source)
    verify(bundle, key, accept=False)                             check BIBs  (verifier; acceptor if accept=True)
    encrypt(bundle, key=..., security_source=..., targets=(1,))   add BCB(s)  (this node: security source)
    decrypt(bundle, key)                                          open BCBs   (acceptor)

`key` on the receiving side is either the key bytes (used for every security block of that service) or a
`KeyLookup`: a callable given the decoded abstract security block that returns the key, or None when this node is
not to process that block (it is then left as it is). With the wrapped-key parameter of RFC 9173 the key is the
key-encryption key.

Every failure raises `SecurityError` whose `reason_code` is the RFC 9172 §11.2 bundle status report reason code
a node uses when it drops the bundle (see `ReasonCode`).

Known-answer tests inject the IV (`iv=`) and the wrapped content key (`content_key=`); otherwise they come from
`random_bytes` (os.urandom). With a random IV, each target gets its own BCB so that no (key, IV) pair is ever used
twice; an injected IV gives one BCB over all targets, exactly as RFC 9173 Appendix A.4 does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass

from dtn.bpsec.asb import AbstractSecurityBlock, decode_asb, encode_asb, encode_value
from dtn.bpsec.cache import SecurityCache
from dtn.bpsec.constants import (
    BCB_BLOCK_TYPE,
    BIB_BLOCK_TYPE,
    BLOCK_DISCARD_IF_UNPROCESSABLE,
    BLOCK_MUST_BE_REPLICATED,
    BLOCK_UNINTELLIGIBLE,
    BUNDLE_IS_FRAGMENT,
    PAYLOAD_BLOCK_NUMBER,
    PRIMARY_BLOCK_NUMBER,
    AesVariant,
    BibResult,
    IntegrityScopeFlag,
    ReasonCode,
    SecurityContextId,
    ShaVariant,
)
from dtn.bpsec.contexts import (
    HmacSha2Parameters,
    block_header,
    hmac_sha2,
    ippt_parts,
    single_result,
    unwrap_key,
    verify_hmac_sha2,
    wrap_key,
)
from dtn.bpv7.bundle import BlockFlag, Bundle, CanonicalBlock
from dtn.bpv7.codec import encode_primary
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import EID, parse_eid
from dtn.errors import DecodeError, EncodeError, SecurityError

KeyLookup = Callable[[AbstractSecurityBlock], "bytes | None"]
"""Given a security block's ASB, the key to process it with, or None when this node does not process it."""

_HASH_BYTES = {ShaVariant.HMAC_256_256: 32, ShaVariant.HMAC_384_384: 48, ShaVariant.HMAC_512_512: 64}
_AES_KEY_BYTES = {AesVariant.A128GCM: 16, AesVariant.A256GCM: 32}


def _conflict(message: str) -> SecurityError:
    return SecurityError(message, reason_code=ReasonCode.CONFLICTING_SECURITY_OPERATION)


def _failed(message: str) -> SecurityError:
    return SecurityError(message, reason_code=ReasonCode.FAILED_SECURITY_OPERATION)


@dataclass(frozen=True, slots=True)
class SecurityOperation:
    """One security operation, RFC 9172 §3.3: a service applied by one security block to one target."""

    service: str  # "integrity" (BIB) or "confidentiality" (BCB)
    block_number: int  # the security block carrying the operation
    target: int  # the target block number
    context_id: int
    source: EID


# -- reading the security blocks of a bundle ------------------------------------------------------------------


def _read_asb(block: CanonicalBlock) -> AbstractSecurityBlock:
    try:
        return decode_asb(bytes(block.data))
    except DecodeError as exc:
        kind = "BIB" if block.type == BIB_BLOCK_TYPE else "BCB"
        raise SecurityError(
            f"{kind} {block.number}: unreadable abstract security block: {exc.reason}",
            reason_code=BLOCK_UNINTELLIGIBLE,
        ) from None


def read_bcbs(bundle: Bundle) -> list[tuple[CanonicalBlock, AbstractSecurityBlock]]:
    """Every BCB with its decoded ASB; an unreadable one raises `SecurityError` (reason 8)."""
    return [(b, _read_asb(b)) for b in bundle.blocks if b.type == BCB_BLOCK_TYPE]


def encrypted_targets(bcbs: Iterable[tuple[CanonicalBlock, AbstractSecurityBlock]]) -> set[int]:
    """Block numbers some BCB encrypts."""
    return {t for _, asb in bcbs for t in asb.targets}


def read_bibs(bundle: Bundle, encrypted: set[int]) -> list[tuple[CanonicalBlock, AbstractSecurityBlock]]:
    """Every readable BIB with its decoded ASB. BIBs whose ASB is readable: an encrypted BIB (a BCB target) holds ciphertext and is skipped."""
    return [(b, _read_asb(b)) for b in bundle.blocks if b.type == BIB_BLOCK_TYPE and b.number not in encrypted]


def security_operations(bundle: Bundle) -> list[SecurityOperation]:
    """Every security operation in the bundle (operations inside encrypted BIBs are not visible)."""
    bcbs = read_bcbs(bundle)
    encrypted = encrypted_targets(bcbs)
    ops = [
        SecurityOperation("confidentiality", b.number, t, asb.context_id, asb.source)
        for b, asb in bcbs
        for t in asb.targets
    ]
    ops += [
        SecurityOperation("integrity", b.number, t, asb.context_id, asb.source)
        for b, asb in read_bibs(bundle, encrypted)
        for t in asb.targets
    ]
    return ops


def check_security_blocks(bundle: Bundle) -> list[str]:
    """Every violation of the RFC 9172 §3 block rules in a received bundle; empty when there is none."""
    try:
        bcbs = read_bcbs(bundle)
        encrypted = encrypted_targets(bcbs)
        bibs = read_bibs(bundle, encrypted)
    except SecurityError as exc:
        return [str(exc)]
    return _block_problems(bundle, bcbs, encrypted, bibs)


def _block_problems(bundle: Bundle, bcbs: SecurityBlocks, encrypted: set[int], bibs: SecurityBlocks) -> list[str]:
    """`check_security_blocks` on security blocks already read."""
    problems: list[str] = []
    blocks = bundle.blocks
    by_number = {b.number: b for b in blocks}  # every block number in the bundle but the primary block's (0)
    for block, asb in bcbs:
        if asb.reserved_flags:
            # RFC 9172 §3.6 defines bit 0 only; refusing the others keeps every bit of the block meaningful.
            problems.append(f"security block {block.number} sets reserved security context flags")
    for block, asb in bibs:
        if asb.reserved_flags:
            problems.append(f"security block {block.number} sets reserved security context flags")
    bcb_seen: dict[int, int] = {}
    for block, asb in bcbs:
        for target in asb.targets:
            if target in bcb_seen:
                problems.append(f"block {target} is the target of two BCBs ({bcb_seen[target]} and {block.number})")
            bcb_seen[target] = block.number
            if target == PRIMARY_BLOCK_NUMBER:
                problems.append(f"BCB {block.number} targets the primary block (RFC 9172 §3.8)")
            else:
                target_block = by_number.get(target)
                if target_block is None:
                    problems.append(f"BCB {block.number} targets block {target}, which is not in the bundle")
                elif target_block.type == BCB_BLOCK_TYPE:
                    problems.append(f"BCB {block.number} targets BCB {target} (RFC 9172 §3.8)")
        flags = int(block.flags)
        if not flags & BLOCK_MUST_BE_REPLICATED and PAYLOAD_BLOCK_NUMBER in asb.targets:
            problems.append(f"BCB {block.number} targets the payload but lacks the replicate-in-fragments flag")
        if flags & BLOCK_DISCARD_IF_UNPROCESSABLE:
            problems.append(f"BCB {block.number} has the discard-if-unprocessable flag (RFC 9172 §3.8)")
    bib_seen: dict[int, int] = {}
    for block, asb in bibs:
        for target in asb.targets:
            if target in bib_seen:
                problems.append(f"block {target} is the target of two BIBs ({bib_seen[target]} and {block.number})")
            bib_seen[target] = block.number
            if target != PRIMARY_BLOCK_NUMBER and target not in by_number:
                problems.append(f"BIB {block.number} targets block {target}, which is not in the bundle")
            elif target in by_number and by_number[target].type in (BIB_BLOCK_TYPE, BCB_BLOCK_TYPE):
                problems.append(f"BIB {block.number} targets security block {target} (RFC 9172 §3.7)")
    if not encrypted:
        return problems
    for bib_number in sorted(encrypted & {b.number for b in blocks if b.type == BIB_BLOCK_TYPE}):
        # RFC 9172 §3.8: a BIB is encrypted only together with some block it protects; its targets are hidden
        # now, so the check is that some other block is encrypted too (by this or another BCB).
        if not encrypted - {bib_number}:
            problems.append(f"BIB {bib_number} is encrypted but none of the blocks it could protect is")
    return problems


SecurityBlocks = list[tuple[CanonicalBlock, AbstractSecurityBlock]]
"""Security blocks with their decoded ASBs, as `read_bcbs` and `read_bibs` return them."""


def check_received(bundle: Bundle) -> tuple[SecurityBlocks, set[int], SecurityBlocks]:
    """Unreadable security blocks raise reason 8 (block unintelligible); rule violations reason 16.

    Returns what it read, `(bcbs, encrypted_targets, bibs)` as `read_bcbs`, `encrypted_targets` and
    `read_bibs` give them, so that callers do not parse the security blocks again."""
    bcbs: SecurityBlocks = []
    bib_blocks: list[CanonicalBlock] = []
    for block in bundle.blocks:  # one pass; BCBs are read (and fail) before BIBs, as read_bcbs/read_bibs do
        kind = block.type
        if kind == BCB_BLOCK_TYPE:
            bcbs.append((block, _read_asb(block)))
        elif kind == BIB_BLOCK_TYPE:
            bib_blocks.append(block)
    encrypted = {t for _, asb in bcbs for t in asb.targets}
    bibs = [(b, _read_asb(b)) for b in bib_blocks if b.number not in encrypted]
    problems = _block_problems(bundle, bcbs, encrypted, bibs)
    if problems:
        raise _conflict("; ".join(problems))
    return bcbs, encrypted, bibs


# -- helpers ----------------------------------------------------------------------------------------------------


def _as_eid(value: EID | str) -> EID:
    return value if isinstance(value, EID) else parse_eid(value)


def _encode_eid(eid: EID) -> bytes:
    """The deterministic CBOR encoding of an EID."""
    out = bytearray()
    try:
        encode_value(eid.to_cbor(), out)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"abstract security block: cannot encode the security source: {exc}") from None
    return bytes(out)


def _source_cbor(source: EID | str, cache: SecurityCache) -> bytes:
    """The CBOR encoding of a security source given as an EID or as text."""
    if type(source) is str:
        return cache.source_cbor(source, lambda text: cache.eid_cbor(_as_eid(text), _encode_eid))
    return cache.eid_cbor(_as_eid(source), _encode_eid)


def _check_targets(
    bundle: Bundle, targets: Sequence[int], service: str, numbers: Container[int] | None = None
) -> tuple[int, ...]:
    """`targets` as a tuple of ints after the checks every new security block needs. `numbers`: the bundle's
    block numbers when the caller has them already."""
    if int(bundle.primary.flags) & BUNDLE_IS_FRAGMENT:
        raise _conflict(f"cannot add a {service} block to a fragment (RFC 9172 §5.2)")
    targets = tuple(map(int, targets))
    if not targets:
        raise _conflict(f"a {service} block needs at least one target")
    if len(targets) > 1 and len(set(targets)) != len(targets):
        raise _conflict(f"duplicate targets in {list(targets)}")
    if numbers is None:
        numbers = {b.number for b in bundle.blocks}
    for target in targets:
        if target != PRIMARY_BLOCK_NUMBER and target not in numbers:
            raise _conflict(f"target block {target} is not in the bundle")
    return targets


def _next_numbers(bundle: Bundle, count: int, first: int | None) -> list[int]:
    return _free_numbers([b.number for b in bundle.blocks], count, first)


def _free_numbers(numbers: Iterable[int], count: int, first: int | None) -> list[int]:
    """`count` unused block numbers: `first` (when given; it must be free) and then the next ones after the
    highest number in use."""
    if first is None:
        start = max(PAYLOAD_BLOCK_NUMBER, *numbers) + 1
        return list(range(start, start + count))
    used = {*numbers, PRIMARY_BLOCK_NUMBER, PAYLOAD_BLOCK_NUMBER}
    if first is not None:
        if first in used:
            raise _conflict(f"block number {first} is already used")
        numbers = [first]
        used.add(first)
    else:
        numbers = []
    candidate = max(used) + 1
    while len(numbers) < count:
        numbers.append(candidate)
        candidate += 1
    return numbers


def _insert(blocks: list[CanonicalBlock], new: Sequence[CanonicalBlock], position: int | None) -> list[CanonicalBlock]:
    """New security blocks go first (after the primary block) unless a position is given; never after the payload."""
    if position is None:
        return [*new, *blocks]
    index = max(0, min(int(position), len(blocks)))
    payload_index = next((i for i, b in enumerate(blocks) if b.number == PAYLOAD_BLOCK_NUMBER), len(blocks))
    index = min(index, payload_index)
    return blocks[:index] + list(new) + blocks[index:]


def _key_for(key: bytes | KeyLookup, asb: AbstractSecurityBlock) -> bytes | None:
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    found = key(asb)
    return None if found is None else bytes(found)


def _session_key(key: bytes, wrapped: bytes | None) -> bytes:
    return key if wrapped is None else unwrap_key(key, wrapped)


def _target_data(bundle: Bundle, target: int, primary_bytes: bytes) -> tuple[bytes | memoryview, bytes]:
    """(data, header) of a target as the IPPT/AAD want them."""
    if target == PRIMARY_BLOCK_NUMBER:
        return primary_bytes, b""
    block = bundle.block_by_number(target)
    if block is None:
        raise _failed(f"security target block {target} is missing from the bundle")
    return block.data, block_header(int(block.type), block.number, int(block.flags))


def _encode_primary(primary) -> bytes:
    try:
        return encode_primary(primary)
    except EncodeError as exc:
        raise _failed(f"cannot form the canonical primary block: {exc}") from None


def _primary_bytes(bundle: Bundle, cache: SecurityCache) -> bytes:
    """The canonical primary block for the IPPT and AAD (the same from encrypt to decrypt: kept in `cache`)."""
    return cache.primary_bytes(bundle.primary, _encode_primary)


# -- BIB-HMAC-SHA2 ----------------------------------------------------------------------------------------------


def sign(
    bundle: Bundle,
    *,
    key: bytes,
    security_source: EID | str,
    targets: Sequence[int] = (PAYLOAD_BLOCK_NUMBER,),
    sha_variant: ShaVariant = ShaVariant.HMAC_384_384,
    scope_flags: int = IntegrityScopeFlag.ALL,
    wrap: bool = False,
    content_key: bytes | None = None,
    block_number: int | None = None,
    block_flags: int = 0,
    crc_type: CrcType = CrcType.NONE,
    position: int | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
    cache: SecurityCache | None = None,
) -> Bundle:
    """Add a BIB (BIB-HMAC-SHA2, RFC 9173 §3) over `targets` (block numbers; 0 is the primary block).

    With `wrap=True`, `key` is a key-encryption key: the HMAC key is `content_key` (random when None, as long as
    the hash) and travels AES-wrapped in the BIB. RFC 9172 rules enforced: no BIB on a fragment, no BIB over a
    security block or over a block that is already encrypted or already has a BIB (§3.2, §3.7, §3.9). Non-primary
    targets lose their CRC: the HMAC protects them now (RFC 9173 §3.8.1).
    """
    sha_variant = ShaVariant(sha_variant)
    scope_flags = int(scope_flags)
    if scope_flags & ~int(IntegrityScopeFlag.ALL) or scope_flags < 0:
        raise _conflict(f"invalid integrity scope flags {scope_flags:#x}")
    targets = _check_targets(bundle, targets, "BIB")
    bcbs = read_bcbs(bundle)
    encrypted = encrypted_targets(bcbs)
    protected = {t for _, asb in read_bibs(bundle, encrypted) for t in asb.targets}
    for target in targets:
        block = bundle.block_by_number(target)
        if block is not None and block.type in (BIB_BLOCK_TYPE, BCB_BLOCK_TYPE):
            raise _conflict(f"a BIB must not target security block {target} (RFC 9172 §3.7)")
        if target in encrypted:
            raise _conflict(f"block {target} is already encrypted: a BIB must not be added for it (RFC 9172 §3.9)")
        if target in protected:
            raise _conflict(f"block {target} already has a BIB: security operations are unique (RFC 9172 §3.2)")
    if not key:
        raise _failed("BIB-HMAC-SHA2: empty key")

    wrapped = None
    hmac_key = key
    if wrap:
        hmac_key = content_key if content_key is not None else random_bytes(_HASH_BYTES[sha_variant])
        wrapped = wrap_key(key, hmac_key)
    elif content_key is not None:
        raise _conflict("content_key is only used with wrap=True")
    params = HmacSha2Parameters(sha_variant, scope_flags, wrapped)
    (number,) = _next_numbers(bundle, 1, block_number)

    blocks = [
        dataclasses.replace(b, crc_type=CrcType.NONE) if b.number in targets and b.crc_type != CrcType.NONE else b
        for b in bundle.blocks
    ]
    bundle = bundle.with_blocks(blocks)
    primary = _primary_bytes(bundle, cache or SecurityCache())
    security_header = block_header(BIB_BLOCK_TYPE, number, block_flags)
    results = []
    for target in targets:
        data, header = _target_data(bundle, target, primary)
        parts = ippt_parts(
            scope_flags,
            target_number=target,
            target_header=header,
            target_data=data,
            primary_block=primary,
            security_header=security_header,
        )
        results.append(((BibResult.EXPECTED_HMAC.value, hmac_sha2(sha_variant, hmac_key, parts)),))
    asb = AbstractSecurityBlock(
        targets=targets,
        context_id=SecurityContextId.BIB_HMAC_SHA2.value,
        source=_as_eid(security_source),
        parameters=params.to_asb_parameters(),
        results=tuple(results),
    )
    bib = CanonicalBlock(BIB_BLOCK_TYPE, number, BlockFlag(block_flags), CrcType(crc_type), encode_asb(asb))
    return bundle.with_blocks(_insert(blocks, [bib], position))


def verify(
    bundle: Bundle,
    key: bytes | KeyLookup,
    *,
    accept: bool = False,
    drop_failed_blocks: bool = False,
    cache: SecurityCache | None = None,
) -> Bundle:
    """Verify the BIB operations this node has a key for (RFC 9172 §5.1.2, RFC 9173 §3.8.2).

    As a verifier (`accept=False`) the bundle comes back unchanged; as an acceptor the verified operations are
    removed, and a BIB left with none is removed. Operations whose target is encrypted, and encrypted BIBs, are
    not checked (RFC 9172 §3.9). A mismatch raises `SecurityError` (reason 15); a BIB of another security context
    that this node is asked to process raises reason 13.

    With `drop_failed_blocks`, an extension block that fails verification is removed with the security
    operations on it instead (RFC 9172 §5.1.2 recommends it); the payload and primary block always raise.
    """
    _, encrypted, bibs = check_received(bundle)
    primary: bytes | None = None
    replaced: dict[int, CanonicalBlock | None] = {}
    dropped: set[int] = set()
    for block, asb in bibs:
        found = _key_for(key, asb)
        if found is None:
            continue
        if asb.context_id != SecurityContextId.BIB_HMAC_SHA2:
            raise SecurityError(
                f"BIB {block.number}: unknown security context {asb.context_id}",
                reason_code=ReasonCode.UNKNOWN_SECURITY_OPERATION,
            )
        params = HmacSha2Parameters.from_asb(asb)
        hmac_key = _session_key(found, params.wrapped_key)
        if primary is None:
            primary = _primary_bytes(bundle, cache or SecurityCache())
        security_header = block_header(BIB_BLOCK_TYPE, block.number, int(block.flags))
        done: set[int] = set()
        for target, result_set in zip(asb.targets, asb.results):
            if target in encrypted:
                continue
            expected = single_result(result_set, BibResult.EXPECTED_HMAC, f"BIB {block.number}", target)
            data, header = _target_data(bundle, target, primary)
            parts = ippt_parts(
                params.scope_flags,
                target_number=target,
                target_header=header,
                target_data=data,
                primary_block=primary,
                security_header=security_header,
            )
            try:
                verify_hmac_sha2(params.sha_variant, hmac_key, parts, expected)
            except SecurityError as exc:
                if drop_failed_blocks and target not in (PRIMARY_BLOCK_NUMBER, PAYLOAD_BLOCK_NUMBER):
                    dropped.add(target)
                    continue
                raise _failed(f"BIB {block.number}, target block {target}: {exc}") from None
            done.add(target)
        if accept and done:
            rest = asb.without_targets(done)
            replaced[block.number] = None if rest is None else dataclasses.replace(block, data=encode_asb(rest))
    if not replaced and not dropped:
        return bundle
    blocks = [replaced.get(b.number, b) for b in bundle.blocks]
    return _drop_blocks(bundle.with_blocks(b for b in blocks if b is not None), dropped)


def _drop_blocks(bundle: Bundle, dropped: set[int]) -> Bundle:
    """Remove blocks and every readable security operation on them (RFC 9172 §5.1.1, §5.1.2)."""
    if not dropped:
        return bundle
    encrypted = encrypted_targets(read_bcbs(bundle))
    blocks = []
    for block in bundle.blocks:
        if block.number in dropped:
            continue
        if block.type in (BIB_BLOCK_TYPE, BCB_BLOCK_TYPE) and block.number not in encrypted:
            asb = _read_asb(block)
            if set(asb.targets) & dropped:
                rest = asb.without_targets(dropped)
                if rest is None:
                    continue
                block = dataclasses.replace(block, data=encode_asb(rest))
        blocks.append(block)
    return bundle.with_blocks(blocks)


# -- BCB-AES-GCM ------------------------------------------------------------------------------------------------
