"""The Trio LTP adapter on real loopback UDP sockets, through the relay emulator (short real-time runs)."""

from __future__ import annotations

import random

import pytest
import trio

from dtn.bpv7 import Bundle, encode
from dtn.cla.ltp import LtpEndpoint
from dtn.errors import ClaError
from dtn.ltp import LtpConfig
from dtn.twin.runner.udp_emulator import UdpRelay
from dtn.twin.udp_emulator import Impairments


def make_bundles(count: int, size: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [
        encode(Bundle.create("ipn:1.1", "ipn:2.1", rng.randbytes(size), creation_time_ms=1000 + i, sequence=i))
        for i in range(count)
    ]


async def pair_through_relay(
    nursery, impairments: Impairments, *, aggregation_bytes: int = 0, rate: float = 0.0, seed: int = 1, **engine
):
    got: dict[int, list[bytes]] = {1: [], 2: []}
    up: list[tuple[int, str]] = []

    def receiver(me):
        async def on_bundle(data, link):
            assert link.peer_node_id == f"ipn:{3 - me}.0"
            got[me].append(data)

        return on_bundle

    async def on_up(link):
        up.append((link.peer, "up"))

    async def on_down(link, reason):
        up.append((link.peer, "down"))

    # Bind the engines first (port 0), then tell each the relay's port as its neighbour's address.
    cfg = dict(timer_margin_s=0.3, **engine)
    a = LtpEndpoint(
        LtpConfig(engine_id=1, **cfg),
        peers={2: ("127.0.0.1", 9)},
        on_bundle=receiver(1),
        on_link_up=on_up,
        on_link_down=on_down,
        aggregation_bytes=aggregation_bytes,
        default_owlt_s=impairments.owlt_s,
        default_rate_bytes_per_s=rate,
    )
    b = LtpEndpoint(
        LtpConfig(engine_id=2, **cfg),
        peers={1: ("127.0.0.1", 9)},
        on_bundle=receiver(2),
        aggregation_bytes=aggregation_bytes,
        default_owlt_s=impairments.owlt_s,
        default_rate_bytes_per_s=rate,
    )
    a_port = await nursery.start(a.run, "127.0.0.1", 0)
    b_port = await nursery.start(b.run, "127.0.0.1", 0)
    relay = UdpRelay(
        a_address=("127.0.0.1", a_port),
        b_address=("127.0.0.1", b_port),
        a_to_b=impairments,
        b_to_a=impairments,
        seed=seed,
    )
    relay_a, relay_b = await nursery.start(relay.run)
    a.peers[2] = ("127.0.0.1", relay_a)
    b.peers[1] = ("127.0.0.1", relay_b)
    return a, b, relay, got, up


async def wait_for(predicate, timeout_s: float) -> None:
    with trio.fail_after(timeout_s):
        while not predicate():
            await trio.sleep(0.02)


async def test_bundles_cross_a_lossy_delayed_link_intact():
    bundles = make_bundles(20, 20_000)
    async with trio.open_nursery() as nursery:
        imp = Impairments(owlt_s=0.2, loss=0.05, duplicate=0.02, reorder=0.05, reorder_s=0.02)
        a, b, relay, got, up = await pair_through_relay(nursery, imp)
        link_ab = await a.open_span(2)
        await b.open_span(1)
        for bundle in bundles:
            await link_ab.send_bundle(bundle)
        await wait_for(lambda: len(got[2]) == len(bundles), 30)
        await wait_for(lambda: a.engine.session_counts() == (0, 0) and b.engine.session_counts() == (0, 0), 30)
        assert sorted(got[2]) == sorted(bundles)
        assert relay.stats["a_to_b"]["lost"] > 0
        assert a.stats["blocks_completed"] == len(bundles)
        nursery.cancel_scope.cancel()


async def test_aggregation_packs_several_bundles_per_block():
    bundles = make_bundles(30, 1000, seed=2)
    async with trio.open_nursery() as nursery:
        a, b, relay, got, _ = await pair_through_relay(nursery, Impairments(), aggregation_bytes=8000)
        link = await a.open_span(2)
        await b.open_span(1)
        for bundle in bundles:
            await link.send_bundle(bundle)
        await wait_for(lambda: len(got[2]) == len(bundles), 10)
        assert got[2] == bundles  # one engine, one span: blocks in order, bundles in order within a block
        assert a.stats["blocks_sent"] < len(bundles) / 3
        nursery.cancel_scope.cancel()


async def test_closed_span_holds_data_and_resumes_when_it_reopens():
    bundles = make_bundles(5, 5000, seed=3)
    async with trio.open_nursery() as nursery:
        a, b, relay, got, up = await pair_through_relay(nursery, Impairments(owlt_s=0.05))
        link = await a.open_span(2)
        await b.open_span(1)
        for bundle in bundles:
            await link.send_bundle(bundle)
        await a.close_span(2)  # before anything could be pulled and sent
        await trio.sleep(0.5)
        assert got[2] == [] and link.closed
        with pytest.raises(ClaError):
            await link.send_bundle(bundles[0])
        await a.open_span(2)
        await wait_for(lambda: len(got[2]) == len(bundles), 10)
        assert up == [(2, "up"), (2, "down"), (2, "up")]
        nursery.cancel_scope.cancel()


async def test_rate_limit_paces_the_span():
    bundles = make_bundles(1, 200_000, seed=4)
    async with trio.open_nursery() as nursery:
        a, b, relay, got, _ = await pair_through_relay(nursery, Impairments(), rate=1_000_000)
        link = await a.open_span(2)
        await b.open_span(1)
        start = trio.current_time()
        await link.send_bundle(bundles[0])
        await wait_for(lambda: len(got[2]) == 1, 10)
        elapsed = trio.current_time() - start
        assert elapsed >= 0.15  # 200 kB plus headers at 1 MB/s, less at most 50 ms of burst credit
        nursery.cancel_scope.cancel()


async def test_malformed_datagrams_are_ignored():
    async with trio.open_nursery() as nursery:
        a, b, relay, got, _ = await pair_through_relay(nursery, Impairments())
        port = a._socket.getsockname()[1]
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        for junk in (b"", b"\xff", b"\x00\x02\x80", b"\x08\x02\x05\x00\x01\x01\x05\x01\xff\xff\xff"):
            await sock.sendto(junk, ("127.0.0.1", port))
        sock.close()
        await trio.sleep(0.2)
        assert a.stats["datagrams_malformed"] >= 3
        link = await a.open_span(2)
        await b.open_span(1)
        await link.send_bundle(make_bundles(1, 100)[0])
        await wait_for(lambda: len(got[2]) == 1, 5)
        nursery.cancel_scope.cancel()


async def test_each_contact_is_a_new_link_and_a_waiting_sender_fails_when_it_closes():
    bundles = make_bundles(3, 2000, seed=5)
    async with trio.open_nursery() as nursery:
        a, b, relay, got, up = await pair_through_relay(nursery, Impairments(), max_export_sessions=1)
        first = await a.open_span(2)
        await first.send_bundle(bundles[0])  # takes the only session (b's span is closed: no report comes back)
        failed = []

        async def blocked_sender():
            try:
                await first.send_bundle(bundles[1])
            except ClaError as exc:
                failed.append(str(exc))

        nursery.start_soon(blocked_sender)
        await trio.sleep(0.2)
        await a.close_span(2)
        await wait_for(lambda: failed, 5)
        second = await a.open_span(2)
        assert second is not first and first.closed and not second.closed
        await b.open_span(1)
        await second.send_bundle(bundles[2])
        await wait_for(lambda: len(got[2]) == 2, 10)
        assert sorted(got[2]) == sorted([bundles[0], bundles[2]])
        nursery.cancel_scope.cancel()
