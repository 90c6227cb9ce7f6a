"""BPSec (RFC 9172) with the default security contexts of RFC 9173: BIB-HMAC-SHA2 and BCB-AES-GCM.

Pure: bytes and `dtn.bpv7.Bundle` values in, new values out; no I/O except reading key files in
`dtn.bpsec.keys`. See docs/bpsec.md.

    from dtn.bpsec import sign, verify, encrypt, decrypt
    signed = sign(bundle, key=key, security_source="ipn:2.0", targets=[0, 1])
    verify(signed, key)                      # raises SecurityError(reason_code=15) if tampered
"""

from dtn.bpsec.asb import AbstractSecurityBlock, decode_asb, encode_asb
from dtn.bpsec.cache import SecurityCache
from dtn.bpsec.constants import (
    AadScopeFlag,
    AesVariant,
    IntegrityScopeFlag,
    ReasonCode,
    SecurityContextId,
    ShaVariant,
)
from dtn.bpsec.confidentiality import decrypt, encrypt
from dtn.bpsec.processing import (
    KeyLookup,
    SecurityOperation,
    check_security_blocks,
    security_operations,
    sign,
    verify,
)

__all__ = [
    "AadScopeFlag",
    "AbstractSecurityBlock",
    "AesVariant",
    "IntegrityScopeFlag",
    "KeyLookup",
    "ReasonCode",
    "SecurityCache",
    "SecurityContextId",
    "SecurityOperation",
    "ShaVariant",
    "check_security_blocks",
    "decode_asb",
    "decrypt",
    "encode_asb",
    "encrypt",
    "security_operations",
    "sign",
    "verify",
]
