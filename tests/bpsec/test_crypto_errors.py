"""Crypto library calls of dtn/bpsec/contexts.py: output never aliases input, and only a failed authentication
is a BPSec failure (reason 15); any other library failure is a `CryptoInternalError` (issue 14)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dtn.bpsec.constants import AesVariant, ReasonCode
from dtn.bpsec.contexts import GCM_INTO_MIN_BYTES, GCM_STREAM_MIN_BYTES, gcm_decrypt, gcm_encrypt, unwrap_key, wrap_key
from dtn.errors import CryptoInternalError, DtnError, SecurityError

KEY = bytes(range(32))
SIZES = [0, 1, 100, GCM_INTO_MIN_BYTES, GCM_STREAM_MIN_BYTES - 1, GCM_STREAM_MIN_BYTES, GCM_STREAM_MIN_BYTES + 5]


@pytest.mark.parametrize("size", SIZES)
def test_decrypt_writes_a_separate_buffer(size):
    plaintext, iv, aad = os.urandom(size), os.urandom(12), b"aad"
    sealed = AESGCM(KEY).encrypt(iv, plaintext, aad)
    ciphertext = bytearray(sealed[:-16])
    opened = gcm_decrypt(AesVariant.A256GCM, KEY, iv, memoryview(ciphertext), sealed[-16:], aad)
    assert bytes(opened) == plaintext
    ciphertext[:] = bytes(len(ciphertext))  # the caller reuses its input buffer: the plaintext must not change
    assert bytes(opened) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_encrypt_output_is_separate_from_the_plaintext(size):
    plaintext, iv = bytearray(os.urandom(size)), os.urandom(12)
    kept = bytes(plaintext)
    ciphertext, tag = gcm_encrypt(AesVariant.A256GCM, KEY, iv, memoryview(plaintext), b"")
    assert bytes(ciphertext) + tag == AESGCM(KEY).encrypt(iv, kept, b"")
    assert bytes(plaintext) == kept
    plaintext[:] = bytes(size)
    assert bytes(ciphertext) + tag == AESGCM(KEY).encrypt(iv, kept, b"")


@pytest.mark.parametrize("size", [10, GCM_STREAM_MIN_BYTES])
def test_only_a_tag_mismatch_is_reason_15(size):
    iv = os.urandom(12)
    sealed = AESGCM(KEY).encrypt(iv, bytes(size), b"")
    with pytest.raises(SecurityError) as info:
        gcm_decrypt(AesVariant.A256GCM, KEY, iv, sealed[:-16], bytes(16), b"")
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION
    assert not isinstance(info.value, CryptoInternalError)


@pytest.mark.parametrize("size", [10, GCM_STREAM_MIN_BYTES])
def test_other_library_failures_are_internal_errors(size):
    # An `aad` the library refuses (an int, not bytes): the library raises TypeError, not InvalidTag.
    iv = os.urandom(12)
    sealed = AESGCM(KEY).encrypt(iv, bytes(size), b"")
    with pytest.raises(CryptoInternalError) as info:
        gcm_decrypt(AesVariant.A256GCM, KEY, iv, sealed[:-16], sealed[-16:], 12345)  # type: ignore[arg-type]
    assert not isinstance(info.value, SecurityError)
    assert isinstance(info.value, DtnError)
    assert "crypto library failed" in str(info.value)
    with pytest.raises(CryptoInternalError):
        gcm_encrypt(AesVariant.A256GCM, KEY, iv, bytes(size), 12345)  # type: ignore[arg-type]


def test_invalid_parameters_are_checked_before_the_library():
    for iv in (b"", bytes(7), bytes(17)):
        with pytest.raises(SecurityError) as info:
            gcm_decrypt(AesVariant.A256GCM, KEY, iv, b"x", bytes(16), b"")
        assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION
        with pytest.raises(SecurityError):
            gcm_encrypt(AesVariant.A256GCM, KEY, iv, b"x", b"")


def test_key_unwrap_integrity_failure_is_reason_15():
    wrapped = bytearray(wrap_key(bytes(16), bytes(range(16))))
    assert unwrap_key(bytes(16), bytes(wrapped)) == bytes(range(16))
    wrapped[3] ^= 1
    with pytest.raises(SecurityError) as info:
        unwrap_key(bytes(16), bytes(wrapped))
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION
