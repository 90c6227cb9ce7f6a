"""RFC 9173 Appendix A, all four examples, byte for byte, at bundle level (dtn/bpsec/processing.py):
producing each final bundle from the original one, and verifying/decrypting it back."""

from __future__ import annotations

from dtn.bpsec.constants import AesVariant, ShaVariant
from dtn.bpsec.confidentiality import decrypt, encrypt
from dtn.bpsec.processing import security_operations, sign, verify
from dtn.bpv7.codec import decode, encode
from tests.bpsec import rfc9173_vectors as v


def test_vector_pieces_are_consistent():
    assert v.ORIGINAL_BUNDLE == b"\x9f" + v.PRIMARY + v.PAYLOAD_BLOCK + b"\xff"
    assert v.A1_BIB_BLOCK.endswith(v.A1_ASB) and v.A2_BCB_BLOCK.endswith(v.A2_ASB)
    assert v.A4_BCB_BLOCK.endswith(v.A4_BCB_ASB) and v.A3_BCB_BLOCK.endswith(v.A3_BCB_ASB)


def test_codec_keeps_the_appendix_bundles_byte_exact():
    for data in (v.ORIGINAL_BUNDLE, v.A1_BUNDLE, v.A2_BUNDLE, v.A3_ORIGINAL_BUNDLE, v.A3_BUNDLE, v.A4_BUNDLE):
        assert encode(decode(data)) == data


# -- A.1 simple integrity -----------------------------------------------------------------------------------


def test_a1_produce():
    signed = sign(
        decode(v.ORIGINAL_BUNDLE),
        key=v.A1_KEY,
        security_source="ipn:2.1",
        targets=[1],
        sha_variant=ShaVariant.HMAC_512_512,
        scope_flags=0,
    )
    assert encode(signed) == v.A1_BUNDLE


def test_a1_verify_and_accept():
    bundle = decode(v.A1_BUNDLE)
    assert verify(bundle, v.A1_KEY) is bundle  # a verifier leaves the BIB in place
    assert encode(verify(bundle, v.A1_KEY, accept=True)) == v.ORIGINAL_BUNDLE


# -- A.2 simple confidentiality with key wrap ---------------------------------------------------------------


def test_a2_produce():
    encrypted = encrypt(
        decode(v.ORIGINAL_BUNDLE),
        key=v.A2_KEY_ENCRYPTION_KEY,
        security_source="ipn:2.1",
        targets=[1],
        aes_variant=AesVariant.A128GCM,
        scope_flags=0,
        iv=v.A2_IV,
        wrap=True,
        content_key=v.A2_CONTENT_KEY,
    )
    assert encode(encrypted) == v.A2_BUNDLE


def test_a2_decrypt():
    assert encode(decrypt(decode(v.A2_BUNDLE), v.A2_KEY_ENCRYPTION_KEY)) == v.ORIGINAL_BUNDLE


# -- A.3 security blocks from multiple sources --------------------------------------------------------------


def test_a3_produce():
    at_source = encrypt(
        decode(v.A3_ORIGINAL_BUNDLE),
        key=v.A3_BCB_KEY,
        security_source="ipn:2.1",
        targets=[1],
        aes_variant=AesVariant.A128GCM,
        scope_flags=0,
        iv=v.A3_IV,
        block_number=4,
    )
    at_waypoint = sign(
        at_source,
        key=v.A3_BIB_KEY,
        security_source="ipn:3.0",
        targets=[0, 2],
        sha_variant=ShaVariant.HMAC_256_256,
        scope_flags=0,
        block_number=3,
    )
    assert encode(at_waypoint) == v.A3_BUNDLE


def test_a3_verify_and_decrypt_with_keys_chosen_by_security_source():
    keys = {"ipn:3.0": v.A3_BIB_KEY, "ipn:2.1": v.A3_BCB_KEY}

    def lookup(asb):
        return keys.get(str(asb.source))

    bundle = decode(v.A3_BUNDLE)
    assert {(op.service, op.target, str(op.source)) for op in security_operations(bundle)} == {
        ("confidentiality", 1, "ipn:2.1"),
        ("integrity", 0, "ipn:3.0"),
        ("integrity", 2, "ipn:3.0"),
    }
    accepted = decrypt(verify(bundle, lookup, accept=True), lookup)
    assert encode(accepted) == v.A3_ORIGINAL_BUNDLE


# -- A.4 full scope ------------------------------------------------------------------------------------------


def test_a4_produce():
    signed = sign(
        decode(v.ORIGINAL_BUNDLE),
        key=v.A4_BIB_KEY,
        security_source="ipn:2.1",
        targets=[1],
        sha_variant=ShaVariant.HMAC_384_384,
        scope_flags=7,
        block_number=3,
    )
    # Only the payload is named: the BIB over it is added to the BCB's targets (RFC 9172 §3.9).
    encrypted = encrypt(
        signed,
        key=v.A4_BCB_KEY,
        security_source="ipn:2.1",
        targets=[1],
        aes_variant=AesVariant.A256GCM,
        scope_flags=7,
        iv=v.A4_IV,
        block_number=2,
        position=1,
    )
    assert encode(encrypted) == v.A4_BUNDLE


def test_a4_decrypt_then_verify():
    decrypted = decrypt(decode(v.A4_BUNDLE), v.A4_BCB_KEY)
    assert decrypted.block_by_number(3).data == v.A4_BIB_ASB
    assert decrypted.payload == v.PAYLOAD
    verify(decrypted, v.A4_BIB_KEY)
    assert encode(verify(decrypted, v.A4_BIB_KEY, accept=True)) == v.ORIGINAL_BUNDLE
