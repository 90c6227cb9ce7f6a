"""Wire codes of BPSec (RFC 9172) and its default security contexts (RFC 9173), named as in the RFCs."""

from __future__ import annotations

from enum import IntEnum, IntFlag

from dtn.reasons import StatusReasonCode

BIB_BLOCK_TYPE = 11
"""Block type code of the Block Integrity Block, RFC 9172 §11.1."""
BCB_BLOCK_TYPE = 12
"""Block type code of the Block Confidentiality Block, RFC 9172 §11.1."""

CANONICAL_BLOCK_FLAGS_MASK = 0x17
"""Block processing control flag bits RFC 9171 §4.2.4 assigns (bits 0, 1, 2 and 4). RFC 9172 §4: reserved and
unassigned bits are zero in a canonical form."""

BLOCK_MUST_BE_REPLICATED = 0x01
"""RFC 9171 §4.2.4 bit 0: block must be replicated in every fragment (a BCB over the payload sets it)."""
BLOCK_DISCARD_IF_UNPROCESSABLE = 0x10
"""RFC 9171 §4.2.4 bit 4: discard the block if it cannot be processed (a BCB must not set it, RFC 9172 §3.8)."""
BUNDLE_IS_FRAGMENT = 0x01
"""RFC 9171 §4.2.3 bundle processing control flag bit 0 (no security block may be added to a fragment)."""

PRIMARY_BLOCK_NUMBER = 0
PAYLOAD_BLOCK_NUMBER = 1
PAYLOAD_BLOCK_TYPE = 1


class SecurityContextId(IntEnum):
    """Security context identifiers, RFC 9173 §3.1 and §4.1 (IANA "BPSec Security Context Identifiers")."""

    BIB_HMAC_SHA2 = 1
    BCB_AES_GCM = 2


class SecurityContextFlag(IntFlag):
    """Security context flags of the abstract security block, RFC 9172 §3.6."""

    PARAMETERS_PRESENT = 0x01


class ShaVariant(IntEnum):
    """BIB-HMAC-SHA2 SHA variant parameter values, RFC 9173 §3.3.1 (COSE HMAC algorithm numbers)."""

    HMAC_256_256 = 5
    HMAC_384_384 = 6
    HMAC_512_512 = 7


class AesVariant(IntEnum):
    """BCB-AES-GCM AES variant parameter values, RFC 9173 §4.3.2 (COSE algorithm numbers)."""

    A128GCM = 1
    A256GCM = 3


class BibParameter(IntEnum):
    """BIB-HMAC-SHA2 security context parameter ids, RFC 9173 §3.3."""

    SHA_VARIANT = 1
    WRAPPED_KEY = 2
    INTEGRITY_SCOPE_FLAGS = 3


class BibResult(IntEnum):
    """BIB-HMAC-SHA2 security result ids, RFC 9173 §3.4."""

    EXPECTED_HMAC = 1


class BcbParameter(IntEnum):
    """BCB-AES-GCM security context parameter ids, RFC 9173 §4.3."""

    INITIALIZATION_VECTOR = 1
    AES_VARIANT = 2
    WRAPPED_KEY = 3
    AAD_SCOPE_FLAGS = 4


class BcbResult(IntEnum):
    """BCB-AES-GCM security result ids, RFC 9173 §4.4."""

    AUTHENTICATION_TAG = 1


class IntegrityScopeFlag(IntFlag):
    """BIB-HMAC-SHA2 integrity scope flags, RFC 9173 §3.3.3: what the IPPT binds besides the target data."""

    PRIMARY_BLOCK = 0x01
    TARGET_HEADER = 0x02
    SECURITY_HEADER = 0x04
    ALL = 0x07


class AadScopeFlag(IntFlag):
    """BCB-AES-GCM AAD scope flags, RFC 9173 §4.3.4: what the additional authenticated data binds."""

    PRIMARY_BLOCK = 0x01
    TARGET_HEADER = 0x02
    SECURITY_HEADER = 0x04
    ALL = 0x07


ReasonCode = StatusReasonCode
"""The status report reason codes (one enum for the whole stack; RFC 9172 §11.2 adds 12-16 to RFC 9171
§6.1.1, named `*_SECURITY_OPERATION` there)."""

BLOCK_UNINTELLIGIBLE = StatusReasonCode.BLOCK_UNINTELLIGIBLE
"""RFC 9171 §6.1.1 reason code used when a security block's ASB cannot be parsed at all."""

DEFAULT_SHA_VARIANT = ShaVariant.HMAC_384_384
"""RFC 9173 §3.3.1: the SHA variant assumed when the parameter is absent."""
DEFAULT_AES_VARIANT = AesVariant.A256GCM
"""RFC 9173 §4.3.2: the AES variant assumed when the parameter is absent."""
DEFAULT_SCOPE_FLAGS = 0x07
"""RFC 9173 §3.3.3 and §4.3.4: scope assumed when the parameter is absent (all additional data)."""
GCM_TAG_BYTES = 16
"""RFC 9173 §4.4.1: the authentication tag is 128 bits."""
GCM_IV_BYTES = 12
"""RFC 9173 §4.3.1: a 96-bit IV is what this implementation generates."""
GCM_IV_MIN_BYTES = 8
GCM_IV_MAX_BYTES = 16
"""IV lengths accepted on receipt (RFC 9173 §4.3.1 recommends 12 bytes)."""
