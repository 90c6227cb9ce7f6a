"""Link loss with real processes: a TCP link cut mid-transfer; the bundle is rerouted through D and delivered."""

from __future__ import annotations

import os

import pytest
import trio

from dtn.client import Client
from tests.node.conftest import both

pytestmark = pytest.mark.timeout(90)


class ThrottledProxy:
    """A loopback TCP proxy that carries client->server bytes at `rate_bytes_per_s` and can be cut."""

    def __init__(self, target_port: int, rate_bytes_per_s: float) -> None:
        self.target_port = target_port
        self.rate_bytes_per_s = rate_bytes_per_s
        self.forwarded_bytes = 0
        self.cut_now = False
        self._streams: list[trio.SocketStream] = []
        self.port = 0

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        if self.cut_now:
            await trio.aclose_forcefully(client)
            return
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        except OSError:  # B not up yet: A retries
            await trio.aclose_forcefully(client)
            return
        self._streams += [client, server]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, client, server, True)
            nursery.start_soon(self._pump, server, client, False)

    async def _pump(self, src, dst, throttle: bool) -> None:
        try:
            while True:
                data = await src.receive_some(16384)
                if not data:
                    break
                if throttle:
                    await trio.sleep(len(data) / self.rate_bytes_per_s)
                    self.forwarded_bytes += len(data)
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(dst)

    async def cut(self) -> None:
        self.cut_now = True
        for stream in self._streams:
            await trio.aclose_forcefully(stream)


async def test_link_cut_mid_transfer_reroutes_through_d(cluster):
    # A(1)-B(2)-C(3) is the fast path; A-D(4)-C has half a second of light time each way, so CGR picks B.
    contacts = both(1, 2, 0, 60) + both(2, 3, 0, 60)
    contacts += [(1, 4, 0, 60, 1e8, 0.5), (4, 1, 0, 60, 1e8, 0.5), (4, 3, 0, 60, 1e8, 0.5), (3, 4, 0, 60, 1e8, 0.5)]
    cluster.plan(contacts, start_in_s=0.0)
    proxy = ThrottledProxy(cluster.ports[2], rate_bytes_per_s=400_000)
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.serve)
        cluster.config(1, [2, 4], address_of={2: f"127.0.0.1:{proxy.port}"})
        cluster.config(2, [1, 3])
        cluster.config(3, [2, 4])
        cluster.config(4, [1, 3])
        await trio.to_thread.run_sync(cluster.start, 1, 2, 3, 4)
        payload = os.urandom(1_500_000)  # ~4 s through the proxy
        async with await Client.connect(cluster.sock(1)) as a:
            sent = await a.send("ipn:3.1", payload, lifetime_s=60)
        with trio.fail_after(20):
            while proxy.forwarded_bytes < 300_000:
                await trio.sleep(0.02)
        await proxy.cut()  # mid-transfer: A has sent part of the bundle to B
        async with await Client.connect(cluster.sock(3)) as c:
            delivery = await c.receive("ipn:3.1", timeout_s=20)
            assert delivery is not None and delivery.payload == payload
            await c.ack(delivery)
        nursery.cancel_scope.cancel()
    failed = cluster.of(1, "forward_failed")
    assert [e["bundle"] for e in failed] == [sent.bundle]
    routes = [e["next_hop"] for e in cluster.of(1, "routed") if e["bundle"] == sent.bundle]
    assert routes == [2, 4]
    assert [e["bundle"] for e in cluster.of(4, "forwarded")] == [sent.bundle]
    assert not cluster.of(2, "forwarded")  # B never had the whole bundle
