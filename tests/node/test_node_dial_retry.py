"""`dial_failed` reports a non-negative `retry_s`, even when a dial takes longer than the backoff delay."""

from __future__ import annotations

import datetime as dt

import trio

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.errors import ClaError
from dtn.node.clock import TrioClock
from dtn.node.config import NodeConfig, RoutingConfig
from dtn.node.node import Node
from dtn.store import MemoryStore

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


async def test_slow_failing_dials_never_report_negative_retry(autojump_clock):
    plan = ContactPlan(
        epoch=EPOCH,
        nodes=[PlanNode(1), PlanNode(2)],
        contacts=[Contact(1, 2, 0, 1000, 1e6), Contact(2, 1, 0, 1000, 1e6)],
    )
    events = []
    attempts = []

    async def slow_dialer(peer, address):
        attempts.append(trio.current_time())
        await trio.sleep(3.0)  # longer than retry_min_s and retry_max_s: a connect timeout
        raise ClaError("connect timed out")

    cfg = NodeConfig.minimal(1, routing=RoutingConfig(retry_min_s=0.2, retry_max_s=1.0))
    node = Node(
        cfg,
        clock=TrioClock(plan.epoch_unix_s),
        store=MemoryStore(),
        dialer=slow_dialer,
        plan=plan,
        event_sink=events.append,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        await trio.sleep(30)
        node.request_stop()
    failed = [e for e in events if e["event"] == "dial_failed"]
    assert len(failed) >= 5
    assert all(0 < e["retry_s"] <= 1.0 for e in failed)
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert all(gap >= 3.0 + 0.2 - 1e-6 for gap in gaps)  # each retry waits after the failure
