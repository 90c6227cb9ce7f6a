"""Bundle-level BPSec rules and properties (dtn/bpsec/processing.py), RFC 9172 §3 and §5."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dtn.bpsec.asb import decode_asb, encode_asb
from dtn.bpsec.constants import AesVariant, ReasonCode, ShaVariant
from dtn.bpsec.confidentiality import decrypt, encrypt
from dtn.bpsec.processing import (
    check_security_blocks,
    security_operations,
    sign,
    verify,
)
from dtn.bpv7.bundle import BlockFlag, BlockType, Bundle, CanonicalBlock
from dtn.bpv7.codec import decode, encode, encode_primary
from dtn.bpv7.crc import CrcType
from dtn.bpv7.testing import bundles
from dtn.errors import SecurityError
from tests.bpsec import rfc9173_vectors as v

KEY16 = bytes(range(16))
KEY32 = bytes(range(32))
SOURCE = "ipn:9.0"


def _no_crc(bundle: Bundle, numbers) -> Bundle:
    return bundle.with_blocks(
        dataclasses.replace(b, crc_type=CrcType.NONE) if b.number in numbers else b for b in bundle.blocks
    )


def _strict(key: bytes, source: str = SOURCE):
    """A policy-like key lookup: only blocks from the expected security source are acceptable."""

    def lookup(asb):
        if str(asb.source) != source:
            raise SecurityError(f"unexpected security source {asb.source}", reason_code=14)
        return key

    return lookup


def _original() -> Bundle:
    return decode(v.ORIGINAL_BUNDLE)


# -- RFC 9172 rules ------------------------------------------------------------------------------------------


def test_bcb_never_targets_the_primary_block():
    with pytest.raises(SecurityError, match="primary") as info:
        encrypt(_original(), key=KEY32, security_source=SOURCE, targets=[0])
    assert info.value.reason_code == ReasonCode.CONFLICTING_SECURITY_OPERATION


def test_bib_never_targets_a_security_block():
    signed = sign(_original(), key=KEY16, security_source=SOURCE)
    with pytest.raises(SecurityError, match="security block"):
        sign(signed, key=KEY16, security_source=SOURCE, targets=[2])
    encrypted = encrypt(_original(), key=KEY32, security_source=SOURCE)
    with pytest.raises(SecurityError, match="security block"):
        sign(encrypted, key=KEY16, security_source=SOURCE, targets=[2])


def test_bcb_never_targets_a_bcb_and_operations_are_unique():
    encrypted = encrypt(_original(), key=KEY32, security_source=SOURCE)
    with pytest.raises(SecurityError, match="BCB"):
        encrypt(encrypted, key=KEY32, security_source=SOURCE, targets=[2])
    with pytest.raises(SecurityError, match="already encrypted"):
        encrypt(encrypted, key=KEY32, security_source=SOURCE, targets=[1])
    with pytest.raises(SecurityError, match="already encrypted"):
        sign(encrypted, key=KEY16, security_source=SOURCE, targets=[1])
    signed = sign(_original(), key=KEY16, security_source=SOURCE)
    with pytest.raises(SecurityError, match="already has a BIB"):
        sign(signed, key=KEY16, security_source="ipn:8.0", targets=[1])


def test_no_security_block_on_a_fragment():
    bundle = _original().with_primary(flags=1, fragment_offset=0, total_adu_length=100)
    with pytest.raises(SecurityError, match="fragment"):
        sign(bundle, key=KEY16, security_source=SOURCE)
    with pytest.raises(SecurityError, match="fragment"):
        encrypt(bundle, key=KEY32, security_source=SOURCE)


def test_missing_target_and_bad_arguments():
    for call in (
        lambda: sign(_original(), key=KEY16, security_source=SOURCE, targets=[5]),
        lambda: sign(_original(), key=KEY16, security_source=SOURCE, targets=[]),
        lambda: sign(_original(), key=KEY16, security_source=SOURCE, targets=[1, 1]),
        lambda: sign(_original(), key=KEY16, security_source=SOURCE, scope_flags=8),
        lambda: sign(_original(), key=KEY16, security_source=SOURCE, block_number=1),
        lambda: encrypt(_original(), key=KEY32, security_source=SOURCE, block_flags=0x10),
        lambda: encrypt(_original(), key=KEY16, security_source=SOURCE),  # A256GCM needs 32 bytes
        lambda: encrypt(_original(), key=b"k" * 5, security_source=SOURCE, wrap=True),
    ):
        with pytest.raises(SecurityError):
            call()


def test_bcb_over_payload_sets_replicate_flag_and_drops_target_crc():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1000)
    encrypted = encrypt(bundle, key=KEY32, security_source=SOURCE)
    bcb = encrypted.blocks_of(BlockType.BCB)[0]
    assert bcb.flags & BlockFlag.REPLICATE_IN_FRAGMENTS
    assert encrypted.payload_block.crc_type == CrcType.NONE
    assert bytes(encrypted.payload) != b"hello"
    assert decrypt(decode(encode(encrypted)), KEY32).payload == b"hello"


def test_random_iv_gives_one_bcb_per_target_and_fresh_ivs():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1000, hop_limit=9)
    hop = bundle.block(BlockType.HOP_COUNT).number
    signed = sign(bundle, key=KEY16, security_source=SOURCE, targets=[1])
    encrypted = encrypt(signed, key=KEY32, security_source=SOURCE, targets=[1, hop])
    bcbs = [decode_asb(bytes(b.data)) for b in encrypted.blocks_of(BlockType.BCB)]
    assert sorted(len(a.targets) for a in bcbs) == [1, 1, 1]  # the BIB over the payload is encrypted too
    assert len({a.parameter(1) for a in bcbs}) == 3
    assert check_security_blocks(encrypted) == []
    back = verify(decrypt(encrypted, KEY32), KEY16, accept=True)
    assert back == _no_crc(bundle, {1, hop})


def test_wrapped_keys_round_trip():
    kek = bytes(range(100, 116))
    signed = sign(_original(), key=kek, security_source=SOURCE, wrap=True, sha_variant=ShaVariant.HMAC_256_256)
    encrypted = encrypt(signed, key=kek, security_source=SOURCE, wrap=True, aes_variant=AesVariant.A128GCM)
    wire = decode(encode(encrypted))
    assert verify(decrypt(wire, kek), kek, accept=True) == _original()
    with pytest.raises(SecurityError, match="unwrap"):
        decrypt(wire, bytes(16))


def test_partly_covered_bib_is_split_when_its_scope_allows():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1000, hop_limit=9, crc_type=CrcType.NONE)
    hop = bundle.block(BlockType.HOP_COUNT).number
    signed = sign(bundle, key=KEY16, security_source=SOURCE, targets=[0, hop, 1], scope_flags=3)
    encrypted = encrypt(signed, key=KEY32, security_source=SOURCE, targets=[1], iv=bytes(12))
    ops = security_operations(encrypted)
    integrity = sorted(op.target for op in ops if op.service == "integrity")
    confidentiality = sorted(op.target for op in ops if op.service == "confidentiality")
    assert integrity == [0, hop]  # the moved part is inside the encrypted, new BIB
    assert len(confidentiality) == 2 and 1 in confidentiality
    verify(encrypted, KEY16)
    opened = verify(decrypt(encrypted, KEY32), KEY16, accept=True)
    assert opened == bundle


def test_partly_covered_bib_binding_its_header_is_refused():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1000, hop_limit=9)
    hop = bundle.block(BlockType.HOP_COUNT).number
    signed = sign(bundle, key=KEY16, security_source=SOURCE, targets=[hop, 1])
    with pytest.raises(SecurityError, match="binds its own block header"):
        encrypt(signed, key=KEY32, security_source=SOURCE, targets=[1])
    # Encrypting every target of the BIB is fine: the whole BIB goes along.
    encrypt(signed, key=KEY32, security_source=SOURCE, targets=[1, hop])


def test_verifier_skips_encrypted_targets_and_keys_it_does_not_have():
    signed = sign(_original(), key=KEY16, security_source=SOURCE)
    assert verify(signed, lambda asb: None, accept=True) is signed
    assert decrypt(encrypt(signed, key=KEY32, security_source=SOURCE), lambda asb: None).blocks_of(BlockType.BCB)


def test_unknown_security_context_is_reason_13():
    signed = sign(_original(), key=KEY16, security_source=SOURCE)
    bib = signed.blocks_of(BlockType.BIB)[0]
    other = dataclasses.replace(decode_asb(bytes(bib.data)), context_id=99)
    changed = signed.with_blocks(
        dataclasses.replace(b, data=encode_asb(other)) if b is bib else b for b in signed.blocks
    )
    with pytest.raises(SecurityError) as info:
        verify(changed, KEY16)
    assert info.value.reason_code == ReasonCode.UNKNOWN_SECURITY_OPERATION


def test_malformed_asb_and_rule_violations_on_receipt():
    bad = _original().with_blocks([CanonicalBlock(11, 2, BlockFlag(0), CrcType.NONE, b"\x00"), *_original().blocks])
    with pytest.raises(SecurityError) as info:
        verify(bad, KEY16)
    assert info.value.reason_code == 8
    encrypted = encrypt(_original(), key=KEY32, security_source=SOURCE, iv=bytes(12))
    bcb = encrypted.blocks_of(BlockType.BCB)[0]
    asb = decode_asb(bytes(bcb.data))
    for changed_asb, flags in (
        (dataclasses.replace(asb, targets=(0,)), bcb.flags),
        (asb, BlockFlag(0)),
        (asb, BlockFlag(0x11)),
        (dataclasses.replace(asb, reserved_flags=2), bcb.flags),
    ):
        block = dataclasses.replace(bcb, data=encode_asb(changed_asb), flags=flags)
        changed = encrypted.with_blocks(block if b is bcb else b for b in encrypted.blocks)
        assert check_security_blocks(changed)
        with pytest.raises(SecurityError):
            decrypt(changed, KEY32)


# -- properties ----------------------------------------------------------------------------------------------

plain_bundles = bundles(max_payload_bytes=512, fragments=False)


@st.composite
def signed_cases(draw):
    bundle = draw(plain_bundles)
    numbers = [0] + [b.number for b in bundle.blocks]
    targets = draw(st.lists(st.sampled_from(numbers), min_size=1, unique=True))
    scope = draw(st.integers(0, 7))
    variant = draw(st.sampled_from(list(ShaVariant)))
    key = draw(st.binary(min_size=16, max_size=64))
    return bundle, targets, scope, variant, key


@st.composite
def encrypted_cases(draw):
    bundle = draw(plain_bundles)
    numbers = [b.number for b in bundle.blocks]
    targets = draw(st.lists(st.sampled_from(numbers), min_size=1, unique=True))
    scope = draw(st.integers(0, 7))
    variant = draw(st.sampled_from(list(AesVariant)))
    key = draw(
        st.binary(min_size=16, max_size=16) if variant == AesVariant.A128GCM else st.binary(min_size=32, max_size=32)
    )
    iv = draw(st.one_of(st.none(), st.binary(min_size=12, max_size=12)))
    return bundle, targets, scope, variant, key, iv


@given(signed_cases())
def test_sign_then_verify_round_trips(case):
    bundle, targets, scope, variant, key = case
    signed = sign(bundle, key=key, security_source=SOURCE, targets=targets, scope_flags=scope, sha_variant=variant)
    wire = decode(encode(signed))
    assert verify(wire, _strict(key)) is wire
    assert verify(wire, key, accept=True) == _no_crc(bundle, targets)


@given(encrypted_cases())
def test_encrypt_then_decrypt_round_trips(case):
    bundle, targets, scope, variant, key, iv = case
    encrypted = encrypt(
        bundle, key=key, security_source=SOURCE, targets=targets, scope_flags=scope, aes_variant=variant, iv=iv
    )
    wire = decode(encode(encrypted))
    for target in targets:
        plaintext = bytes(bundle.block_by_number(target).data)
        if len(plaintext) >= 8:  # shorter ciphertexts may equal their plaintext by chance
            assert bytes(wire.block_by_number(target).data) != plaintext
    assert decrypt(wire, _strict(key)) == _no_crc(bundle, targets)


@given(signed_cases(), st.data())
def test_sign_encrypt_decrypt_verify(case, data):
    bundle, targets, scope, variant, key = case
    signed = sign(bundle, key=key, security_source=SOURCE, targets=targets, scope_flags=scope, sha_variant=variant)
    candidates = [b.number for b in bundle.blocks]
    enc_targets = data.draw(st.lists(st.sampled_from(candidates), min_size=1, unique=True))
    try:
        encrypted = encrypt(signed, key=KEY32, security_source=SOURCE, targets=enc_targets)
    except SecurityError as exc:
        # Only a partly encrypted BIB whose scope binds its header may be refused (RFC 9172 §3.9).
        assert "binds its own block header" in str(exc)
        assume(False)
    wire = decode(encode(encrypted))
    assert check_security_blocks(wire) == []
    opened = verify(decrypt(wire, KEY32), key, accept=True)
    assert opened == _no_crc(bundle, set(targets) | set(enc_targets))


def _flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    bit %= len(changed) * 8
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _replace_block(bundle: Bundle, number: int, data: bytes) -> Bundle:
    return bundle.with_blocks(dataclasses.replace(b, data=data) if b.number == number else b for b in bundle.blocks)


def _flip_primary(bundle: Bundle, bit: int) -> Bundle | None:
    """The bundle with one bit of its (CRC-less) primary block flipped, or None if that no longer decodes (the
    codec has then caught the change) or still decodes to the same primary block."""
    bundle = bundle.with_primary(crc_type=CrcType.NONE)
    raw = encode(bundle)
    primary = encode_primary(bundle.primary)
    try:
        changed = decode(raw[:1] + _flip(primary, bit) + raw[1 + len(primary) :])
    except Exception:  # noqa: BLE001 - any decode failure means the flip was caught before BPSec
        return None
    return None if changed.primary == bundle.primary else changed


@given(signed_cases(), st.sampled_from(["target", "bib", "primary"]), st.integers(min_value=0))
def test_any_flipped_bit_fails_verification(case, where, bit):
    bundle, targets, scope, variant, key = case
    if where == "primary":
        assume(scope & 1 or 0 in targets)
        bundle = bundle.with_primary(crc_type=CrcType.NONE)
    signed = sign(bundle, key=key, security_source=SOURCE, targets=targets, scope_flags=scope, sha_variant=variant)
    bib = signed.blocks_of(BlockType.BIB)[0]
    if where == "target":
        target = targets[bit % len(targets)]
        if target == 0:
            tampered = _flip_primary(signed, bit // len(targets))
            assume(tampered is not None)
        else:
            data = bytes(signed.block_by_number(target).data)
            assume(data)
            tampered = _replace_block(signed, target, _flip(data, bit // len(targets)))
    elif where == "bib":
        tampered = _replace_block(signed, bib.number, _flip(bytes(bib.data), bit))
    else:
        tampered = _flip_primary(signed, bit)
        assume(tampered is not None)
    with pytest.raises(SecurityError):
        verify(tampered, _strict(key))


@given(encrypted_cases(), st.sampled_from(["target", "bcb", "primary"]), st.integers(min_value=0))
def test_any_flipped_bit_fails_decryption(case, where, bit):
    bundle, targets, scope, variant, key, iv = case
    if where == "primary":
        assume(scope & 1)
        bundle = bundle.with_primary(crc_type=CrcType.NONE)
    encrypted = encrypt(
        bundle, key=key, security_source=SOURCE, targets=targets, scope_flags=scope, aes_variant=variant, iv=iv
    )
    if where == "target":
        target = targets[bit % len(targets)]
        data = bytes(encrypted.block_by_number(target).data)
        assume(data)
        tampered = _replace_block(encrypted, target, _flip(data, bit // len(targets)))
    elif where == "bcb":
        bcbs = encrypted.blocks_of(BlockType.BCB)
        bcb = bcbs[bit % len(bcbs)]
        tampered = _replace_block(encrypted, bcb.number, _flip(bytes(bcb.data), bit // len(bcbs)))
    else:
        tampered = _flip_primary(encrypted, bit)
        assume(tampered is not None)
    with pytest.raises(SecurityError):
        decrypt(tampered, _strict(key))


def test_drop_failed_blocks_removes_a_bad_extension_block_only():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1000, hop_limit=9)
    hop = bundle.block(BlockType.HOP_COUNT).number
    signed = sign(bundle, key=KEY16, security_source=SOURCE, targets=[1, hop])
    tampered = _replace_block(signed, hop, _flip(bytes(signed.block_by_number(hop).data), 3))
    with pytest.raises(SecurityError):
        verify(tampered, KEY16)
    kept = verify(tampered, KEY16, drop_failed_blocks=True)
    assert kept.block_by_number(hop) is None
    assert [op.target for op in security_operations(kept)] == [1]
    bad_payload = _replace_block(signed, 1, b"HELLO")
    with pytest.raises(SecurityError):
        verify(bad_payload, KEY16, drop_failed_blocks=True)

    encrypted = encrypt(bundle, key=KEY32, security_source=SOURCE, targets=[1, hop])
    tampered = _replace_block(encrypted, hop, _flip(bytes(encrypted.block_by_number(hop).data), 3))
    opened = decrypt(tampered, KEY32, drop_failed_blocks=True)
    assert opened.block_by_number(hop) is None and opened.payload == b"hello"
    assert not opened.blocks_of(BlockType.BCB)
