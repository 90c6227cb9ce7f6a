"""BPSec confidentiality on whole bundles: BCB-AES-GCM (RFC 9173 §4) under the rules of RFC 9172 §3 and §5.

    encrypt(bundle, key=..., security_source=..., targets=(1,))   add BCB(s)  (this node: security source)
    decrypt(bundle, key)                                          open BCBs   (acceptor)

Keys, errors and the optional `cache` as in `dtn.bpsec.processing` (integrity and the shared checks).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

from dtn.bpsec.asb import AbstractSecurityBlock, encode_asb
from dtn.bpsec.cache import SecurityCache
from dtn.bpsec.constants import (
    BCB_BLOCK_TYPE,
    BIB_BLOCK_TYPE,
    BLOCK_DISCARD_IF_UNPROCESSABLE,
    BLOCK_MUST_BE_REPLICATED,
    GCM_IV_BYTES,
    PAYLOAD_BLOCK_NUMBER,
    PRIMARY_BLOCK_NUMBER,
    AadScopeFlag,
    AesVariant,
    BcbResult,
    IntegrityScopeFlag,
    ReasonCode,
    SecurityContextId,
)
from dtn.bpsec.contexts import (
    HmacSha2Parameters,
    additional_authenticated_data,
    block_header,
    check_aes_key,
    encode_bcb_asb,
    gcm_decrypt,
    gcm_encrypt,
    single_result,
    wrap_key,
)
from dtn.bpsec.processing import (
    _AES_KEY_BYTES,
    KeyLookup,
    _check_targets,
    _conflict,
    _drop_blocks,
    _failed,
    _free_numbers,
    _insert,
    _key_for,
    _next_numbers,
    _primary_bytes,
    _session_key,
    _source_cbor,
    check_received,
    encrypted_targets,
    read_bcbs,
    read_bibs,
)
from dtn.bpv7.bundle import Bundle, CanonicalBlock
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import EID
from dtn.errors import SecurityError


def encrypt(
    bundle: Bundle,
    *,
    key: bytes,
    security_source: EID | str,
    targets: Sequence[int] = (PAYLOAD_BLOCK_NUMBER,),
    aes_variant: AesVariant = AesVariant.A256GCM,
    scope_flags: int = AadScopeFlag.ALL,
    iv: bytes | None = None,
    wrap: bool = False,
    content_key: bytes | None = None,
    block_number: int | None = None,
    block_flags: int = 0,
    crc_type: CrcType = CrcType.NONE,
    position: int | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
    cache: SecurityCache | None = None,
) -> Bundle:
    """Encrypt `targets` in place under BCB-AES-GCM (RFC 9173 §4) and add the BCB(s).

    RFC 9172 rules enforced: never the primary block or a BCB, never a block already encrypted (§3.2, §3.8), no
    BCB on a fragment (§5.2); the replicate-in-fragments flag is set when the payload is a target (§3.8). A BIB
    whose targets are all encrypted is encrypted too; a BIB covering only some of them is split and the part for
    the encrypted targets moved into a new BIB that is encrypted (§3.9) -- unless its scope binds its own block
    header, which a move would break: that raises `SecurityError`.

    With `wrap=True`, `key` is a key-encryption key and each BCB carries its own wrapped content key
    (`content_key`, random when None). With `iv=None` each target gets its own BCB and a fresh random IV; an
    explicit `iv` puts every target in one BCB (RFC 9173 Appendix A.4).
    """
    try:
        variant = _AES_VARIANT_OF.get(aes_variant)
    except TypeError:  # unhashable
        variant = None
    if variant is None:
        raise _conflict(f"unknown AES variant {aes_variant!r} (1: A128GCM, 3: A256GCM)")
    scope_flags = int(scope_flags)
    if scope_flags & ~_ALL_AAD_SCOPE or scope_flags < 0:
        raise _conflict(f"invalid AAD scope flags {scope_flags:#x}")
    block_flags = int(block_flags)
    if block_flags & BLOCK_DISCARD_IF_UNPROCESSABLE:
        raise _conflict("a BCB must not have the discard-if-unprocessable flag (RFC 9172 §3.8)")
    crc = _CRC_TYPES.get(crc_type)
    if crc is None:
        crc = CrcType(crc_type)  # ValueError for an unknown CRC type, as before
    blocks = bundle.blocks
    by_number = {b.number: b for b in blocks}
    targets = _check_targets(bundle, targets, "BCB", by_number)
    if iv is not None:
        iv = bytes(iv)
    if wrap:
        if content_key is not None:
            check_aes_key(variant, content_key)
        wrap_key(key, bytes(16))  # checks the key-encryption key's length before anything is changed
    else:
        if content_key is not None:
            raise _conflict("content_key is only used with wrap=True")
        check_aes_key(variant, key)

    for b in blocks:
        if b.type in _SECURITY_BLOCK_TYPES:
            has_security_blocks = True
            break
    else:
        has_security_blocks = False
    if has_security_blocks:
        blocks, all_targets = _encrypt_with_security_blocks(bundle, targets, position)
        by_number = {b.number: b for b in blocks}
    else:
        # No BIB or BCB yet: of the checks above only "not the primary block" can fail, and no BIB moves.
        if PRIMARY_BLOCK_NUMBER in targets:
            raise _conflict("a BCB must not target the primary block (RFC 9172 §3.8)")
        all_targets = targets

    groups = [all_targets] if iv is not None else [(t,) for t in all_targets]
    numbers = _free_numbers(by_number, len(groups), block_number)
    if cache is None:
        cache = SecurityCache()
    primary = _primary_bytes(bundle, cache)
    source_cbor = _source_cbor(security_source, cache)
    new_bcbs: list[CanonicalBlock] = []
    for group, number in zip(groups, numbers):
        flags = block_flags | (BLOCK_MUST_BE_REPLICATED if PAYLOAD_BLOCK_NUMBER in group else 0)
        group_iv = iv if iv is not None else random_bytes(GCM_IV_BYTES)
        cek = key
        wrapped = None
        if wrap:
            cek = content_key if content_key is not None else random_bytes(_AES_KEY_BYTES[variant])
            wrapped = wrap_key(key, cek)
        security_header = block_header(BCB_BLOCK_TYPE, number, flags)
        tags = []
        for target in group:
            block = by_number[target]
            aad = additional_authenticated_data(
                scope_flags,
                primary_block=primary,
                target_header=block_header(block.type, block.number, block.flags),
                security_header=security_header,
            )
            ciphertext, tag = gcm_encrypt(
                variant, cek, group_iv, block.data, aad, ciphers=None if wrap else cache.ciphers
            )
            # The ciphertext replaces the data; the target's CRC goes: AES-GCM authenticates it (RFC 9173 §4.8.1).
            by_number[target] = CanonicalBlock(block.type, block.number, block.flags, CrcType.NONE, ciphertext)
            tags.append(tag)
        asb = encode_bcb_asb(group, source_cbor, group_iv, variant, scope_flags, wrapped, tags)
        new_bcbs.append(CanonicalBlock(BCB_BLOCK_TYPE, number, cache.block_flag(flags), crc, asb))
    blocks = [by_number[b.number] for b in blocks]
    return Bundle(bundle.primary, tuple(_insert(blocks, new_bcbs, position)))


_AES_VARIANT_OF = {int(v): v for v in AesVariant}
_ALL_AAD_SCOPE = int(AadScopeFlag.ALL)
_SECURITY_BLOCK_TYPES = frozenset((BIB_BLOCK_TYPE, BCB_BLOCK_TYPE))
_CRC_TYPES = {int(c): c for c in CrcType}


def _encrypt_with_security_blocks(
    bundle: Bundle, targets: tuple[int, ...], position: int | None
) -> tuple[list[CanonicalBlock], tuple[int, ...]]:
    """`encrypt` on a bundle that has security blocks already: the RFC 9172 checks against them, and the BIBs
    to encrypt along (RFC 9172 §3.9). Returns the blocks (with any BIB split off) and every block to encrypt."""
    bcbs = read_bcbs(bundle)
    encrypted = encrypted_targets(bcbs)
    bibs = read_bibs(bundle, encrypted)
    bib_by_number = {b.number: (b, asb) for b, asb in bibs}
    for target in targets:
        block = bundle.block_by_number(target)
        if target == PRIMARY_BLOCK_NUMBER:
            raise _conflict("a BCB must not target the primary block (RFC 9172 §3.8)")
        if block.type == BCB_BLOCK_TYPE:
            raise _conflict(f"a BCB must not target BCB {target} (RFC 9172 §3.8)")
        if target in encrypted:
            raise _conflict(f"block {target} is already encrypted: security operations are unique (RFC 9172 §3.2)")
        if block.type == BIB_BLOCK_TYPE and target not in bib_by_number:
            raise _conflict(f"BIB {target} cannot be read")
    plain_targets = {t for t in targets if t not in bib_by_number}
    for target in targets:
        if target in bib_by_number and not set(bib_by_number[target][1].targets) & plain_targets:
            raise _conflict(f"BIB {target} shares no target with this BCB (RFC 9172 §3.8)")

    # RFC 9172 §3.9: BIBs over the blocks being encrypted are encrypted with them (split when partly covered).
    blocks = list(bundle.blocks)
    extra_bibs: list[int] = []
    new_bibs: list[CanonicalBlock] = []
    for bib, asb in bibs:
        if bib.number in targets:
            continue
        covered = set(asb.targets) & plain_targets
        if not covered:
            continue
        if covered == set(asb.targets):
            extra_bibs.append(bib.number)
            continue
        if asb.context_id == SecurityContextId.BIB_HMAC_SHA2:
            params = HmacSha2Parameters.from_asb(asb)
            binds_header = params.scope_flags & IntegrityScopeFlag.SECURITY_HEADER
        else:
            binds_header = True
        if binds_header:
            raise _conflict(
                f"BIB {bib.number} protects blocks {sorted(asb.targets)}; encrypting only {sorted(covered)} would "
                "need its results moved to a new BIB, but its integrity scope binds its own block header "
                "(RFC 9172 §3.9): encrypt all of its targets, or none"
            )
        (moved_number,) = _next_numbers(bundle.with_blocks(blocks + new_bibs), 1, None)
        moved = AbstractSecurityBlock(
            targets=tuple(t for t in asb.targets if t in covered),
            context_id=asb.context_id,
            source=asb.source,
            parameters=asb.parameters,
            results=tuple(r for t, r in zip(asb.targets, asb.results) if t in covered),
            reserved_flags=asb.reserved_flags,
        )
        kept = asb.without_targets(covered)
        blocks = [dataclasses.replace(b, data=encode_asb(kept)) if b.number == bib.number else b for b in blocks]
        new_bibs.append(CanonicalBlock(BIB_BLOCK_TYPE, moved_number, bib.flags, CrcType.NONE, encode_asb(moved)))
        extra_bibs.append(moved_number)
    if new_bibs:
        blocks = _insert(blocks, new_bibs, position)
    return blocks, tuple(extra_bibs) + targets  # BIBs first, as RFC 9173 Appendix A.4 lists them


def decrypt(
    bundle: Bundle, key: bytes | KeyLookup, *, drop_failed_blocks: bool = False, cache: SecurityCache | None = None
) -> Bundle:
    """Decrypt every BCB this node has a key for and remove it (acceptor, RFC 9172 §5.1.1, RFC 9173 §4.8.2).

    BCBs the key lookup declines stay as they are. A target that does not authenticate raises `SecurityError`
    (reason 15) and nothing is returned: the bundle is to be discarded. A BCB of another security context that
    this node is asked to process raises reason 13.

    With `drop_failed_blocks`, an extension block that does not decrypt is removed together with the security
    operations on it (RFC 9172 §5.1.1); a payload that does not decrypt always raises.
    """
    bcbs, _, _ = check_received(bundle)
    if not bcbs:
        return bundle
    if cache is None:
        cache = SecurityCache()
    primary: bytes | None = None
    by_number = {b.number: b for b in bundle.blocks}
    removed: set[int] = set()
    dropped: set[int] = set()
    for block, asb in bcbs:
        found = _key_for(key, asb)
        if found is None:
            continue
        if asb.context_id != _BCB_AES_GCM:
            raise SecurityError(
                f"BCB {block.number}: unknown security context {asb.context_id}",
                reason_code=ReasonCode.UNKNOWN_SECURITY_OPERATION,
            )
        params = cache.bcb_parameters(asb)
        cek = _session_key(found, params.wrapped_key)
        if primary is None:
            primary = _primary_bytes(bundle, cache)
        security_header = block_header(BCB_BLOCK_TYPE, block.number, block.flags)
        for target, result_set in zip(asb.targets, asb.results):
            if len(result_set) == 1 and result_set[0][0] == _AUTHENTICATION_TAG:
                tag = result_set[0][1]
            else:  # raises, with the details
                single_result(result_set, _AUTHENTICATION_TAG, f"BCB {block.number}", target)
            target_block = by_number[target]
            aad = additional_authenticated_data(
                params.scope_flags,
                primary_block=primary,
                target_header=block_header(target_block.type, target_block.number, target_block.flags),
                security_header=security_header,
            )
            try:
                plaintext = gcm_decrypt(
                    params.aes_variant,
                    cek,
                    params.iv,
                    target_block.data,
                    tag,
                    aad,
                    ciphers=cache.ciphers if cek is found else None,
                )
            except SecurityError as exc:
                if drop_failed_blocks and target != PAYLOAD_BLOCK_NUMBER:
                    dropped.add(target)
                    continue
                raise _failed(f"BCB {block.number}, target block {target}: {exc}") from None
            by_number[target] = CanonicalBlock(
                target_block.type, target_block.number, target_block.flags, target_block.crc_type, plaintext
            )
        removed.add(block.number)
    if not removed:
        return bundle
    opened = Bundle(bundle.primary, tuple([by_number[b.number] for b in bundle.blocks if b.number not in removed]))
    return _drop_blocks(opened, dropped)


_BCB_AES_GCM = int(SecurityContextId.BCB_AES_GCM)
_AUTHENTICATION_TAG = int(BcbResult.AUTHENTICATION_TAG)
