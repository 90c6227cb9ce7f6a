"""Benchmark: TCPCLv4 sessions on loopback vs the same bytes through a raw trio socket pair, in the same run.

    python benchmarks/bench_tcpcl.py            # full run
    python benchmarks/bench_tcpcl.py --quick    # a few seconds

Three measurements, each plain TCP and then TLS 1.3 (the raw peer is then a raw trio.SSLStream pair):
1. 1 MiB bundles: MiB/s through TCPCLv4 (every bundle acknowledged by the receiver after its on_bundle
   returned) vs raw send_all of the same bytes. Target: TCPCLv4 >= 60 % of raw.
2. 100 B bundles per second, pipelined (many concurrent send_bundle calls) vs raw 100-byte writes.
   Target: >= 20,000 bundles/s.
3. Request/echo round trip of a 100 B bundle (p50 / p99): client sends, the server echoes it back as a new
   bundle, the client's on_bundle sees it. Raw peer: a 100-byte echo over a socket. Target: p50 < 1 ms, which
   only holds with TCP_NODELAY and one write per message (no Nagle stall).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import trio
from rich.console import Console
from rich.table import Table

from dtn.cla import connect_tcpcl, serve_tcpcl
from dtn.tcpcl import MiB, TcpclConfig

try:
    import trustme
except ModuleNotFoundError:  # pragma: no cover - the dev extra installs it
    sys.exit("trustme is not installed: pip install -e .[dev]")

from dtn.cla.tls import client_context, issue_node_certificate, server_context

BIG = dict(transfer_mru_bytes=64 * MiB, max_buffered_bytes=256 * MiB, keepalive_s=0)


def configs(tls: bool):
    if not tls:
        return TcpclConfig("ipn:2.0", **BIG), TcpclConfig("ipn:1.0", **BIG), None, None
    ca = trustme.CA()
    ca_pem = ca.cert_pem.bytes()
    s_cert, s_key = issue_node_certificate(ca_pem, ca.private_key_pem.bytes(), "ipn:2.0")
    c_cert, c_key = issue_node_certificate(ca_pem, ca.private_key_pem.bytes(), "ipn:1.0")
    server_ctx, client_ctx = server_context(s_cert, s_key, ca_pem), client_context(ca_pem, c_cert, c_key)
    server = TcpclConfig("ipn:2.0", can_tls=True, ssl_context_server=server_ctx, **BIG)
    client = TcpclConfig("ipn:1.0", can_tls=True, ssl_context_client=client_ctx, **BIG)
    # raw TLS peer: the same certificates, without TCPCL
    raw_server = server_context(s_cert, s_key, ca_pem, require_client_cert=False)
    return server, client, raw_server, client_context(ca_pem)


async def raw_pair(raw_server_ctx, raw_client_ctx):
    """A connected (client, server) stream pair over loopback TCP, TLS when contexts are given."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    if raw_server_ctx is None:
        return client, server
    client = trio.SSLStream(client, raw_client_ctx, server_hostname="localhost")
    server = trio.SSLStream(server, raw_server_ctx, server_side=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)
    return client, server


class Timer:
    """Wall and CPU seconds of a block (CPU time shows the cost even when other processes share the cores)."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self.wall0
        self.cpu_s = time.process_time() - self.cpu0


async def raw_throughput_s(raw_ctx, payload: bytes, count: int) -> tuple[float, float]:
    client, server = await raw_pair(*raw_ctx)
    total = len(payload) * count

    async def drain():
        got = 0
        while got < total:
            got += len(await server.receive_some(256 * 1024))

    with Timer() as t:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            for _ in range(count):
                await client.send_all(payload)
    await client.aclose()
    await server.aclose()
    return t.wall_s, t.cpu_s


async def raw_echo_rtts(raw_ctx, count: int) -> list[float]:
    client, server = await raw_pair(*raw_ctx)
    payload = b"r" * 100

    async def echo():
        while data := await server.receive_some(65536):
            await server.send_all(data)

    rtts = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        for _ in range(count):
            start = time.perf_counter()
            await client.send_all(payload)
            got = 0
            while got < len(payload):
                got += len(await client.receive_some(65536))
            rtts.append(time.perf_counter() - start)
        await client.aclose()
    await server.aclose()
    return rtts


async def tcpcl_case(tls: bool, big_count: int, small_count: int, rtt_count: int) -> dict:
    server_cfg, client_cfg, *raw_ctx = configs(tls)
    results: dict = {}
    echo_event = trio.Event()
    state = {"echo": False, "server_link": None}
    received = {"bytes": 0}

    async def on_server_bundle(data, link):
        received["bytes"] += len(data)
        if state["echo"]:
            nursery.start_soon(link.send_bundle, data)

    async def on_client_bundle(data, link):
        echo_event.set()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(serve_tcpcl, server_cfg, on_server_bundle))
        link = await connect_tcpcl(
            client_cfg, "127.0.0.1", port, on_client_bundle, nursery=nursery, server_hostname="localhost"
        )

        # 1. 1 MiB bundles, 4 transfers in flight
        payload = b"m" * MiB
        await link.send_bundle(payload)  # warm up

        async def send_big(n: int):
            for _ in range(n):
                await link.send_bundle(payload)

        with Timer() as t:
            async with trio.open_nursery() as senders:
                for i in range(4):
                    senders.start_soon(send_big, big_count // 4 + (i < big_count % 4))
        results["big_s"] = t.wall_s, t.cpu_s
        results["raw_big_s"] = await raw_throughput_s(raw_ctx, payload, big_count)

        # 2. 100 B bundles, pipelined
        small = b"s" * 100
        workers = 256  # concurrent send_bundle calls, each waiting for its ack before the next bundle

        async def send_small(n: int):
            for _ in range(n):
                await link.send_bundle(small)

        with Timer() as t:
            async with trio.open_nursery() as senders:
                for i in range(workers):
                    senders.start_soon(send_small, small_count // workers + (i < small_count % workers))
        results["small_s"] = t.wall_s, t.cpu_s
        results["raw_small_s"] = await raw_throughput_s(raw_ctx, small, small_count)

        # 3. request / echo round trip
        state["echo"] = True
        rtts = []
        for _ in range(rtt_count):
            echo_event = trio.Event()
            start = time.perf_counter()
            nursery.start_soon(link.send_bundle, b"e" * 100)
            await echo_event.wait()
            rtts.append(time.perf_counter() - start)
        results["rtts"] = rtts
        results["raw_rtts"] = await raw_echo_rtts(raw_ctx, rtt_count)
        await link.close()
        nursery.cancel_scope.cancel()
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer bundles (a few seconds in total)")
    args = parser.parse_args(argv)
    big_count, small_count, rtt_count = (64, 5_000, 500) if args.quick else (512, 50_000, 3_000)
    console = Console()
    table = Table(title=f"TCPCLv4 on loopback vs a raw trio socket pair ({'quick' if args.quick else 'full'} run)")
    for column in ("transport", "measure", "TCPCLv4", "raw socket", "ratio", "target"):
        table.add_column(column, justify="right" if column not in ("transport", "measure") else "left")
    for tls in (False, True):
        name = "TLS 1.3" if tls else "TCP"
        r = trio.run(tcpcl_case, tls, big_count, small_count, rtt_count)
        # Sender and receiver share this one process: "per CPU s" divides by the process's CPU time, the rate
        # the run would reach on otherwise idle cores.
        for label, key, count, target in (
            ("1 MiB bundles, MiB/s", "big_s", big_count, ">= 60 %"),
            ("100 B bundles/s", "small_s", small_count, ">= 20,000/s"),
        ):
            (wall, cpu), (raw_wall, raw_cpu) = r[key], r["raw_" + key]
            table.add_row(
                name,
                f"{label} (wall)",
                f"{count / wall:,.0f}",
                f"{count / raw_wall:,.0f}",
                f"{raw_wall / wall:.0%}",
                target,
            )
            table.add_row(
                name,
                f"{label} (per CPU s)",
                f"{count / cpu:,.0f}",
                f"{count / raw_cpu:,.0f}",
                f"{raw_cpu / cpu:.0%}",
                target,
            )
        for label, q in (("p50", 0.50), ("p99", 0.99)):
            ours, raw = pct(r["rtts"], q) * 1e3, pct(r["raw_rtts"], q) * 1e3
            table.add_row(
                name,
                f"echo round trip {label}, ms",
                f"{ours:.3f}",
                f"{raw:.3f}",
                f"{ours / raw:.1f}x",
                "< 1 ms" if label == "p50" else "",
            )
        console.print(f"[dim]{name}: mean echo {statistics.mean(r['rtts']) * 1e3:.3f} ms[/dim]")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
