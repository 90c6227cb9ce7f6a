"""BPSec wired into the node: the `[security]` table signs at the source and is enforced on receipt."""

from __future__ import annotations

import datetime as dt

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.node.clock import TrioClock
from dtn.node.config import NodeConfig
from dtn.node.testing import MemoryNetwork

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
PLAN = ContactPlan(epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)],
                   contacts=[Contact(1, 2, 0, 100, 1e6), Contact(2, 1, 0, 100, 1e6)])


def _rule(roles: list[str]) -> dict:
    return {"service": "integrity", "roles": roles, "bundle_source": "ipn:1.*", "security_source": "ipn:1.0",
            "key": "hmac", "targets": ["payload"], "required": True}


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
        item = await b.next_delivery("ipn:2.1", 10)
        assert item["payload"] == b"signed"
        # the stored copy at B no longer carries the BIB (acceptor removes it)
        assert b"signed" in b.store.read(item["bundle"])


async def test_missing_required_integrity_is_deleted(autojump_clock, tmp_path):
    (tmp_path / "hmac.hex").write_text("1a2b" * 8 + "\n")
    configs = {
        1: NodeConfig.minimal(1),
        2: NodeConfig.minimal(2, security={"keys": {"hmac": "hmac.hex"}, "rules": [_rule(["acceptor"])]},
                              base_dir=tmp_path),
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
