"""The node's security policy (dtn/bpsec/policy.py) and key files (dtn/bpsec/keys.py), from real TOML and files."""

from __future__ import annotations

import tomllib

import pytest

from dtn.bpsec.constants import ReasonCode
from dtn.bpsec.keys import load_key_file, parse_key
from dtn.bpsec.policy import SecurityPolicy
from dtn.bpsec.processing import security_operations, sign
from dtn.bpv7.bundle import BlockType, Bundle
from dtn.bpv7.codec import decode, encode
from dtn.errors import ConfigError, SecurityError

SIGN_KEY = bytes(range(32))
ENC_KEY = bytes(range(100, 132))

CONFIG = """
[security]
on_failure = "discard"

[security.keys]
sat-hmac = "keys/sat-hmac.hex"
sat-aes = "keys/sat-aes.bin"

[[security.rules]]
name = "sign-from-sat"
service = "integrity"
roles = ["source", "verifier", "acceptor"]
bundle_source = "ipn:2.*"
security_source = "ipn:2.0"
key = "sat-hmac"
targets = ["primary", "payload"]
sha_variant = 512
required = true

[[security.rules]]
name = "encrypt-from-sat"
service = "confidentiality"
roles = ["source", "acceptor"]
bundle_source = "ipn:2.*"
bundle_destination = "ipn:1.*"
security_source = "ipn:2.0"
key = "sat-aes"
required = true
"""


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "sat-hmac.hex").write_text("# HMAC key for the satellite\n0x" + SIGN_KEY.hex() + "\n")
    (tmp_path / "keys" / "sat-aes.bin").write_bytes(ENC_KEY)
    return tmp_path


def _policy(config_dir, node_id, text=CONFIG):
    return SecurityPolicy.from_table(tomllib.loads(text)["security"], base_dir=config_dir, node_id=node_id)


def _bundle(src="ipn:2.1", dst="ipn:1.1", payload=b"telemetry frame 42"):
    return Bundle.create(src, dst, payload, creation_time_ms=5000, hop_limit=8)


def test_source_adds_bib_then_bcb_and_destination_accepts(config_dir):
    satellite = _policy(config_dir, "ipn:2.0")
    ground = _policy(config_dir, "ipn:1.0")
    relay = SecurityPolicy.from_table(None, base_dir=config_dir, node_id="ipn:3.0")

    sent = satellite.outbound(_bundle())
    ops = {(op.service, op.target) for op in security_operations(sent)}
    payload_bib = next(b.number for b in sent.blocks_of(BlockType.BIB) if ("confidentiality", b.number) in ops)
    # One BIB per target; the payload's BIB is encrypted along with the payload (RFC 9172 §3.9).
    assert ops == {("integrity", 0), ("confidentiality", 1), ("confidentiality", payload_bib)}
    assert bytes(sent.payload) != b"telemetry frame 42"
    assert satellite.outbound(sent) == sent  # idempotent: operations are unique

    wire = decode(encode(sent))
    assert relay.inbound(wire, is_local_destination=False) is wire  # no keys: passes unchanged
    in_transit = satellite.inbound(wire, is_local_destination=False)
    assert in_transit.blocks_of(BlockType.BCB)
    delivered = ground.inbound(wire, is_local_destination=True)
    assert delivered.payload == b"telemetry frame 42"
    assert not delivered.blocks_of(BlockType.BIB) and not delivered.blocks_of(BlockType.BCB)


def test_tampered_bundle_is_discarded_with_reason_15(config_dir):
    satellite = _policy(config_dir, "ipn:2.0")
    ground = _policy(config_dir, "ipn:1.0")
    sent = encode(satellite.outbound(_bundle()))
    tampered = bytearray(sent)
    tampered[-5] ^= 0x01  # inside the payload ciphertext (the payload block is last and has no CRC)
    with pytest.raises(SecurityError) as info:
        ground.inbound(decode(bytes(tampered)), is_local_destination=True)
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION


def test_missing_required_operation_is_reason_12(config_dir):
    ground = _policy(config_dir, "ipn:1.0")
    with pytest.raises(SecurityError) as info:
        ground.inbound(_bundle(), is_local_destination=True)
    assert info.value.reason_code == ReasonCode.MISSING_SECURITY_OPERATION
    # Signed by someone else (another security source): still missing.
    other = sign(_bundle(), key=SIGN_KEY, security_source="ipn:7.0", targets=[0, 1])
    with pytest.raises(SecurityError) as info:
        ground.inbound(other, is_local_destination=False)
    assert info.value.reason_code == ReasonCode.MISSING_SECURITY_OPERATION


def test_rules_apply_only_to_matching_bundles(config_dir):
    satellite = _policy(config_dir, "ipn:2.0")
    unrelated = _bundle(src="ipn:5.1", dst="ipn:6.1")
    assert satellite.outbound(unrelated) == unrelated
    assert satellite.inbound(unrelated, is_local_destination=True) == unrelated
    # Integrity applies to any destination, confidentiality only towards ipn:1.*
    elsewhere = satellite.outbound(_bundle(dst="ipn:9.1"))
    assert {op.service for op in security_operations(elsewhere)} == {"integrity"}


def test_destination_without_key_cannot_deliver_ciphertext(config_dir):
    satellite = _policy(config_dir, "ipn:2.0")
    stranger = SecurityPolicy.from_table({}, base_dir=config_dir, node_id="ipn:1.0")
    with pytest.raises(SecurityError) as info:
        stranger.inbound(satellite.outbound(_bundle()), is_local_destination=True)
    assert info.value.reason_code == ReasonCode.FAILED_SECURITY_OPERATION


def test_policy_repr_and_describe_never_show_keys(config_dir):
    policy = _policy(config_dir, "ipn:2.0")
    text = repr(policy) + "\n".join(policy.describe())
    assert SIGN_KEY.hex() not in text and ENC_KEY.hex() not in text and "sat-hmac" in text


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('on_failure = "discard"', 'on_failure = "explode"'), "security.on_failure"),
        (('sat-aes = "keys/sat-aes.bin"', 'sat-aes = "keys/nope.bin"'), "security.keys.sat-aes"),
        (('key = "sat-hmac"', 'key = "nope"'), "security.rules[0].key"),
        (('service = "integrity"', 'service = "secrecy"'), "security.rules[0].service"),
        (("sha_variant = 512", "sha_variant = 1024"), "security.rules[0].sha_variant"),
        (("sha_variant = 512", 'sha_variant = "512"'), "security.rules[0].sha_variant"),
        (('targets = ["primary", "payload"]', "targets = [11]"), "security.rules[0].targets"),
        (('roles = ["source", "verifier", "acceptor"]', 'roles = ["boss"]'), "security.rules[0].roles"),
        (("required = true\n\n[[", "requird = true\n\n[["), "security.rules[0].requird"),
        (('bundle_destination = "ipn:1.*"', 'targets = ["primary"]'), "security.rules[1].targets"),
    ],
)
def test_config_errors_name_the_key(config_dir, change, key):
    text = CONFIG.replace(*change)
    assert text != CONFIG
    with pytest.raises(ConfigError) as info:
        _policy(config_dir, "ipn:2.0", text)
    assert info.value.key == key
    assert SIGN_KEY.hex() not in str(info.value)


def test_bad_node_id_and_wrong_key_length(config_dir):
    with pytest.raises(ConfigError) as info:
        _policy(config_dir, "not-an-eid")
    assert info.value.key == "node_id"
    (config_dir / "keys" / "sat-aes.bin").write_bytes(bytes(16))
    with pytest.raises(ConfigError) as info:
        _policy(config_dir, "ipn:2.0")
    assert info.value.key == "security.rules[1].key"


def test_key_file_forms(tmp_path):
    assert parse_key(b"1a2b" * 8) == bytes.fromhex("1a2b" * 8)
    assert parse_key(b"0x" + b"ab" * 16 + b"\n# comment\n") == bytes([0xAB]) * 16
    assert parse_key(b"ab cd\nef 01 " * 4) == bytes.fromhex("abcdef01" * 4)
    raw = bytes(range(200, 232))
    path = tmp_path / "k.bin"
    path.write_bytes(raw)
    assert load_key_file(path) == raw
    assert parse_key(b"qwertyuiopasdfgh") == b"qwertyuiopasdfgh"  # raw printable key (RFC 9173 A.2)
    for bad in (b"abc", b"zz" * 15, b"ab" * 8 + b"a", b"\x00" * 20, b"ab" * 4, b""):
        with pytest.raises(ConfigError):
            parse_key(bad)
    with pytest.raises(ConfigError) as info:
        load_key_file(tmp_path / "missing.key")
    assert "missing.key" in str(info.value)
    big = tmp_path / "big.key"
    big.write_bytes(b"a" * 5000)
    with pytest.raises(ConfigError, match="larger"):
        load_key_file(big)
