"""BPSec wired into the node: the `[security]` table signs and encrypts at the source and is enforced on receipt.

Relays tamper with bundles through `Node.forward_hook` (the bytes a node hands to its CLA); everything else is
the real node on in-memory streams under MockClock, and one test runs real node processes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.bpsec import decode_asb, security_operations
from dtn.bpsec.constants import BCB_BLOCK_TYPE, BIB_BLOCK_TYPE
from dtn.bpsec.policy import SecurityPolicy
from dtn.bpv7.codec import decode, encode
from dtn.client import SyncClient
from dtn.errors import DtnError
from dtn.node import bundles as bp
from dtn.node.clock import TrioClock
from dtn.node.config import NodeConfig
from dtn.node.testing import MemoryNetwork, receive_within
from tests.node.conftest import both

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
PLAN = ContactPlan(
    epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)], contacts=[Contact(1, 2, 0, 100, 1e6), Contact(2, 1, 0, 100, 1e6)]
)


def _rule(roles: list[str]) -> dict:
    return {
        "service": "integrity",
        "roles": roles,
        "bundle_source": "ipn:1.*",
        "security_source": "ipn:1.0",
        "key": "hmac",
        "targets": ["payload"],
        "required": True,
    }


async def test_signed_at_source_verified_and_accepted_at_destination(autojump_clock, tmp_path):
    (tmp_path / "hmac.hex").write_text("1a2b" * 8 + "\n")
    keys = {"hmac": "hmac.hex"}
    configs = {
        1: NodeConfig.minimal(1, security={"keys": keys, "rules": [_rule(["source"])]}, base_dir=tmp_path),
        2: NodeConfig.minimal(2, security={"keys": keys, "rules": [_rule(["acceptor"])]}, base_dir=tmp_path),
    }
    async with MemoryNetwork(PLAN, clock=TrioClock(PLAN.epoch_unix_s), configs=configs) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        await a.send_from_application("ipn:2.1", b"signed")
        item = await receive_within(b, "ipn:2.1", 10)
        assert item["payload"] == b"signed"
        # the stored copy at B no longer carries the BIB (acceptor removes it)
        assert b"signed" in b.store.read(item["bundle"])


async def test_missing_required_integrity_is_deleted(autojump_clock, tmp_path):
    (tmp_path / "hmac.hex").write_text("1a2b" * 8 + "\n")
    configs = {
        1: NodeConfig.minimal(1),
        2: NodeConfig.minimal(
            2, security={"keys": {"hmac": "hmac.hex"}, "rules": [_rule(["acceptor"])]}, base_dir=tmp_path
        ),
    }
    async with MemoryNetwork(PLAN, clock=TrioClock(PLAN.epoch_unix_s), configs=configs) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        await a.send_from_application("ipn:2.1", b"unsigned", report=("deletion",))
        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:2.0")
        assert deleted["reason"] == "missing_security_service"
        await net.wait_for(lambda e: e["event"] == "status_report" and e["node"] == "ipn:1.0")
        assert a.reports[-1]["reason"] == "missing_security_service"
        await net.wait_for(lambda e: e["event"] == "forwarded" and e["node"] == "ipn:2.0")
        assert b.store.count() == 0  # the refused bundle was never stored; the report has left


# -- three nodes: source A(1) -> relay B(2) -> destination C(3) ---------------------------------------------------

CHAIN = ContactPlan(
    epoch=EPOCH,
    nodes=[PlanNode(1), PlanNode(2), PlanNode(3)],
    contacts=[Contact(a, b, 0, 100, 1e7) for a, b in ((1, 2), (2, 1), (2, 3), (3, 2))],
)
HMAC_KEY_HEX = "1a2b" * 16
AES_KEY_HEX = "00112233445566778899aabbccddeeff" * 2
OTHER_AES_KEY_HEX = "ffeeddccbbaa99887766554433221100" * 2


def _keys(tmp_path: pathlib.Path) -> dict[str, str]:
    (tmp_path / "hmac.hex").write_text(HMAC_KEY_HEX + "\n")
    (tmp_path / "aes.hex").write_text(AES_KEY_HEX + "\n")
    (tmp_path / "other-aes.hex").write_text(OTHER_AES_KEY_HEX + "\n")
    return {"hmac": "hmac.hex", "aes": "aes.hex", "other-aes": "other-aes.hex"}


def _integrity(roles: list[str]) -> dict:
    return {
        "name": "sign",
        "service": "integrity",
        "roles": roles,
        "bundle_source": "ipn:1.*",
        "security_source": "ipn:1.0",
        "key": "hmac",
        "targets": ["payload"],
        "required": True,
    }


def _confidentiality(roles: list[str], key: str = "aes") -> dict:
    return {
        "name": "seal",
        "service": "confidentiality",
        "roles": roles,
        "bundle_source": "ipn:1.*",
        "bundle_destination": "ipn:3.*",
        "security_source": "ipn:1.0",
        "key": key,
        "targets": ["payload"],
        "required": True,
    }


def _config(number: int, tmp_path: pathlib.Path, rules: list[dict] | None) -> NodeConfig:
    if rules is None:
        return NodeConfig.minimal(number)
    return NodeConfig.minimal(number, security={"keys": _keys(tmp_path), "rules": rules}, base_dir=tmp_path)


SOURCE_RULES = [_integrity(["source"]), _confidentiality(["source"])]
DESTINATION_RULES = [_integrity(["acceptor"]), _confidentiality(["acceptor"])]


def _chain(tmp_path, *, source=SOURCE_RULES, relay=None, destination=DESTINATION_RULES) -> MemoryNetwork:
    configs = {1: _config(1, tmp_path, source), 2: _config(2, tmp_path, relay), 3: _config(3, tmp_path, destination)}
    return MemoryNetwork(CHAIN, clock=TrioClock(CHAIN.epoch_unix_s), configs=configs)


def _flip_payload_byte(data: bytes) -> bytes:
    """What a faulty or hostile relay does: one bit of the payload block's data changed, bundle re-encoded."""
    bundle = decode(data)
    payload = bundle.payload_block
    changed = bytearray(payload.data)
    changed[len(changed) // 2] ^= 0x01
    return encode(
        bundle.with_blocks(dataclasses.replace(b, data=bytes(changed)) if b.number == 1 else b for b in bundle.blocks)
    )


class _Recorder:
    """A forward hook that keeps (store key, bytes) of every bundle a node sends and changes nothing."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def __call__(self, key: str, data: bytes) -> bytes:
        self.sent.append((key, bytes(data)))
        return data

    def bundle(self, key: str) -> bytes:
        return next(data for k, data in self.sent if k == key)


def _protected_blocks(data: bytes) -> dict[int, bytes]:
    """The BCBs and every block they encrypt, as their exact encoded bytes, by block number."""
    bundle = decode(data)
    bcbs = bundle.blocks_of(BCB_BLOCK_TYPE)
    numbers = {b.number for b in bcbs} | {t for b in bcbs for t in decode_asb(b.data).targets}
    return {b.number: bytes(b.raw) for b in bundle.blocks if b.number in numbers}


async def _never_delivered(net: MemoryNetwork, node, endpoint: str) -> None:
    assert await receive_within(node, endpoint, 5) is None
    assert not net.of("delivered", node.node_number)
    assert node.store.count() == 0


@pytest.mark.parametrize(
    ("rules_at_source", "rules_at_destination", "payload"),
    [
        # BIB only: the payload travels in clear and the HMAC no longer matches
        ([_integrity(["source"])], [_integrity(["acceptor"])], b"signed, not sealed"),
        # BIB inside BCB; 200 KiB also takes the streaming AES-GCM path: the tag no longer matches
        (SOURCE_RULES, DESTINATION_RULES, bytes(range(256)) * 800),
    ],
    ids=["bib", "bcb"],
)
async def test_relay_tampering_with_payload_is_discarded_and_reported(
    autojump_clock, tmp_path, rules_at_source, rules_at_destination, payload
):
    async with _chain(tmp_path, source=rules_at_source, destination=rules_at_destination) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        c = await net.start_node(3)
        sent = await a.send_from_application("ipn:3.1", payload, report=("deletion",))
        b.forward_hook = lambda key, data: _flip_payload_byte(data) if key == sent["bundle"] else data

        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:3.0")
        assert deleted["bundle"] == sent["bundle"]
        assert deleted["reason"] == "failed_security_service"  # RFC 9172 §11.2 code 15
        await net.wait_for(lambda e: e["event"] == "status_report" and e["node"] == "ipn:1.0")
        report = a.reports[-1]
        assert report["subject"] == sent["bundle"] and report["source"] == "ipn:3.0"
        assert report["status"] == ["deleted"] and report["reason_code"] == 15
        await _never_delivered(net, c, "ipn:3.1")


@pytest.mark.parametrize(
    "relay_rules",
    [
        None,  # no [security] table at all
        # keys and a required integrity verifier for the very same bundles, but no confidentiality key: the BIB
        # is inside the BCB, so the relay can neither read nor check it and must pass it on as it is
        [_integrity(["verifier"])],
    ],
    ids=["no-security-table", "verifier-without-aes-key"],
)
async def test_relay_without_keys_forwards_bcb_protected_blocks_byte_for_byte(autojump_clock, tmp_path, relay_rules):
    async with _chain(tmp_path, relay=relay_rules) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        c = await net.start_node(3)
        a.forward_hook, b.forward_hook = _Recorder(), _Recorder()
        sent = await a.send_from_application("ipn:3.1", b"for C's eyes only")
        item = await receive_within(c, "ipn:3.1", 10)
        assert item["payload"] == b"for C's eyes only"

        into_relay = _protected_blocks(a.forward_hook.bundle(sent["bundle"]))
        out_of_relay = _protected_blocks(b.forward_hook.bundle(sent["bundle"]))
        # one BCB over the payload, one over the BIB it encrypted (RFC 9172 §3.9), and their two targets
        assert len(into_relay) == 4 and 1 in into_relay
        assert out_of_relay == into_relay
        # what the relay changed is only what RFC 9171 §5.4 asks of a forwarder: Previous Node, Hop Count
        before, after = decode(a.forward_hook.bundle(sent["bundle"])), decode(b.forward_hook.bundle(sent["bundle"]))
        assert bytes(after.primary.raw) == bytes(before.primary.raw)
        assert str(after.previous_node) == "ipn:2.0" and after.hop_count[1] == before.hop_count[1] + 1


@pytest.mark.parametrize("copies", [1, 12_000], ids=["23-bytes", "276-KB"])  # 276 KB: streaming AES-GCM
async def test_end_to_end_confidentiality_and_integrity_through_a_relay_without_keys(autojump_clock, tmp_path, copies):
    async with _chain(tmp_path) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        c = await net.start_node(3)
        a.forward_hook, b.forward_hook = _Recorder(), _Recorder()
        secret = b"the launch code is 0000" * copies
        sent = await a.send_from_application("ipn:3.1", secret)
        item = await receive_within(c, "ipn:3.1", 10)
        assert item["payload"] == secret and item["bundle"] == sent["bundle"]

        # on both hops: ciphertext only, the payload's BIB encrypted too (its HMAC is not visible either)
        for recorder in (a.forward_hook, b.forward_hook):
            wire = recorder.bundle(sent["bundle"])
            assert b"the launch code" not in wire
            bundle = decode(wire)
            (bib,) = bundle.blocks_of(BIB_BLOCK_TYPE)
            ops = security_operations(bundle)
            assert {(op.service, op.target) for op in ops} == {("confidentiality", 1), ("confidentiality", bib.number)}
            assert all(str(op.source) == "ipn:1.0" for op in ops)
        await net.wait_for(lambda e: e["event"] == "forwarded" and e["node"] == "ipn:2.0")
        # the destination keeps (and hands out) the plaintext bundle: the acceptor removed BCBs and BIB
        delivered = decode(c.store.read(item["bundle"]))
        assert delivered.payload == secret
        assert not delivered.blocks_of(BCB_BLOCK_TYPE) and not delivered.blocks_of(BIB_BLOCK_TYPE)
        await c.acknowledge_delivery(item["bundle"])
        assert net.of("delivered", 3)[0]["bundle"] == sent["bundle"]


@pytest.mark.parametrize(
    "destination_rules",
    [
        None,  # no [security] table at all: still no key, and RFC 9172 §5.1.1 forbids delivering ciphertext
        [_integrity(["acceptor"])],  # keys, but none for confidentiality
        [_integrity(["acceptor"]), _confidentiality(["acceptor"], key="other-aes")],  # the wrong AES key
    ],
    ids=["no-security-table", "no-aes-key", "wrong-aes-key"],
)
async def test_destination_that_cannot_decrypt_discards_and_reports(autojump_clock, tmp_path, destination_rules):
    async with _chain(tmp_path, destination=destination_rules) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        c = await net.start_node(3)
        sent = await a.send_from_application("ipn:3.1", b"ciphertext must never be delivered", report=("deletion",))
        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:3.0")
        assert deleted["bundle"] == sent["bundle"] and deleted["reason"] == "failed_security_service"
        await net.wait_for(lambda e: e["event"] == "status_report" and e["node"] == "ipn:1.0")
        assert a.reports[-1]["subject"] == sent["bundle"] and a.reports[-1]["reason"] == "failed_security_service"
        await _never_delivered(net, c, "ipn:3.1")


def _toml_security(roles: list[str], *, with_keys: bool = True) -> str:
    """A `[security]` table for node processes: sign and seal every bundle from node 1 (keys next to the TOML)."""
    if not with_keys:
        return ""
    roles_toml = "[" + ", ".join(f'"{r}"' for r in roles) + "]"
    return f"""
[security.keys]
hmac = "hmac.hex"
aes = "aes.hex"

[[security.rules]]
name = "sign"
service = "integrity"
roles = {roles_toml}
bundle_source = "ipn:1.*"
security_source = "ipn:1.0"
key = "hmac"
targets = ["payload"]
required = true

[[security.rules]]
name = "seal"
service = "confidentiality"
roles = {roles_toml}
bundle_source = "ipn:1.*"
security_source = "ipn:1.0"
key = "aes"
aes_variant = 256
targets = ["payload"]
required = true
"""


@pytest.mark.timeout(60)
def test_node_processes_seal_relay_and_open_or_discard(cluster):
    """Real `dtn node run` processes A(1) -> B(2) -> C(3), TOML policies and key files: A signs and encrypts
    everything it sends; B has no [security] table and relays C's bundle; C decrypts, verifies, delivers the
    plaintext. A bundle for B itself reaches a destination without the key: discarded (15) and reported."""
    _keys(cluster.root)
    cluster.plan(both(1, 2, 0, 60) + both(2, 3, 0, 60), start_in_s=0.0)
    cluster.config(1, [2], extra=_toml_security(["source"]))
    cluster.config(2, [1, 3], extra=_toml_security([], with_keys=False))
    cluster.config(3, [2], extra=_toml_security(["acceptor"]))
    cluster.start(1, 2, 3)

    secret = b"sealed at A, opened at C" * 100
    with SyncClient(cluster.sock(1)) as a:
        to_c = a.send("ipn:3.1", secret, lifetime_s=60)
        to_b = a.send("ipn:2.1", b"B has no key for this", report=["deletion"], lifetime_s=60)
    with SyncClient(cluster.sock(3)) as c:
        delivery = c.receive("ipn:3.1", timeout_s=20)
        assert delivery is not None and delivery.payload == secret and delivery.bundle == to_c.bundle
        c.ack(delivery)
    relayed = cluster.wait_event(2, lambda e: e["event"] == "forwarded" and e.get("bundle") == to_c.bundle)
    assert relayed["next_hop"] == 3
    deleted = cluster.wait_event(2, lambda e: e["event"] == "deleted" and e.get("bundle") == to_b.bundle)
    assert deleted["reason"] == "failed_security_service"
    report = cluster.wait_event(1, lambda e: e["event"] == "status_report" and e.get("bundle") == to_b.bundle)
    assert report["reason"] == "failed_security_service" and report["status"] == ["deleted"]
    with SyncClient(cluster.sock(2)) as b:
        assert b.receive("ipn:2.1", timeout_s=0.5) is None


# -- the property behind all of the above ---------------------------------------------------------------------------

PROPERTY_PAYLOAD = b"every bit of this is protected" * 2


@pytest.fixture(scope="module")
def sealed_and_destination(tmp_path_factory):
    """A bundle as the source sends it (signed and sealed per policy) and the destination's policy."""
    root = tmp_path_factory.mktemp("keys")
    keys = _keys(root)
    source = SecurityPolicy.from_table({"keys": keys, "rules": SOURCE_RULES}, base_dir=root, node_id="ipn:1.0")
    destination = SecurityPolicy.from_table(
        {"keys": keys, "rules": DESTINATION_RULES}, base_dir=root, node_id="ipn:3.0"
    )
    bundle = bp.create(
        source="ipn:1.1",
        destination="ipn:3.1",
        payload=PROPERTY_PAYLOAD,
        creation_time_ms=946_771_200_000,
        sequence=7,
        lifetime_ms=3_600_000,
        report_to="ipn:1.0",
        report_bits=bp.REPORT_DELETION,
        no_fragment=False,
        crc_type=1,
        hop_limit=16,
    )
    return bp.encode(source.outbound(bundle)), destination


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_bit_flipped_in_transit_is_refused_or_leaves_the_payload_intact(sealed_and_destination, position, bit):
    """Whatever single bit a relay flips, the destination's reception (as `Node.receive_from_peer` does it:
    decode, policy, validate) refuses the bundle or hands out exactly the source's plaintext: never ciphertext,
    never a changed payload. Flips in blocks no operation covers (Previous Node, Hop Count) are harmless."""
    sealed, destination = sealed_and_destination
    changed = bytearray(sealed)
    changed[position % len(sealed)] ^= 1 << bit
    try:
        opened = destination.inbound(bp.decode(bytes(changed)), is_local_destination=True)
    except DtnError:
        return
    if bp.reception_problems(opened):
        return
    assert bp.payload(opened) == PROPERTY_PAYLOAD
    assert not opened.blocks_of(BCB_BLOCK_TYPE) and not opened.blocks_of(BIB_BLOCK_TYPE)
