"""The default security contexts of RFC 9173: BIB-HMAC-SHA2 (§3) and BCB-AES-GCM (§4).

Pure functions over bytes: the canonical forms (IPPT, AAD), the cryptographic primitives from `cryptography`,
and the parameter sets as they appear in an abstract security block. Bundle-level rules live in
`dtn.bpsec.processing`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from dtn.bpsec.asb import MAX_UINT64, AbstractSecurityBlock, Parameter, encode_value, encode_value_head
from dtn.bpsec.constants import (
    CANONICAL_BLOCK_FLAGS_MASK,
    DEFAULT_AES_VARIANT,
    DEFAULT_SCOPE_FLAGS,
    DEFAULT_SHA_VARIANT,
    GCM_IV_MAX_BYTES,
    GCM_IV_MIN_BYTES,
    GCM_TAG_BYTES,
    PRIMARY_BLOCK_NUMBER,
    AadScopeFlag,
    AesVariant,
    BcbParameter,
    BibParameter,
    IntegrityScopeFlag,
    ReasonCode,
    ShaVariant,
)
from dtn.errors import CryptoInternalError, EncodeError, SecurityError

_HASHES: dict[ShaVariant, Callable[[], hashes.HashAlgorithm]] = {
    ShaVariant.HMAC_256_256: hashes.SHA256,
    ShaVariant.HMAC_384_384: hashes.SHA384,
    ShaVariant.HMAC_512_512: hashes.SHA512,
}
_AES_KEY_BYTES = {AesVariant.A128GCM: 16, AesVariant.A256GCM: 32}
_KEK_BYTES = (16, 24, 32)
# Plain ints for the hot paths (IntFlag arithmetic is slow); both scope flag sets share these bits.
_PRIMARY = int(IntegrityScopeFlag.PRIMARY_BLOCK)
_TARGET_HEADER = int(IntegrityScopeFlag.TARGET_HEADER)
_SECURITY_HEADER = int(IntegrityScopeFlag.SECURITY_HEADER)
_AES_KEY_BYTES_BY_INT = {int(k): v for k, v in _AES_KEY_BYTES.items()}
_AES_VARIANTS = {int(v): v for v in AesVariant}
_SHA_VARIANTS = {int(v): v for v in ShaVariant}
_DEFAULT_AES_VARIANT = int(DEFAULT_AES_VARIANT)
_ALL_SCOPE = int(AadScopeFlag.ALL)
_ALL_SCOPE_HEAD = bytes((_ALL_SCOPE,))  # a CBOR unsigned integer below 24 is its own head
_SHA_VARIANT_ID = int(BibParameter.SHA_VARIANT)
_BIB_WRAPPED_KEY_ID = int(BibParameter.WRAPPED_KEY)
_INTEGRITY_SCOPE_ID = int(BibParameter.INTEGRITY_SCOPE_FLAGS)
_IV_ID = int(BcbParameter.INITIALIZATION_VECTOR)
_AES_VARIANT_ID = int(BcbParameter.AES_VARIANT)
_BCB_WRAPPED_KEY_ID = int(BcbParameter.WRAPPED_KEY)
_AAD_SCOPE_ID = int(BcbParameter.AAD_SCOPE_FLAGS)
GCM_STREAM_MIN_BYTES = 192 * 1024
"""Targets this large are decrypted with the streaming API (see `gcm_decrypt`); measured crossover 160-224 KiB
(cryptography 50)."""
GCM_INTO_MIN_BYTES = 96 * 1024
"""Targets this large are encrypted with `encrypt_into` into a separate buffer (see `gcm_encrypt`)."""
_AES_BLOCK_BYTES = 16


def _failed(message: str) -> SecurityError:
    return SecurityError(message, reason_code=ReasonCode.FAILED_SECURITY_OPERATION)


# -- deterministic CBOR heads (RFC 8949 §4.2.1: shortest form) ------------------------------------------


def cbor_head(major: int, value: int) -> bytes:
    """The initial byte(s) of a CBOR item of major type `major` with argument `value`, shortest form."""
    mt = major << 5
    if value < 24:
        return bytes((mt | value,))
    if value < 0x100:
        return bytes((mt | 24, value))
    if value < 0x10000:
        return bytes((mt | 25,)) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes((mt | 26,)) + value.to_bytes(4, "big")
    return bytes((mt | 27,)) + value.to_bytes(8, "big")


def cbor_uint(value: int) -> bytes:
    return cbor_head(0, value)


def block_header(type_code: int, number: int, flags: int) -> bytes:
    """Canonical block header for the IPPT and AAD: type code, block number and block processing control
    flags, each a CBOR unsigned integer (RFC 9173 §3.7, §4.7.2); unassigned flag bits are zeroed (RFC 9172 §4)."""
    return _block_header(int(type_code), int(number), int(flags) & CANONICAL_BLOCK_FLAGS_MASK)


@functools.lru_cache(maxsize=1024)
def _block_header(type_code: int, number: int, flags: int) -> bytes:
    # A few (type, number, flags) triples recur on every bundle: encode each once.
    return cbor_uint(type_code) + cbor_uint(number) + cbor_uint(flags)


_KNOWN_IDS: dict[type[IntEnum], frozenset[int]] = {}


def _parameters(asb: AbstractSecurityBlock, known: type[IntEnum], context: str) -> dict[int, Any]:
    """The ASB's parameters by id, after checking that every id is `known` and none is repeated."""
    pairs = asb.parameters or ()
    params = dict(pairs)
    known_ids = _KNOWN_IDS.get(known)
    if known_ids is None:
        known_ids = _KNOWN_IDS[known] = frozenset(int(k) for k in known)
    if not params.keys() <= known_ids:
        raise _failed(f"{context}: unknown security context parameter ids {sorted(params.keys() - known_ids)}")
    if len(params) != len(pairs):
        raise _failed(f"{context}: a security context parameter is repeated")
    return params


def single_result(result_set: Iterable[Parameter], result_id: int, context: str, target: int) -> Any:
    """The one value of a target's security results, which must hold exactly that one result id."""
    result_set = tuple(result_set)
    if len(result_set) != 1 or result_set[0][0] != result_id:
        ids = [rid for rid, _ in result_set]
        raise _failed(f"{context}: target block {target} must have exactly one result of id {result_id}, has {ids}")
    return result_set[0][1]


# -- BIB-HMAC-SHA2, RFC 9173 §3 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HmacSha2Parameters:
    """BIB-HMAC-SHA2 security context parameters, RFC 9173 §3.3."""

    sha_variant: ShaVariant = DEFAULT_SHA_VARIANT
    scope_flags: int = DEFAULT_SCOPE_FLAGS
    wrapped_key: bytes | None = None

    def to_asb_parameters(self) -> tuple[Parameter, ...]:
        """Parameters in id order; SHA variant and scope are written even at their defaults, as RFC 9173
        Appendix A does."""
        params: list[Parameter] = [(BibParameter.SHA_VARIANT.value, int(self.sha_variant))]
        if self.wrapped_key is not None:
            params.append((BibParameter.WRAPPED_KEY.value, bytes(self.wrapped_key)))
        params.append((BibParameter.INTEGRITY_SCOPE_FLAGS.value, int(self.scope_flags)))
        return tuple(params)

    @classmethod
    def from_asb(cls, asb: AbstractSecurityBlock) -> HmacSha2Parameters:
        """Read and check the parameters of a received BIB; `SecurityError` (reason 15) when invalid.

        Unknown and repeated parameter ids are refused: RFC 9173 defines the whole set, and an ignored one
        would let a changed byte go unnoticed (a damaged scope id falls back to the default scope)."""
        params = _parameters(asb, BibParameter, "BIB-HMAC-SHA2")
        variant = params.get(_SHA_VARIANT_ID, int(DEFAULT_SHA_VARIANT))
        if type(variant) is not int or variant not in _HASHES:
            raise _failed(f"BIB-HMAC-SHA2: unknown SHA variant {variant!r} (5, 6 or 7)")
        scope = params.get(_INTEGRITY_SCOPE_ID, DEFAULT_SCOPE_FLAGS)
        if type(scope) is not int or scope < 0 or scope & ~int(IntegrityScopeFlag.ALL):
            raise _failed(f"BIB-HMAC-SHA2: invalid integrity scope flags {scope!r}")
        wrapped = params.get(_BIB_WRAPPED_KEY_ID)
        if wrapped is not None and not isinstance(wrapped, bytes):
            raise _failed("BIB-HMAC-SHA2: the wrapped key parameter must be a byte string")
        return cls(_SHA_VARIANTS[variant], scope, wrapped)


def ippt_parts(
    scope_flags: int,
    *,
    target_number: int,
    target_header: bytes,
    target_data: bytes,
    primary_block: bytes,
    security_header: bytes,
) -> list[bytes]:
    """The integrity-protected plaintext of RFC 9173 §3.7 as a list of byte strings to hash in order.

    `target_data` is the block-type-specific data of the target (for the primary block: its canonical
    encoding); `target_header` and `security_header` come from `block_header`. Kept as parts so that a large
    payload is hashed without being copied.
    """
    scope_flags = int(scope_flags)
    prefix = bytearray(cbor_uint(scope_flags))
    if target_number != PRIMARY_BLOCK_NUMBER:
        # The primary block and target header steps are skipped when the target is the primary block.
        if scope_flags & _PRIMARY:
            prefix += primary_block
        if scope_flags & _TARGET_HEADER:
            prefix += target_header
    if scope_flags & _SECURITY_HEADER:
        prefix += security_header
    prefix += cbor_head(2, len(target_data))  # the data is taken as a CBOR byte string, head included
    return [bytes(prefix), target_data]


def integrity_protected_plaintext(scope_flags: int, **kwargs: Any) -> bytes:
    """The IPPT of RFC 9173 §3.7 as one byte string (same arguments as `ippt_parts`)."""
    return b"".join(ippt_parts(scope_flags, **kwargs))


def hmac_sha2(variant: ShaVariant, key: bytes, parts: Iterable[bytes]) -> bytes:
    """HMAC-SHA2 over the concatenation of `parts`, RFC 9173 §3.8.1."""
    if not key:
        raise _failed("BIB-HMAC-SHA2: empty key")
    mac = hmac.HMAC(key, _HASHES[ShaVariant(variant)]())
    for part in parts:
        mac.update(part)
    return mac.finalize()


def verify_hmac_sha2(variant: ShaVariant, key: bytes, parts: Iterable[bytes], expected: Any) -> None:
    """Constant-time check of an expected HMAC, RFC 9173 §3.8.2; `SecurityError` (reason 15) on mismatch."""
    if not key:
        raise _failed("BIB-HMAC-SHA2: empty key")
    if not isinstance(expected, bytes):
        raise _failed("BIB-HMAC-SHA2: the expected HMAC must be a byte string")
    mac = hmac.HMAC(key, _HASHES[ShaVariant(variant)]())
    for part in parts:
        mac.update(part)
    try:
        mac.verify(expected)
    except InvalidSignature:
        raise _failed("BIB-HMAC-SHA2: integrity check failed (HMAC mismatch)") from None


# -- BCB-AES-GCM, RFC 9173 §4 ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AesGcmParameters:
    """BCB-AES-GCM security context parameters, RFC 9173 §4.3."""

    iv: bytes
    aes_variant: AesVariant = DEFAULT_AES_VARIANT
    scope_flags: int = DEFAULT_SCOPE_FLAGS
    wrapped_key: bytes | None = None

    def to_asb_parameters(self) -> tuple[Parameter, ...]:
        """Parameters in id order, as RFC 9173 Appendix A writes them."""
        params: list[Parameter] = [
            (BcbParameter.INITIALIZATION_VECTOR.value, bytes(self.iv)),
            (BcbParameter.AES_VARIANT.value, int(self.aes_variant)),
        ]
        if self.wrapped_key is not None:
            params.append((BcbParameter.WRAPPED_KEY.value, bytes(self.wrapped_key)))
        params.append((BcbParameter.AAD_SCOPE_FLAGS.value, int(self.scope_flags)))
        return tuple(params)

    @classmethod
    def from_asb(cls, asb: AbstractSecurityBlock) -> AesGcmParameters:
        """Read and check the parameters of a received BCB; `SecurityError` (reason 15) when invalid (unknown
        and repeated parameter ids included, as for BIB-HMAC-SHA2)."""
        params = _parameters(asb, BcbParameter, "BCB-AES-GCM")
        iv = params.get(_IV_ID)
        if not isinstance(iv, bytes):
            raise _failed("BCB-AES-GCM: the initialization vector parameter is missing")
        if not GCM_IV_MIN_BYTES <= len(iv) <= GCM_IV_MAX_BYTES:
            raise _failed(f"BCB-AES-GCM: IV of {len(iv)} bytes (expected {GCM_IV_MIN_BYTES} to {GCM_IV_MAX_BYTES})")
        variant = params.get(_AES_VARIANT_ID, _DEFAULT_AES_VARIANT)
        if type(variant) is not int or variant not in _AES_VARIANTS:
            raise _failed(f"BCB-AES-GCM: unknown AES variant {variant!r} (1 or 3)")
        scope = params.get(_AAD_SCOPE_ID, DEFAULT_SCOPE_FLAGS)
        if type(scope) is not int or scope < 0 or scope & ~_ALL_SCOPE:
            raise _failed(f"BCB-AES-GCM: invalid AAD scope flags {scope!r}")
        wrapped = params.get(_BCB_WRAPPED_KEY_ID)
        if wrapped is not None and not isinstance(wrapped, bytes):
            raise _failed("BCB-AES-GCM: the wrapped key parameter must be a byte string")
        return cls(iv, _AES_VARIANTS[variant], scope, wrapped)


_BCB_AES_GCM_CONTEXT = 2  # SecurityContextId.BCB_AES_GCM (RFC 9173 §4.1)


@functools.lru_cache(maxsize=256)
def _bcb_asb_template(
    targets: tuple[int, ...], source_cbor: bytes, aes_variant: int, scope_flags: int, wrapped: bool
) -> tuple[bytes, bytes, bytes]:
    """A BCB-AES-GCM ASB around its variable parts, which go between these three pieces:

        before IV | IV item | up to the wrapped key | [wrapped key item] | up to the first tag (results head)

    The targets are checked as `encode_asb` checks them (errors are not cached)."""
    if not targets:
        raise EncodeError("abstract security block: security targets: at least one target is required")
    if len(set(targets)) != len(targets):
        raise EncodeError(f"abstract security block: security targets: duplicate block numbers in {list(targets)}")
    if any(type(t) is not int or not 0 <= t <= MAX_UINT64 for t in targets):
        raise EncodeError("abstract security block: security targets: block numbers must be unsigned integers")
    head = bytearray()
    encode_value(targets, head)
    head.append(_BCB_AES_GCM_CONTEXT)
    head.append(1)  # security context flags: parameters present (RFC 9172 §3.6)
    head += source_cbor
    head.append(0x84 if wrapped else 0x83)  # the parameter array, ids in order (RFC 9173 §4.3)
    head += b"\x82\x01"  # [1, IV]
    variant = bytearray(b"\x82\x02")  # [2, AES variant]
    encode_value(aes_variant, variant)
    if wrapped:
        variant += b"\x82\x03"  # [3, wrapped key]
    rest = bytearray(b"\x82\x04")  # [4, AAD scope flags]
    encode_value(scope_flags, rest)
    encode_value_head(4, len(targets), rest)  # the security results: one set per target
    return bytes(head), bytes(variant), bytes(rest)


def _bytes_item(value: bytes) -> bytes:
    size = len(value)
    return (bytes((0x40 | size,)) if size < 24 else cbor_head(2, size)) + value


_ONE_TAG_HEAD = b"\x81\x82\x01\x50"  # [[1, <16-byte string>]]: the one result of a target, its tag


def encode_bcb_asb(
    targets: tuple[int, ...],
    source_cbor: bytes,
    iv: bytes,
    aes_variant: int,
    scope_flags: int,
    wrapped_key: bytes | None,
    tags: Sequence[bytes],
) -> bytes:
    """The ASB of a BCB-AES-GCM block (RFC 9172 §3.6, RFC 9173 §4.3 and §4.4): byte for byte what
    `encode_asb` writes for `AbstractSecurityBlock(targets, 2, source, AesGcmParameters(iv, aes_variant,
    scope_flags, wrapped_key).to_asb_parameters(), ((1, tag),) per target)`, from a cached template.

    `source_cbor` is the deterministic CBOR encoding of the security source EID; `tags[i]` (16 bytes) is the
    authentication tag of `targets[i]`. Only the IV, the wrapped key and the tags change from one bundle to the
    next, so everything around them is encoded once per (targets, source, variant, scope)."""
    if len(tags) != len(targets) or any(type(t) is not bytes or len(t) != GCM_TAG_BYTES for t in tags):
        raise EncodeError("abstract security block: one 16-byte authentication tag per target is required")
    wrapped = wrapped_key is not None
    head, variant, rest = _bcb_asb_template(targets, source_cbor, int(aes_variant), int(scope_flags), wrapped)
    iv_item = _bytes_item(iv)
    if wrapped:
        out = head + iv_item + variant + _bytes_item(wrapped_key) + rest  # type: ignore[arg-type]  # not None
    else:
        out = head + iv_item + variant + rest
    for tag in tags:
        out += _ONE_TAG_HEAD + tag
    return out


def additional_authenticated_data(
    scope_flags: int, *, primary_block: bytes, target_header: bytes, security_header: bytes
) -> bytes:
    """The AAD of RFC 9173 §4.7.2: scope flags, then the primary block, target header and security header as
    the flags select."""
    scope_flags = int(scope_flags)
    if scope_flags == _ALL_SCOPE:  # the default: everything, in this order
        return _ALL_SCOPE_HEAD + primary_block + target_header + security_header
    aad = bytearray(cbor_uint(scope_flags))
    if scope_flags & _PRIMARY:
        aad += primary_block
    if scope_flags & _TARGET_HEADER:
        aad += target_header
    if scope_flags & _SECURITY_HEADER:
        aad += security_header
    return bytes(aad)


def check_aes_key(variant: AesVariant, key: bytes) -> None:
    expected = _AES_KEY_BYTES_BY_INT[int(variant)]
    if len(key) != expected:
        raise _failed(f"BCB-AES-GCM: {AesVariant(variant).name} needs a {expected}-byte key, got {len(key)} bytes")


class CipherCache:
    """Set-up AES ciphers (`AESGCM`, `algorithms.AES`) for long-term keys, kept for reuse: setting one up costs
    about as much as encrypting a few KiB. The caller owns it (`dtn.bpsec.SecurityCache`, held by a node's
    security policy) and passes it only with long-term keys, never with one-time content keys; it holds at most
    `max_keys` keys and is emptied when full. Nothing is cached in the module."""

    def __init__(self, max_keys: int = 16) -> None:
        self.max_keys = max_keys
        self._aesgcm: dict[bytes, AESGCM] = {}
        self._aes: dict[bytes, algorithms.AES] = {}

    def aesgcm(self, key: bytes) -> AESGCM:
        return self._get(self._aesgcm, key, AESGCM)

    def aes(self, key: bytes) -> algorithms.AES:
        return self._get(self._aes, key, algorithms.AES)

    def keys(self) -> set[bytes]:
        """The keys held now (tests check that no content key is among them)."""
        return set(self._aesgcm) | set(self._aes)

    def _get(self, cache: dict, key: bytes, make: Any) -> Any:
        found = cache.get(key)
        if found is None:
            found = make(key)
            if len(cache) >= self.max_keys:
                cache.clear()
            cache[key] = found
        return found


_HAS_ENCRYPT_INTO = hasattr(AESGCM, "encrypt_into")  # public API since cryptography 47


def _internal(operation: str, exc: Exception) -> CryptoInternalError:
    """Any failure of the crypto library other than a failed authentication: not the peer's doing."""
    return CryptoInternalError(f"{operation}: the crypto library failed: {type(exc).__name__}: {exc}")


def gcm_encrypt(
    variant: AesVariant,
    key: bytes,
    iv: bytes,
    plaintext: bytes | memoryview,
    aad: bytes,
    *,
    ciphers: CipherCache | None = None,
) -> tuple[bytes | memoryview, bytes]:
    """AES-GCM encryption, RFC 9173 §4.8.1: (ciphertext of the same length, 16-byte authentication tag).

    The ciphertext is a read-only view of the cipher's output buffer, so that a large payload is never copied:
    below `GCM_INTO_MIN_BYTES` the one-shot `AESGCM.encrypt` output, from there on (cryptography >= 47) a fresh
    zero-filled buffer, separate from the plaintext, that `AESGCM.encrypt_into` fills. `ciphers` (a
    `CipherCache`, only with a long-term key, used again and again) keeps the `AESGCM` object for the next call with the same key.
    Invalid parameters raise `SecurityError` (checked here, before the library is called); any failure of the
    library itself raises `CryptoInternalError`."""
    check_aes_key(variant, key)
    _check_iv(iv)
    size = len(plaintext)
    try:
        aead = ciphers.aesgcm(key) if ciphers is not None and type(key) is bytes else AESGCM(key)
        if size >= GCM_INTO_MIN_BYTES and _HAS_ENCRYPT_INTO:
            buffer = bytearray(size + GCM_TAG_BYTES)
            aead.encrypt_into(iv, plaintext, aad, buffer)  # ciphertext, then the tag
            output = memoryview(buffer).toreadonly()
            return output[:size], bytes(output[size:])
        sealed = aead.encrypt(iv, plaintext, aad)
    except Exception as exc:  # noqa: BLE001 - encryption has no authentication to fail: any error is ours
        raise _internal("BCB-AES-GCM encrypt", exc) from exc
    return memoryview(sealed)[:-GCM_TAG_BYTES], sealed[-GCM_TAG_BYTES:]


def _check_iv(iv: object) -> None:
    if not isinstance(iv, bytes) or not GCM_IV_MIN_BYTES <= len(iv) <= GCM_IV_MAX_BYTES:
        size = len(iv) if isinstance(iv, bytes) else type(iv).__name__
        raise _failed(f"BCB-AES-GCM: IV of {size} bytes (expected {GCM_IV_MIN_BYTES} to {GCM_IV_MAX_BYTES})")


def gcm_decrypt(
    variant: AesVariant,
    key: bytes,
    iv: bytes,
    ciphertext: bytes | memoryview,
    tag: Any,
    aad: bytes,
    *,
    ciphers: CipherCache | None = None,
) -> bytes | memoryview:
    """AES-GCM decryption, RFC 9173 §4.8.2; `SecurityError` (reason 15) when the tag does not authenticate
    (the library's `InvalidTag`, and only that) or the parameters are invalid; `CryptoInternalError` for any
    other failure of the crypto library. No plaintext is returned unless authentication succeeds; it is a
    read-only view of a fresh output buffer, never of the input.

    BPSec carries the tag in the BCB, apart from the ciphertext, while the one-shot `AESGCM.decrypt` wants
    ciphertext || tag in one buffer. Small targets are copied into such a buffer and decrypted with the one-shot
    call (the least fixed cost); from `GCM_STREAM_MIN_BYTES` on, the streaming `Cipher` API, which takes the tag
    separately, reads the ciphertext where it lies (a 1 MiB copy costs more than its set-up) and writes the
    plaintext into a separate zero-filled buffer with `update_into`. `ciphers` as for `gcm_encrypt`."""
    check_aes_key(variant, key)
    _check_iv(iv)
    if type(key) is not bytes:
        ciphers = None
    if not isinstance(tag, bytes) or len(tag) != GCM_TAG_BYTES:
        raise _failed("BCB-AES-GCM: the authentication tag must be a 16-byte string")
    size = len(ciphertext)
    try:
        if size >= GCM_STREAM_MIN_BYTES:
            algorithm = ciphers.aes(key) if ciphers is not None else algorithms.AES(key)
            decryptor = Cipher(algorithm, modes.GCM(iv, tag)).decryptor()
            decryptor.authenticate_additional_data(aad)
            # update_into wants room for a block more than it writes; a stream mode writes exactly `size`.
            buffer = bytearray(size + _AES_BLOCK_BYTES - 1)
            written = decryptor.update_into(ciphertext, buffer)
            decryptor.finalize()  # checks the tag; the plaintext is dropped unless it passes
            if written != size:
                raise CryptoInternalError(f"BCB-AES-GCM decrypt: the cipher wrote {written} bytes for {size}")
            return memoryview(buffer).toreadonly()[:size]
        sealed = bytearray(ciphertext)
        sealed += tag
        aead = ciphers.aesgcm(key) if ciphers is not None else AESGCM(key)
        plaintext = aead.decrypt(iv, sealed, aad)
    except InvalidTag:
        raise _failed("BCB-AES-GCM: decryption failed (authentication tag mismatch)") from None
    except CryptoInternalError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything but InvalidTag is a library failure, not a peer's
        raise _internal("BCB-AES-GCM decrypt", exc) from exc
    return memoryview(plaintext).toreadonly()


# -- AES key wrap (RFC 3394), RFC 9173 §3.3.2 and §4.3.3 ------------------------------------------------


def wrap_key(key_encryption_key: bytes, key: bytes) -> bytes:
    """AES key wrap of a content/integrity key with a key-encryption key (RFC 3394, no padding)."""
    if len(key_encryption_key) not in _KEK_BYTES:
        raise _failed(f"AES key wrap: the key-encryption key must be 16, 24 or 32 bytes, got {len(key_encryption_key)}")
    if len(key) < 16 or len(key) % 8:
        raise _failed(f"AES key wrap: the wrapped key must be a multiple of 8 bytes, at least 16 (got {len(key)})")
    try:
        return aes_key_wrap(key_encryption_key, key)
    except Exception as exc:  # noqa: BLE001 - the arguments were checked above: a failure here is the library's
        raise _internal("AES key wrap", exc) from exc


def unwrap_key(key_encryption_key: bytes, wrapped: bytes) -> bytes:
    """Inverse of `wrap_key`; `SecurityError` (reason 15) when the integrity check of RFC 3394 §2.2.3 fails."""
    if len(key_encryption_key) not in _KEK_BYTES:
        raise _failed(f"AES key wrap: the key-encryption key must be 16, 24 or 32 bytes, got {len(key_encryption_key)}")
    if len(wrapped) < 24 or len(wrapped) % 8:
        raise _failed(f"AES key wrap: a wrapped key of {len(wrapped)} bytes is malformed")
    try:
        return aes_key_unwrap(key_encryption_key, wrapped)
    except InvalidUnwrap:
        raise _failed("AES key unwrap failed (wrong key-encryption key or corrupted wrapped key)") from None
    except Exception as exc:  # noqa: BLE001 - only InvalidUnwrap is an integrity failure
        raise _internal("AES key unwrap", exc) from exc
