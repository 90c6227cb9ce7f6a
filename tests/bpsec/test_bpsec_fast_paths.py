"""The fast paths of BCB-AES-GCM (dtn/bpsec/contexts.py, dtn/bpsec/processing.py): the cached ASB template,
the separate output buffers of large targets, the caches a caller owns (`SecurityCache`, by key and by
the wire form of each EID). Each must give exactly
what the plain path gives."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpsec.asb import AbstractSecurityBlock, decode_asb, encode_asb
from dtn.bpsec.constants import AesVariant, ReasonCode
from dtn.bpsec.contexts import (
    GCM_INTO_MIN_BYTES,
    GCM_STREAM_MIN_BYTES,
    AesGcmParameters,
    additional_authenticated_data,
    encode_bcb_asb,
    gcm_decrypt,
    gcm_encrypt,
    CipherCache,
)
from dtn.bpsec.cache import SecurityCache
from dtn.bpsec.confidentiality import decrypt, encrypt
from dtn.bpsec.processing import _encode_eid, _primary_bytes
from dtn.bpv7.bundle import BlockType, Bundle
from dtn.bpv7.codec import decode, encode, encode_primary
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DtnEID, IpnEID, parse_eid
from dtn.errors import EncodeError, SecurityError

KEY32 = bytes(range(32))

sources = st.one_of(
    st.builds(IpnEID.from_fqnn, st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    st.builds(
        lambda a, n, s: IpnEID(a, n, s, three_element=True),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**64 - 1),
    ),
    st.sampled_from([DtnEID("none"), parse_eid("dtn://node/app")]),
)


@given(
    targets=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=30, unique=True),
    source=sources,
    iv=st.binary(min_size=8, max_size=16),
    variant=st.sampled_from(list(AesVariant)),
    scope=st.integers(0, 7),
    wrapped=st.one_of(st.none(), st.binary(min_size=24, max_size=40)),
    data=st.data(),
)
def test_bcb_asb_template_matches_the_generic_encoder(targets, source, iv, variant, scope, wrapped, data):
    tags = [data.draw(st.binary(min_size=16, max_size=16)) for _ in targets]
    expected = encode_asb(
        AbstractSecurityBlock(
            targets=tuple(targets),
            context_id=2,
            source=source,
            parameters=AesGcmParameters(iv, variant, scope, wrapped).to_asb_parameters(),
            results=tuple(((1, tag),) for tag in tags),
        )
    )
    assert encode_bcb_asb(tuple(targets), _encode_eid(source), iv, variant, scope, wrapped, tags) == expected


def test_bcb_asb_template_refuses_what_encode_asb_refuses():
    source = _encode_eid(parse_eid("ipn:2.0"))
    for targets, tags in (
        ((), []),
        ((1, 1), [b"t" * 16] * 2),
        ((-1,), [b"t" * 16]),
        ((1,), [b"t" * 15]),
        ((1, 2), [b"t" * 16]),
    ):
        with pytest.raises(EncodeError):
            encode_bcb_asb(targets, source, b"i" * 12, 3, 7, None, tags)


def test_three_element_sources_and_primaries_keep_their_own_encoding():
    # An ipn EID equals its three-element form but encodes differently: caches must not mix them up.
    two = Bundle.create("ipn:2.1", "ipn:1.1", b"x" * 40, creation_time_ms=5, crc_type=CrcType.NONE)
    three = Bundle.create("ipn:0.2.1", "ipn:0.1.1", b"x" * 40, creation_time_ms=5, crc_type=CrcType.NONE)
    assert two.primary == three.primary and encode_primary(two.primary) != encode_primary(three.primary)
    cache = SecurityCache()
    for bundle in (two, three, two, three):
        assert _primary_bytes(bundle, cache) == encode_primary(bundle.primary)
    for text in ("ipn:2.0", "ipn:0.2.0", "ipn:2.0", "ipn:0.2.0"):
        encrypted = encrypt(two, key=KEY32, security_source=text, cache=cache)
        asb = decode_asb(bytes(encrypted.blocks_of(BlockType.BCB)[0].data))
        assert str(asb.source) == text
    for eid in (parse_eid("ipn:2.0"), parse_eid("ipn:0.2.0")):
        encrypted = encrypt(three, key=KEY32, security_source=eid)
        assert str(decode_asb(bytes(encrypted.blocks_of(BlockType.BCB)[0].data)).source) == str(eid)
        assert decrypt(decode(encode(encrypted)), KEY32).payload == b"x" * 40


@pytest.mark.parametrize(
    "size",
    [
        GCM_INTO_MIN_BYTES - 1,
        GCM_INTO_MIN_BYTES,
        GCM_STREAM_MIN_BYTES - 1,
        GCM_STREAM_MIN_BYTES,
        GCM_STREAM_MIN_BYTES + 17,
    ],
)
def test_large_targets_match_the_one_shot_calls(size):
    plaintext, iv, aad = os.urandom(size), os.urandom(12), os.urandom(40)
    sealed = AESGCM(KEY32).encrypt(iv, plaintext, aad)
    cache = CipherCache()
    for reuse in (False, True, True):
        ciphers = cache if reuse else None
        ciphertext, tag = gcm_encrypt(AesVariant.A256GCM, KEY32, iv, plaintext, aad, ciphers=ciphers)
        assert bytes(ciphertext) + tag == sealed
        opened = gcm_decrypt(AesVariant.A256GCM, KEY32, iv, sealed[:-16], sealed[-16:], aad, ciphers=ciphers)
        assert opened == plaintext
        assert memoryview(opened).readonly
        if size >= GCM_STREAM_MIN_BYTES:  # the over-allocated buffer's tail is zeroed, never left uninitialised
            assert bytes(memoryview(opened.obj)[size:]) == bytes(15)
        flipped = bytearray(sealed)
        flipped[size // 2] ^= 0x40
        with pytest.raises(SecurityError) as info:
            gcm_decrypt(AesVariant.A256GCM, KEY32, iv, bytes(flipped[:-16]), bytes(flipped[-16:]), aad, ciphers=ciphers)
        assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION


def test_large_payload_bundle_round_trip_and_tampering():
    payload = os.urandom(GCM_STREAM_MIN_BYTES * 2)
    bundle = Bundle.create("ipn:2.1", "ipn:1.1", payload, creation_time_ms=7, crc_type=CrcType.NONE)
    encrypted = encrypt(bundle, key=KEY32, security_source="ipn:2.0")
    assert bytes(encrypted.payload) != payload
    assert decrypt(encrypted, KEY32) == bundle
    wire = bytearray(encode(encrypted))
    assert decrypt(decode(bytes(wire)), KEY32).payload == payload
    wire[len(wire) // 2] ^= 1  # inside the ciphertext
    with pytest.raises(SecurityError) as info:
        decrypt(decode(bytes(wire)), KEY32)
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION


def test_cached_ciphers_never_mix_keys_and_content_keys_are_not_kept():
    other = bytes(reversed(KEY32))
    bundle = Bundle.create("ipn:2.1", "ipn:1.1", os.urandom(GCM_STREAM_MIN_BYTES), creation_time_ms=7)
    cache = SecurityCache()
    one = encrypt(bundle, key=KEY32, security_source="ipn:2.0", cache=cache)
    two = encrypt(bundle, key=other, security_source="ipn:2.0", cache=cache)
    assert decrypt(one, KEY32, cache=cache).payload == bundle.payload == decrypt(two, other, cache=cache).payload
    for encrypted, wrong in ((one, other), (two, KEY32)):
        with pytest.raises(SecurityError):
            decrypt(encrypted, wrong, cache=cache)
    for _ in range(3 * cache.ciphers.max_keys):
        wrapped = encrypt(bundle, key=other, security_source="ipn:2.0", wrap=True, cache=cache)
        assert decrypt(wrapped, other, cache=cache).payload == bundle.payload
    cached = cache.ciphers.keys()
    assert cached <= {KEY32, other}  # long-term keys only: no one-time content key stays in memory
    assert len(cached) <= cache.ciphers.max_keys


def test_interleaved_bundles_use_their_own_primary_block():
    bundles = [Bundle.create("ipn:2.1", f"ipn:{n}.1", b"p" * 64, creation_time_ms=n) for n in range(3, 7)]
    encrypted = [encrypt(b, key=KEY32, security_source="ipn:2.0") for b in bundles]
    for original, sealed in zip(reversed(bundles), reversed(encrypted)):
        assert decrypt(decode(encode(sealed)), KEY32).payload == original.payload
    aad = additional_authenticated_data(7, primary_block=b"P", target_header=b"T", security_header=b"S")
    assert aad == b"\x07PTS"


def test_unknown_aes_variant_is_a_security_error():
    bundle = Bundle.create("ipn:2.1", "ipn:1.1", b"x", creation_time_ms=7)
    for variant in (2, 99, None, [3]):
        with pytest.raises(SecurityError) as info:
            encrypt(bundle, key=KEY32, security_source="ipn:2.0", aes_variant=variant)
        assert info.value.reason_code == ReasonCode.CONFLICTING_SECURITY_OPERATION
