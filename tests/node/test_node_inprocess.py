"""RFC 9171 §5 behaviour of the node, several nodes in one process on in-memory streams, in virtual time."""

from __future__ import annotations

import datetime as dt

import pytest
import trio

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.errors import StoreError
from dtn.node.clock import TrioClock
from dtn.node.config import NodeConfig, RoutingConfig
from dtn.node.testing import MemoryNetwork, VirtualClock, receive_within
from dtn.store import MemoryStore

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def plan_of(*contacts, nodes=(1, 2, 3)) -> ContactPlan:
    cs = []
    for c in contacts:
        a, b, start, end = c[:4]
        rate = c[4] if len(c) > 4 else 1e6
        cs += [Contact(a, b, start, end, rate), Contact(b, a, start, end, rate)]
    return ContactPlan(epoch=EPOCH, nodes=[PlanNode(n) for n in nodes], contacts=cs)


def network(plan, **configs) -> MemoryNetwork:
    return MemoryNetwork(plan, clock=TrioClock(plan.epoch_unix_s), configs=configs or None)


async def test_store_and_forward_across_a_gap(autojump_clock):
    plan = plan_of((1, 2, 0, 10), (2, 3, 20, 30))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        c = await net.start_node(3)
        sent = await a.send_from_application("ipn:3.1", b"hello", lifetime_s=100)
        item = await receive_within(c, "ipn:3.1", 100)
        assert item["payload"] == b"hello" and item["bundle"] == sent["bundle"]
        assert 20 <= a.plan_now_s() < 21
        await c.acknowledge_delivery(item["bundle"])
        await net.wait_for(lambda e: e["event"] == "forwarded" and e["node"] == "ipn:2.0")
        b_events = [e["event"] for e in net.events if e["node"] == "ipn:2.0" and e.get("bundle") == sent["bundle"]]
        assert b_events == ["received", "stored", "routed", "forwarded"]
        assert net.of("delivered", 3)[0]["bundle"] == sent["bundle"]


async def test_expiry_deletes_with_reason_and_reports(autojump_clock):
    plan = plan_of((1, 2, 100, 200))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        sent = await a.send_from_application("ipn:2.1", b"x", lifetime_s=10, report=("deletion",))
        deleted = await net.wait_for(lambda e: e["event"] == "deleted")
        assert deleted["reason"] == "lifetime_expired" and deleted["bundle"] == sent["bundle"]
        assert 10 <= a.plan_now_s() < 11
        assert a.store.count() == 0
        report = a.reports[-1]
        assert report["subject"] == sent["bundle"] and report["status"] == ["deleted"]
        assert report["reason"] == "lifetime_expired"


async def test_quota_refuses_application_and_reports_deletion_from_relay(autojump_clock):
    plan = plan_of((1, 2, 0, 100), (2, 3, 200, 300))
    async with network(plan) as net:
        a = await net.start_node(1, store=MemoryStore(max_bundles=3))
        await net.start_node(2, store=MemoryStore(max_bytes=2000))
        await net.start_node(3)
        # B can hold one 1200-byte bundle until B-C opens at 200: the second is deleted, A is told why.
        first = await a.send_from_application("ipn:3.1", b"a" * 1100, report=("deletion",))
        second = await a.send_from_application("ipn:3.1", b"b" * 1100, report=("deletion",))
        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:2.0")
        assert deleted["bundle"] == second["bundle"] and deleted["reason"] == "depleted_storage"
        await net.wait_for(lambda e: e["event"] == "status_report" and e["node"] == "ipn:1.0")
        assert a.reports[-1]["subject"] == second["bundle"] and a.reports[-1]["reason"] == "depleted_storage"
        assert first["bundle"] in net.stores[2]
        # A's own quota: the application gets a clear refusal.
        await net.stop_node(2)
        for i in range(3 - a.store.count()):
            await a.send_from_application("ipn:3.1", b"fill")
        with pytest.raises(StoreError, match="store full") as info:
            await a.send_from_application("ipn:3.1", b"one too many")
        assert info.value.reason_code == 4
        assert net.of("deleted", 1)[-1]["reason"] == "depleted_storage"


async def test_unknown_destination_waits_until_a_route_appears(autojump_clock):
    plan = plan_of((1, 2, 0, 1000), nodes=(1, 2, 9))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        nine = await net.start_node(9)
        sent = await a.send_from_application("ipn:9.1", b"later", lifetime_s=500)
        assert net.of("no_route", 1)[0]["bundle"] == sent["bundle"]
        await trio.sleep(50)
        assert a.status()["unassigned"] == 1
        await a.set_contact_override(9, "up")  # an admin declares a contact (replay, fault injection)
        item = await receive_within(nine, "ipn:9.1", 100)
        assert item["payload"] == b"later"


async def test_no_route_delete_policy(autojump_clock):
    plan = plan_of((1, 2, 0, 1000))
    cfg = NodeConfig.minimal(1, routing=RoutingConfig(no_route="delete"))
    async with network(plan, **{}) as net:
        net.configs[1] = cfg
        a = await net.start_node(1)
        await a.send_from_application("ipn:7.1", b"nowhere", report=("deletion",))
        deleted = net.of("deleted", 1)[0]
        assert deleted["reason"] == "no_known_route"
        assert a.store.count() == 0
        assert a.reports[-1]["reason"] == "no_known_route"


async def test_hop_limit_exceeded(autojump_clock):
    plan = plan_of((1, 2, 0, 100), (2, 3, 0, 100))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        await net.start_node(3)
        await a.send_from_application("ipn:3.1", b"short leash", hop_limit=1)
        deleted = await net.wait_for(lambda e: e["event"] == "deleted")
        assert deleted["node"] == "ipn:2.0" and deleted["reason"] == "hop_limit_exceeded"


async def test_proactive_fragmentation_and_reassembly(autojump_clock):
    # Each A-B window carries 10 kB; a 25 kB bundle must be cut to fit and put back together at B.
    plan = plan_of((1, 2, 0, 10, 1000), (1, 2, 20, 30, 1000), (1, 2, 40, 50, 1000), (1, 2, 60, 70, 1000))
    payload = bytes(range(256)) * 100
    async with network(plan) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        sent = await a.send_from_application("ipn:2.1", payload, lifetime_s=1000)
        item = await receive_within(b, "ipn:2.1", 500)
        assert item["payload"] == payload and item["bundle"] == sent["bundle"]
        fragmented = net.of("fragmented", 1)[0]
        assert fragmented["fragments"] >= 3 and fragmented["max_bytes"] <= 10_000
        assert net.of("reassembled", 2)[0]["fragments"] == fragmented["fragments"]
        assert b.store.count() == 1  # the whole bundle, fragments gone
        await b.acknowledge_delivery(item["bundle"])
        assert b.store.count() == 0


async def test_no_fragment_flag_keeps_bundle_whole(autojump_clock):
    plan = plan_of((1, 2, 0, 10, 1000))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        await a.send_from_application("ipn:2.1", b"z" * 25_000, no_fragment=True)
        assert not net.of("fragmented") and net.of("no_route", 1)


async def test_duplicates_are_dropped_even_after_delivery(autojump_clock):
    plan = plan_of((1, 2, 0, 100))
    async with network(plan) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        sent = await a.send_from_application("ipn:2.1", b"once")
        item = await receive_within(b, "ipn:2.1", 10)
        data = b.store.read(item["bundle"])
        await b.receive_from_peer(data, 1)
        assert net.of("duplicate", 2)[-1]["bundle"] == sent["bundle"]
        await b.acknowledge_delivery(item["bundle"])
        await b.receive_from_peer(data, 1)
        assert len(net.of("duplicate", 2)) == 2
        assert await receive_within(b, "ipn:2.1", 5) is None


async def test_undecodable_bundle_is_dropped_with_reason(autojump_clock):
    plan = plan_of((1, 2, 0, 100))
    async with network(plan) as net:
        b = await net.start_node(2)
        await b.receive_from_peer(b"\x9f\x00garbage", 1)
        assert net.of("deleted", 2)[-1]["reason"] == "block_unintelligible"


async def test_restart_on_same_store_resumes_pending(autojump_clock):
    plan = plan_of((1, 2, 50, 100), (2, 3, 0, 1000), nodes=(1, 2, 3))
    store = MemoryStore()
    async with network(plan) as net:
        a = await net.start_node(1, store=store)
        sent = [await a.send_from_application("ipn:2.1", f"{i}".encode()) for i in range(3)]
        await net.stop_node(1)
        assert store.count() == 3
        await net.start_node(1, store=store)
        b = await net.start_node(2)
        got = []
        for _ in sent:
            item = await receive_within(b, "ipn:2.1", 200)
            got.append(item["bundle"])
            await b.acknowledge_delivery(item["bundle"])
        assert got == [s["bundle"] for s in sent]


async def test_contact_never_comes_up_then_other_route(autojump_clock):
    # A-B is planned first but B is unreachable; at the end of the window the bundle goes via D instead.
    plan = plan_of((1, 2, 0, 10), (2, 3, 0, 100), (1, 4, 20, 30), (4, 3, 20, 100), nodes=(1, 2, 3, 4))
    async with network(plan) as net:
        a = await net.start_node(1)
        await net.start_node(2)
        c = await net.start_node(3)
        await net.start_node(4)
        net.block(1, 2)
        sent = await a.send_from_application("ipn:3.1", b"detour")
        item = await receive_within(c, "ipn:3.1", 200)
        assert item["bundle"] == sent["bundle"]
        hops = [e["next_hop"] for e in net.of("routed", 1) if e["bundle"] == sent["bundle"]]
        assert hops == [2, 4]
        assert net.of("dial_failed", 1)


async def test_link_cut_mid_session_reroutes(autojump_clock):
    plan = plan_of((1, 2, 0, 100, 1000), (2, 3, 0, 100), (1, 4, 0, 100, 900), (4, 3, 0, 100), nodes=(1, 2, 3, 4))
    cfg = NodeConfig.minimal(1, routing=RoutingConfig(rate_limit=True))
    async with network(plan) as net:
        net.configs[1] = cfg
        a = await net.start_node(1)
        await net.start_node(2)
        c = await net.start_node(3)
        await net.start_node(4)
        sent = [await a.send_from_application("ipn:3.1", bytes([i]) * 2000) for i in range(5)]
        await net.wait_for(lambda e: e["event"] == "forwarded" and e["node"] == "ipn:1.0")
        net.block(1, 2)  # the 1-2 link drops after the first bundle: the rest must go through 4
        got = set()
        for _ in sent:
            item = await receive_within(c, "ipn:3.1", 500)
            got.add(item["bundle"])
            await c.acknowledge_delivery(item["bundle"])
        assert got == {s["bundle"] for s in sent}
        assert {e["next_hop"] for e in net.of("forwarded", 1)} == {2, 4}


def _scenario_events():

    async def main():
        plan = plan_of((1, 2, 0, 10), (2, 3, 20, 30), (1, 3, 40, 50))
        async with network(plan) as net:
            a = await net.start_node(1)
            await net.start_node(2)
            c = await net.start_node(3)
            for i in range(6):
                await a.send_from_application("ipn:3.1", bytes([i]) * (100 * (6 - i)), report=("delivery",))
                await trio.sleep(1)
            for _ in range(6):
                item = await receive_within(c, "ipn:3.1", 100)
                await c.acknowledge_delivery(item["bundle"])
            await trio.sleep(30)
            # Deterministic by design (docs/replay.md): events in canonical order, up to the final instant.
            end_unix_s = round(net.clock.unix_s(), 6)
            return [e for e in net.canonical_events() if e["t_unix_s"] < end_unix_s]

    return trio.run(main, clock=VirtualClock())


def test_virtual_time_runs_are_equivalent():
    # MemoryNetwork links are zero-latency memory streams with no ordering of their own, so Trio's (random) order
    # of one instant's tasks may change which of two simultaneous actions comes first: runs are equivalent, not
    # identical. The digital twin orders its links' instants canonically and is byte-identical
    # (tests/twin/test_determinism.py).
    first, second = _scenario_events(), _scenario_events()

    def delivered(events):
        return sorted(e["bundle"] for e in events if e["event"] == "delivered")

    assert delivered(first) == delivered(second)
    assert delivered(first)
