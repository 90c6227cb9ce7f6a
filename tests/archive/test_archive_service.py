"""The archive service between in-process nodes, in virtual time (dtn/node/archive.py)."""

from __future__ import annotations

import os

import trio

from dtn.archive.messages import ChunkMsg, encode_message
from dtn.node.clock import TrioClock
from dtn.node.testing import MemoryNetwork
from tests.archive.conftest import CENTRE, PLANES, USER, archive_configs

OBJECT = os.urandom(200_000)


async def _start_all(net, plan):
    return {n.number: await net.start_node(n.number) for n in plan.nodes}


async def test_put_places_replicas_on_distinct_planes_and_acknowledges(constellation, autojump_clock):
    async with MemoryNetwork(
        constellation, clock=TrioClock(constellation.epoch_unix_s), configs=archive_configs(constellation, centres=())
    ) as net:
        nodes = await _start_all(net, constellation)
        archive = nodes[CENTRE].archive
        result = await archive.put(OBJECT, "products/l1.bin", metadata={"kind": "L1"})
        assert result["new"] and len(result["replicas"]) == 3
        assert len({PLANES[r] for r in result["replicas"]}) == 3
        status = await within(3600, archive.wait_put(result["object_id"], "products/l1.bin", "all"))
        assert status["first_replica_unix_s"] is not None
        assert status["all_replicas_unix_s"] >= status["first_replica_unix_s"]
        assert sorted(status["acked"]) == sorted(result["replicas"])
        for r in result["replicas"]:
            obj = nodes[r].archive.db.object(result["object_id"])
            assert obj["complete"] and obj["role"] == "replica"
        again = await archive.put(OBJECT, "products/l1.bin")  # idempotent
        assert not again["new"] and again["object_id"] == result["object_id"]
        alias = await archive.put(OBJECT, "alias.bin")  # same content: stored once
        assert not alias["new"] and alias["replicas"] == result["replicas"]
        await trio.sleep(60)
        served = [e for e in net.events if e["event"] == "archive_replica"]
        assert len(served) == 3  # no second copy was sent anywhere
        names = [o["name"] for o in nodes[USER].archive.list()]
        assert names == ["alias.bin", "products/l1.bin"]
        for n in list(net.nodes):
            await net.stop_node(n)


async def test_get_with_origin_and_k_minus_1_replicas_down(constellation, autojump_clock):
    async with MemoryNetwork(
        constellation,
        clock=TrioClock(constellation.epoch_unix_s),
        configs=archive_configs(constellation, centres=(CENTRE,)),
    ) as net:
        nodes = await _start_all(net, constellation)
        put = await nodes[CENTRE].archive.put(OBJECT, "backup.tar", replicas=3)
        await within(3600, nodes[CENTRE].archive.wait_put(put["object_id"], "backup.tar", "all"))
        replicas = put["replicas"]
        keep = replicas[-1]
        for node in [CENTRE, *replicas[:-1]]:
            await net.stop_node(node)
        got = await within(6 * 3600, nodes[USER].archive.get("backup.tar"))
        assert got["data"] == OBJECT
        served = [e for e in net.events if e["event"] == "archive_served"]
        assert {e["node"] for e in served} == {f"ipn:{keep}.0"}
        again = await nodes[USER].archive.get("backup.tar")  # now kept here
        assert again["data"] == OBJECT
        for n in list(net.nodes):
            await net.stop_node(n)


async def test_corrupted_chunk_is_detected_and_fetched_again(constellation, autojump_clock):
    async with MemoryNetwork(
        constellation,
        clock=TrioClock(constellation.epoch_unix_s),
        configs=archive_configs(constellation, chunk_bytes=16384),
    ) as net:
        nodes = await _start_all(net, constellation)
        put = await nodes[CENTRE].archive.put(OBJECT, "x.bin")
        await within(3600, nodes[CENTRE].archive.wait_put(put["object_id"], "x.bin", "all"))
        oid = put["object_id"]
        # Bit rot at rest on one replica: it must never be served, and the replica heals itself.
        rotten = put["replicas"][0]
        nodes[rotten].archive.db.corrupt_chunk_for_tests(oid, 1, b"\0" * 16384)
        # A forged, corrupted chunk in transit to the requester, sent before any honest one can arrive.
        user = nodes[USER].archive
        fetch_task_started = trio.Event()

        async def forge():
            await fetch_task_started.wait()
            await nodes[30].send_from_application(
                f"ipn:{USER}.64", encode_message(ChunkMsg(oid, 1, 0, b"\xff" * 16384)), source="ipn:30.64"
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(forge)
            user._start_fetch(user.lookup("x.bin").manifest, "cache")
            fetch_task_started.set()
            got = await within(6 * 3600, user.get("x.bin"))
        assert got["data"] == OBJECT
        corrupt = [e for e in net.events if e["event"] == "archive_corrupt"]
        assert any(e["node"] == f"ipn:{USER}.0" and e["src"] == 30 for e in corrupt)  # detected in transit
        assert any(e["node"] == f"ipn:{rotten}.0" and e["chunk"] == 1 for e in corrupt)  # detected at rest
        healed = nodes[rotten].archive
        await healed._fetches[oid].done.wait() if oid in healed._fetches else None
        assert healed.db.object(oid)["complete"] and healed.db.chunk(oid, 1) == OBJECT[16384:32768]
        fetched = [e for e in net.events if e["event"] == "archive_fetched" and e["node"] == f"ipn:{USER}.0"]
        assert fetched and fetched[0]["name"] == "x.bin"
        for n in list(net.nodes):
            await net.stop_node(n)


async def within(duration_s: float, awaitable):
    """Await `awaitable` inside a cancel scope of `duration_s` (the archive service's waits have no timeout
    arguments); None when it expires."""
    with trio.move_on_after(duration_s):
        return await awaitable
    return None
