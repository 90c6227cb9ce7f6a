"""Real node processes on loopback: store-and-forward across disjoint contacts, crash and restart."""

from __future__ import annotations

import time

import pytest

from dtn.client import SyncClient
from tests.node.conftest import both

pytestmark = pytest.mark.timeout(90)


def _chain(cluster):
    """A(1)-B(2) in [0,3), B-C(3) in [4,7), A-B again in [7,10): the bundle must wait at B."""
    cluster.plan(both(1, 2, 0, 3) + both(2, 3, 4, 7) + both(1, 2, 7, 10), start_in_s=1.0)
    cluster.config(1, [2])
    cluster.config(2, [1, 3])
    cluster.config(3, [2])
    cluster.start(1, 2, 3)


def test_bundle_waits_in_store_then_delivered_with_reports(cluster):
    _chain(cluster)
    with SyncClient(cluster.sock(1)) as a:
        sent = a.send("ipn:3.1", b"across the gap", report=["reception", "forwarding", "delivery"], lifetime_s=60)
    with SyncClient(cluster.sock(3)) as c:
        delivery = c.receive("ipn:3.1", timeout_s=15)
        assert delivery is not None and delivery.payload == b"across the gap"
        assert delivery.bundle == sent.bundle
        assert cluster.plan_now_s() >= 4.0  # B-C opens at 4
        c.ack(delivery)
    stored_at_b = cluster.wait_event(2, lambda e: e["event"] == "stored" and e.get("bundle") == sent.bundle)
    forwarded_by_b = cluster.wait_event(2, lambda e: e["event"] == "forwarded" and e.get("bundle") == sent.bundle)
    assert stored_at_b["t_unix_s"] - cluster.epoch_unix_s < 3.0
    assert forwarded_by_b["t_unix_s"] - cluster.epoch_unix_s >= 4.0
    assert forwarded_by_b["next_hop"] == 3

    # Status reports reach A: B's reception/forwarding at once, C's reception/delivery via B once A-B reopens.
    deadline = time.monotonic() + 15
    wanted = {("ipn:2.0", "received"), ("ipn:2.0", "forwarded"), ("ipn:3.0", "received"), ("ipn:3.0", "delivered")}
    with SyncClient(cluster.sock(1)) as a:
        while True:
            got = {(r["source"], s) for r in a.reports() if r["subject"] == sent.bundle for s in r["status"]}
            if wanted <= got or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert wanted <= got


def test_sigkill_while_holding_then_restart_delivers_exactly_once(cluster):
    _chain(cluster)
    with SyncClient(cluster.sock(1)) as a:
        sent = [a.send("ipn:3.1", f"bundle {i}".encode(), lifetime_s=60) for i in range(3)]
    keys = {s.bundle for s in sent}
    for key in keys:
        cluster.wait_event(2, lambda e, key=key: e["event"] == "stored" and e.get("bundle") == key, timeout_s=10)
    assert cluster.plan_now_s() < 4.0
    cluster.procs[2].kill()  # SIGKILL while B holds all three bundles, before B-C opens
    cluster.restart(2)
    received = []
    with SyncClient(cluster.sock(3)) as c:
        while len(received) < 3:
            d = c.receive("ipn:3.1", timeout_s=15)
            assert d is not None, f"only {len(received)} of 3 delivered"
            received.append(d.bundle)
            c.ack(d)
        assert c.receive("ipn:3.1", timeout_s=1.5) is None  # nothing twice
    assert sorted(received) == sorted(keys)
    delivered = [e["bundle"] for e in cluster.of(3, "delivered")]
    assert sorted(delivered) == sorted(keys)


def test_graceful_stop_closes_sessions_and_store(cluster):
    cluster.plan(both(1, 2, 0, 30), start_in_s=0.0)
    cluster.config(1, [2])
    cluster.config(2, [1])
    cluster.start(1, 2)
    cluster.wait_event(1, lambda e: e["event"] == "contact_up")
    assert cluster.procs[2].stop(timeout_s=10) == 0
    assert cluster.of(2, "stopped")
    down = cluster.wait_event(1, lambda e: e["event"] == "contact_down")
    assert "SESS_TERM" in down["reason"] or "ended" in down["reason"] or down["reason"] == "closed"


WORKLOAD = [(f"bundle {i}".encode() * (1 + 500 * (i % 3)), ("ipn:3.1" if i % 2 == 0 else "ipn:2.1")) for i in range(8)]


def _mockclock_delivery_order() -> list[bytes]:
    """The same plan and workload as the process test below, in one process under MockClock."""
    import datetime as dt

    import trio
    import trio.testing

    from contact_plans.model import Contact, ContactPlan
    from contact_plans.model import Node as PlanNode
    from dtn.node.clock import TrioClock
    from dtn.node.testing import MemoryNetwork, receive_within

    async def main() -> list[bytes]:
        contacts = [Contact(*c) for c in both(1, 2, 0, 3) + both(2, 3, 4, 7)]
        plan = ContactPlan(
            epoch=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
            nodes=[PlanNode(n) for n in (1, 2, 3)],
            contacts=contacts,
        )
        async with MemoryNetwork(plan, clock=TrioClock(plan.epoch_unix_s)) as net:
            a = await net.start_node(1)
            b = await net.start_node(2)
            c = await net.start_node(3)
            await trio.sleep(0.5)
            for payload, dest in WORKLOAD:
                await a.send_from_application(dest, payload)
            order = []
            for node, endpoint in ((c, "ipn:3.1"), (b, "ipn:2.1")):
                for _ in [w for w in WORKLOAD if w[1] == endpoint]:
                    item = await receive_within(node, endpoint, 30)
                    order.append(item["payload"])
                    await node.acknowledge_delivery(item["bundle"])
            for n in net.nodes.values():
                n.request_stop()
            return order

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_same_delivery_order_as_under_mockclock(cluster):
    expected = _mockclock_delivery_order()
    cluster.plan(both(1, 2, 0, 3) + both(2, 3, 4, 7), start_in_s=0.5)
    cluster.config(1, [2])
    cluster.config(2, [1, 3])
    cluster.config(3, [2])
    cluster.start(1, 2, 3)
    while cluster.plan_now_s() < 0.5:
        time.sleep(0.05)
    with SyncClient(cluster.sock(1)) as a:
        for payload, dest in WORKLOAD:
            a.send(dest, payload)
    order = []
    for number, endpoint in ((3, "ipn:3.1"), (2, "ipn:2.1")):
        with SyncClient(cluster.sock(number)) as client:
            for _ in [w for w in WORKLOAD if w[1] == endpoint]:
                d = client.receive(endpoint, timeout_s=15)
                assert d is not None
                order.append(d.payload)
                client.ack(d)
    assert order == expected
