"""Benchmark: the convergence layers side by side on loopback, in the same run, with a raw socket as the peer.

    python benchmarks/bench_cla.py            # full run
    python benchmarks/bench_cla.py --quick    # a few seconds

1. 1 MiB bundles, MiB/s: TCPCLv4, TCPCLv3 (acks on: each bundle acknowledged after the receiver's on_bundle
   returned), STCP (no acks) and a raw trio socket writing the same bytes. Ratios are against the raw socket.
2. 100 B bundles per second, one at a time (send_bundle awaited): TCPCLv4, TCPCLv3, STCP, UDP.
No target is asserted; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import time

import trio
from rich.console import Console
from rich.table import Table

from dtn.cla import connect_tcpcl, serve_tcpcl
from dtn.cla.stcp import connect_stcp, serve_stcp
from dtn.cla.tcpclv3 import connect_tcpclv3, serve_tcpclv3
from dtn.cla.udp import dial_udp, serve_udp
from dtn.tcpcl import MiB, TcpclConfig
from dtn.tcpclv3 import TcpclV3Config


class Sink:
    def __init__(self, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.done = trio.Event()

    async def on_bundle(self, data, link) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()


async def nothing(data, link) -> None:
    pass


async def open_link(kind: str, nursery, sink: Sink):
    if kind == "tcpcl":
        big = dict(transfer_mru_bytes=64 * MiB, max_buffered_bytes=256 * MiB, keepalive_s=0)
        port = await nursery.start(functools.partial(serve_tcpcl, TcpclConfig("ipn:2.0", **big), sink.on_bundle))
        return await connect_tcpcl(TcpclConfig("ipn:1.0", **big), "127.0.0.1", port, nothing, nursery=nursery)
    if kind == "tcpclv3":
        port = await nursery.start(
            functools.partial(serve_tcpclv3, TcpclV3Config("ipn:2.0", keepalive_s=0), sink.on_bundle)
        )
        return await connect_tcpclv3(
            TcpclV3Config("ipn:1.0", keepalive_s=0), "127.0.0.1", port, nothing, nursery=nursery
        )
    if kind == "stcp":
        port = await nursery.start(functools.partial(serve_stcp, sink.on_bundle))
        return await connect_stcp("127.0.0.1", port, nothing, nursery=nursery)
    if kind == "udp":
        port = await nursery.start(functools.partial(serve_udp, sink.on_bundle))
        return await nursery.start(functools.partial(dial_udp, "127.0.0.1", port))
    raise ValueError(kind)


async def throughput(kind: str, size: int, count: int) -> float:
    """Bundles of `size` bytes per second, each send awaited, until the receiver has them all."""
    payload = b"\xa5" * size
    async with trio.open_nursery() as nursery:
        sink = Sink(count)
        if kind == "raw":
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]

            async def drain(stream):
                total = 0
                while total < size * count:
                    total += len(await stream.receive_some(1 << 20))
                sink.done.set()

            await nursery.start(trio.serve_listeners, drain, listeners)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            start = time.perf_counter()
            for _ in range(count):
                await stream.send_all(payload)
        else:
            link = await open_link(kind, nursery, sink)
            start = time.perf_counter()
            for _ in range(count):
                await link.send_bundle(payload)
        with trio.move_on_after(10):  # UDP may lose datagrams: count what arrived
            await sink.done.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    received = count if kind == "raw" else sink.count
    if received < count:
        print(f"{kind}: {count - received} of {count} bundles lost")
    return received / elapsed


async def main(quick: bool) -> None:
    console = Console()
    big_count, small_count = (30, 2000) if quick else (300, 20000)
    table = Table(title="convergence layers on loopback (same run)")
    for col in ("measure", "CLA", "value", "vs raw socket", "vs TCPCLv4"):
        table.add_column(col)
    big = {k: await throughput(k, MiB, big_count) for k in ("raw", "tcpcl", "tcpclv3", "stcp")}
    for k in ("raw", "tcpcl", "tcpclv3", "stcp"):
        table.add_row(
            "1 MiB bundles", k, f"{big[k]:,.0f} MiB/s", f"{big[k] / big['raw']:.0%}", f"{big[k] / big['tcpcl']:.0%}"
        )
    small = {k: await throughput(k, 100, small_count) for k in ("tcpcl", "tcpclv3", "stcp", "udp")}
    for k in ("tcpcl", "tcpclv3", "stcp", "udp"):
        table.add_row("100 B bundles, one at a time", k, f"{small[k]:,.0f} /s", "", f"{small[k] / small['tcpcl']:.0%}")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    trio.run(main, parser.parse_args().quick)
