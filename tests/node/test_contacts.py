"""The contact manager (dtn/node/contacts.py): rerouting passes never book a bundle twice, send loops live and
die with their session."""

from __future__ import annotations

import datetime as dt

import trio

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.node.clock import TrioClock
from dtn.node.config import NodeConfig
from dtn.node.node import Node
from dtn.node.testing import MemoryNetwork, receive_within
from dtn.store import MemoryStore

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


async def test_concurrent_reroute_requests_book_each_bundle_once():
    """Issue 22: with the threaded store, two rerouting passes started close together (two sessions coming up)
    could both route the same waiting bundle and book it twice. Passes are serialised now; a second route of a
    bundle releases the first booking."""
    plan = ContactPlan(epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)], contacts=[])
    node = Node(
        NodeConfig.minimal(1), clock=TrioClock(plan.epoch_unix_s), store=MemoryStore(), plan=plan, threaded_store=True
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        sent = await node.send_from_application("ipn:2.1", b"x" * 1000, lifetime_s=3600)
        assert node.store.get(sent["bundle"]).next_hop is None  # no contact yet: it waits
        contact = Contact(1, 2, 0.0, 86400.0, 1e6)
        node.router.add_contact(contact)
        node.schedule.add_contact(contact)
        async with trio.open_nursery() as passes:
            for _ in range(3):
                node.contacts.request_reroute()
                passes.start_soon(node.contacts.reroute_waiting)
                passes.start_soon(node.contacts.reroute_waiting)
        with trio.fail_after(10):
            while node.store.get(sent["bundle"]).next_hop != 2 or node.contacts._reroute_wanted:
                await trio.sleep(0.01)
            await node.contacts.reroute_waiting()  # after the reroute task's last pass
        assert list(node.forwarding.bookings) == [sent["bundle"]]
        assert node.router.booked_bytes(contact) == sent["size_bytes"]
        node.request_stop()


async def test_a_new_session_after_link_loss_carries_the_waiting_bundles(autojump_clock):
    """The send loop of a session that went down is gone with it; the next session gets a loop of its own and
    carries what waited meanwhile, once."""
    contacts = [Contact(1, 2, 0, 1000, 1e6), Contact(2, 1, 0, 1000, 1e6)]
    plan = ContactPlan(epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)], contacts=contacts)
    async with MemoryNetwork(plan, clock=TrioClock(plan.epoch_unix_s)) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        await trio.sleep(1)
        first = a.peers[2].session
        assert first is not None
        net.block(1, 2)
        await trio.sleep(1)
        assert a.peers[2].session is None
        sent = await a.send_from_application("ipn:2.1", b"y" * 5000, lifetime_s=900)
        await trio.sleep(5)
        net.unblock(1, 2)
        item = await receive_within(b, "ipn:2.1", 500)
        assert item is not None and item["payload"] == b"y" * 5000 and item["bundle"] == sent["bundle"]
        await b.acknowledge_delivery(item["bundle"])
        await trio.sleep(1)
        assert a.peers[2].session is not None and a.peers[2].session is not first
        forwarded = [e for e in net.events if e["event"] == "forwarded" and e["node"] == a.node_id]
        assert [e["bundle"] for e in forwarded] == [sent["bundle"]]
