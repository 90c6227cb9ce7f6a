"""RFC 9173 security contexts at the byte level (dtn/bpsec/contexts.py): IPPT, AAD, HMAC, AES-GCM, key wrap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpsec.asb import decode_asb
from dtn.bpsec.constants import AesVariant, ReasonCode, ShaVariant
from dtn.bpsec.contexts import (
    AesGcmParameters,
    HmacSha2Parameters,
    additional_authenticated_data,
    block_header,
    cbor_head,
    gcm_decrypt,
    gcm_encrypt,
    hmac_sha2,
    integrity_protected_plaintext,
    ippt_parts,
    unwrap_key,
    verify_hmac_sha2,
    wrap_key,
)
from dtn.errors import SecurityError
from tests.bpsec import rfc9173_vectors as v


def test_a1_ippt_and_signature():
    ippt = integrity_protected_plaintext(
        0,
        target_number=1,
        target_header=block_header(1, 1, 0),
        target_data=v.PAYLOAD,
        primary_block=v.PRIMARY,
        security_header=block_header(11, 2, 0),
    )
    assert ippt == v.A1_IPPT
    assert hmac_sha2(ShaVariant.HMAC_512_512, v.A1_KEY, [ippt]) == v.A1_SIGNATURE
    verify_hmac_sha2(ShaVariant.HMAC_512_512, v.A1_KEY, [ippt], v.A1_SIGNATURE)


def test_a3_ippt_for_primary_and_age_block():
    common = dict(primary_block=v.PRIMARY, security_header=block_header(11, 3, 0))
    primary = integrity_protected_plaintext(0, target_number=0, target_header=b"", target_data=v.PRIMARY, **common)
    age = integrity_protected_plaintext(
        0, target_number=2, target_header=block_header(7, 2, 0), target_data=bytes.fromhex("19012c"), **common
    )
    assert primary == v.A3_PRIMARY_IPPT
    assert age == v.A3_AGE_IPPT
    assert hmac_sha2(ShaVariant.HMAC_256_256, v.A3_BIB_KEY, [primary]) == v.A3_PRIMARY_SIGNATURE
    assert hmac_sha2(ShaVariant.HMAC_256_256, v.A3_BIB_KEY, [age]) == v.A3_AGE_SIGNATURE


def test_a4_full_scope_ippt_and_signature():
    parts = ippt_parts(
        7,
        target_number=1,
        target_header=block_header(1, 1, 0),
        target_data=v.PAYLOAD,
        primary_block=v.PRIMARY,
        security_header=block_header(11, 3, 0),
    )
    assert b"".join(parts) == v.A4_BIB_IPPT
    assert parts[1] is v.PAYLOAD  # the payload itself is hashed in place, never copied
    assert hmac_sha2(ShaVariant.HMAC_384_384, v.A4_BIB_KEY, parts) == v.A4_BIB_SIGNATURE


def test_ippt_skips_primary_and_target_header_when_target_is_primary():
    ippt = integrity_protected_plaintext(
        7,
        target_number=0,
        target_header=b"XX",
        target_data=v.PRIMARY,
        primary_block=v.PRIMARY,
        security_header=block_header(11, 3, 0),
    )
    assert ippt == bytes([7]) + block_header(11, 3, 0) + bytes([0x58, len(v.PRIMARY)]) + v.PRIMARY


def test_block_header_zeroes_unassigned_flags():
    assert block_header(1, 1, 0xFF) == bytes([1, 1, 0x17])
    assert block_header(11, 300, 0) == bytes([11, 0x19, 0x01, 0x2C, 0])


def test_cbor_head_shortest_form():
    assert cbor_head(2, 23) == b"\x57"
    assert cbor_head(2, 24) == b"\x58\x18"
    assert cbor_head(2, 256) == b"\x59\x01\x00"
    assert cbor_head(2, 2**16) == b"\x5a\x00\x01\x00\x00"
    assert cbor_head(0, 2**32) == b"\x1b\x00\x00\x00\x01\x00\x00\x00\x00"


def test_a2_key_wrap_aad_and_encryption():
    assert wrap_key(v.A2_KEY_ENCRYPTION_KEY, v.A2_CONTENT_KEY) == v.A2_WRAPPED_KEY
    assert unwrap_key(v.A2_KEY_ENCRYPTION_KEY, v.A2_WRAPPED_KEY) == v.A2_CONTENT_KEY
    aad = additional_authenticated_data(0, primary_block=v.PRIMARY, target_header=b"x", security_header=b"y")
    assert aad == v.A2_AAD
    ciphertext, tag = gcm_encrypt(AesVariant.A128GCM, v.A2_CONTENT_KEY, v.A2_IV, v.PAYLOAD, aad)
    assert (ciphertext, tag) == (v.A2_CIPHERTEXT, v.A2_TAG)
    assert gcm_decrypt(AesVariant.A128GCM, v.A2_CONTENT_KEY, v.A2_IV, ciphertext, tag, aad) == v.PAYLOAD


def test_a4_aad_and_encryption_of_payload_and_bib():
    common = dict(primary_block=v.PRIMARY, security_header=block_header(12, 2, 1))
    payload_aad = additional_authenticated_data(7, target_header=block_header(1, 1, 0), **common)
    bib_aad = additional_authenticated_data(7, target_header=block_header(11, 3, 0), **common)
    assert payload_aad == v.A4_PAYLOAD_AAD and bib_aad == v.A4_BIB_AAD
    assert gcm_encrypt(AesVariant.A256GCM, v.A4_BCB_KEY, v.A4_IV, v.PAYLOAD, payload_aad) == (
        v.A4_PAYLOAD_CIPHERTEXT,
        v.A4_PAYLOAD_TAG,
    )
    assert gcm_encrypt(AesVariant.A256GCM, v.A4_BCB_KEY, v.A4_IV, v.A4_BIB_ASB, bib_aad) == (
        v.A4_BIB_CIPHERTEXT,
        v.A4_BIB_TAG,
    )


def test_parameters_from_rfc_asbs():
    assert HmacSha2Parameters.from_asb(decode_asb(v.A1_ASB)) == HmacSha2Parameters(ShaVariant.HMAC_512_512, 0)
    assert HmacSha2Parameters.from_asb(decode_asb(v.A1_ASB)).to_asb_parameters() == ((1, 7), (3, 0))
    a2 = AesGcmParameters.from_asb(decode_asb(v.A2_ASB))
    assert a2 == AesGcmParameters(v.A2_IV, AesVariant.A128GCM, 0, v.A2_WRAPPED_KEY)
    assert a2.to_asb_parameters() == decode_asb(v.A2_ASB).parameters
    a4 = AesGcmParameters.from_asb(decode_asb(v.A4_BCB_ASB))
    assert a4.to_asb_parameters() == decode_asb(v.A4_BCB_ASB).parameters


def _asb_with(parameters):
    from dtn.bpsec.asb import AbstractSecurityBlock

    return AbstractSecurityBlock((1,), 1, "ipn:1.1", parameters, ((),))


@pytest.mark.parametrize("parameters", [((1, 4),), ((1, "x"),), ((3, 8),), ((3, -1),), ((2, 5),)])
def test_invalid_bib_parameters(parameters):
    with pytest.raises(SecurityError) as info:
        HmacSha2Parameters.from_asb(_asb_with(parameters))
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION


@pytest.mark.parametrize(
    "parameters",
    [
        (),
        ((1, b"short"),),
        ((1, b"x" * 17),),
        ((1, b"x" * 12), (2, 2)),
        ((1, b"x" * 12), (4, 9)),
        ((1, b"x" * 12), (3, 1)),
    ],
)
def test_invalid_bcb_parameters(parameters):
    with pytest.raises(SecurityError):
        AesGcmParameters.from_asb(_asb_with(parameters))


def test_defaults_when_parameters_absent():
    assert HmacSha2Parameters.from_asb(_asb_with(None)) == HmacSha2Parameters(ShaVariant.HMAC_384_384, 7)
    assert AesGcmParameters.from_asb(_asb_with(((1, b"i" * 12),))).aes_variant == AesVariant.A256GCM


def test_failures_raise_security_error_with_reason_15():
    cases = [
        lambda: verify_hmac_sha2(ShaVariant.HMAC_512_512, v.A1_KEY, [v.A1_IPPT + b"!"], v.A1_SIGNATURE),
        lambda: verify_hmac_sha2(ShaVariant.HMAC_512_512, v.A1_KEY, [v.A1_IPPT], "nope"),
        lambda: verify_hmac_sha2(ShaVariant.HMAC_512_512, b"", [v.A1_IPPT], v.A1_SIGNATURE),
        lambda: gcm_decrypt(AesVariant.A128GCM, v.A2_CONTENT_KEY, v.A2_IV, v.A2_CIPHERTEXT, v.A2_TAG, b"\x01"),
        lambda: gcm_decrypt(AesVariant.A128GCM, v.A2_CONTENT_KEY, v.A2_IV, v.A2_CIPHERTEXT, v.A2_TAG[:8], b"\x00"),
        lambda: gcm_encrypt(AesVariant.A256GCM, v.A2_CONTENT_KEY, v.A2_IV, b"x", b""),
        lambda: unwrap_key(v.A2_CONTENT_KEY, v.A2_WRAPPED_KEY),
        lambda: unwrap_key(b"short", v.A2_WRAPPED_KEY),
        lambda: unwrap_key(v.A2_KEY_ENCRYPTION_KEY, b"x" * 20),
        lambda: wrap_key(v.A2_KEY_ENCRYPTION_KEY, b"x" * 12),
    ]
    for case in cases:
        with pytest.raises(SecurityError) as info:
            case()
        assert info.value.reason_code == 15


@given(
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
    plaintext=st.binary(max_size=300),
    aad=st.binary(max_size=50),
    flip=st.integers(min_value=0),
)
def test_gcm_round_trip_and_any_flip_fails(key, iv, plaintext, aad, flip):
    ciphertext, tag = gcm_encrypt(AesVariant.A256GCM, key, iv, plaintext, aad)
    assert len(ciphertext) == len(plaintext)
    assert gcm_decrypt(AesVariant.A256GCM, key, iv, ciphertext, tag, aad) == plaintext
    blob = bytearray(bytes(ciphertext) + tag + aad)
    bit = flip % (len(blob) * 8)
    blob[bit // 8] ^= 1 << (bit % 8)
    n = len(ciphertext)
    with pytest.raises(SecurityError):
        gcm_decrypt(AesVariant.A256GCM, key, iv, bytes(blob[:n]), bytes(blob[n : n + 16]), bytes(blob[n + 16 :]))
