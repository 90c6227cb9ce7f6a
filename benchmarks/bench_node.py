"""Throughput and latency through a 3-node chain of real `dtn node run` processes (durable SQLite stores).

    python benchmarks/bench_node.py            # full run
    python benchmarks/bench_node.py --quick    # a few seconds

A(1) -> B(2) -> C(3) on loopback, every contact up for the whole run. An application on A sends N bundles to
ipn:3.1 through A's agent socket while an application on C receives and acknowledges them; we time first send
to last acknowledgement. The same run measures the peer figure: a single TCPCLv4 hop (dtn.cla.tcpcl, one
session, in this process, no store) carrying the same bundles, and prints chain/single-hop ratios. Latency is
one small bundle at a time, A to C and acknowledged, with every contact up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

import trio

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dtn.bpv7.bundle import Bundle  # noqa: E402
from dtn.bpv7.codec import encode  # noqa: E402
from dtn.client import Client  # noqa: E402
from dtn.twin.runner.process import NodeProcess, free_port  # noqa: E402

KiB = 1024
MiB = 1024 * 1024


def write_chain(root: pathlib.Path) -> list[pathlib.Path]:
    ports = {n: free_port() for n in (1, 2, 3)}
    epoch = dt.datetime.fromtimestamp(time.time() - 1, tz=dt.timezone.utc)
    contacts = []
    for a, b in ((1, 2), (2, 3)):
        for x, y in ((a, b), (b, a)):
            contacts.append({"from_node": x, "to_node": y, "start_s": 0, "end_s": 86400, "rate_bytes_per_s": 1e10})
    (root / "plan.json").write_text(
        json.dumps(
            {
                "format": "spacedtn-contact-plan",
                "version": 1,
                "name": "bench chain",
                "epoch_utc": epoch.isoformat().replace("+00:00", "Z"),
                "nodes": [{"number": n} for n in (1, 2, 3)],
                "contacts": contacts,
            }
        )
    )
    paths = []
    neighbours = {1: [2], 2: [1, 3], 3: [2]}
    for n in (1, 2, 3):
        lines = [
            "[node]",
            f'id = "ipn:{n}.0"',
            "[store]",
            f'path = "{n}.db"',
            "[plan]",
            'file = "plan.json"',
            "[[listen]]",
            f"port = {ports[n]}",
            "[agent]",
            f'socket = "{n}.sock"',
            "[bundles]",
            "lifetime_s = 3600",
        ]
        for peer in neighbours[n]:
            lines += [f"[neighbours.{peer}]", f'address = "127.0.0.1:{ports[peer]}"']
        path = root / f"{n}.toml"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


async def chain_throughput(root: pathlib.Path, size_bytes: int, count: int) -> tuple[float, float]:
    """(bundles/s, MB/s) of `count` bundles of `size_bytes` payload, A to C, acknowledged at C."""
    payload = os.urandom(size_bytes)
    encoded_bytes = 0
    async with await Client.connect(root / "1.sock") as a, await Client.connect(root / "3.sock") as c:
        started = trio.current_time()

        async def sender() -> None:
            nonlocal encoded_bytes
            for _ in range(count):
                sent = await a.send("ipn:3.1", payload)
                encoded_bytes += sent.size_bytes

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            for _ in range(count):
                delivery = await c.receive("ipn:3.1", timeout_s=60)
                if delivery is None:
                    raise RuntimeError("bundle lost in the benchmark chain")
                await c.ack(delivery)
        elapsed = trio.current_time() - started
    return count / elapsed, count * size_bytes / elapsed / 1e6


async def chain_latency(root: pathlib.Path, samples: int) -> list[float]:
    out = []
    async with await Client.connect(root / "1.sock") as a, await Client.connect(root / "3.sock") as c:
        for i in range(samples):
            started = trio.current_time()
            await a.send("ipn:3.1", f"latency {i}".encode())
            delivery = await c.receive("ipn:3.1", timeout_s=30)
            await c.ack(delivery)
            out.append(trio.current_time() - started)
    return out


async def single_hop_tcpcl(size_bytes: int, count: int) -> tuple[float, float]:
    """The peer figure: one TCPCLv4 session on loopback, same bundle sizes, no store."""
    from dtn.cla.tcpcl import connect_tcpcl, serve_tcpcl
    from dtn.tcpcl import TcpclConfig

    bundle = encode(Bundle.create("ipn:1.0", "ipn:2.1", os.urandom(size_bytes), creation_time_ms=1))
    received = 0
    done = trio.Event()

    async def on_bundle(data, link) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_tcpcl, TcpclConfig(node_id="ipn:2.0"), on_bundle)
        link = await connect_tcpcl(TcpclConfig(node_id="ipn:1.0"), "127.0.0.1", port, on_bundle, nursery=nursery)
        started = trio.current_time()
        for _ in range(count):
            await link.send_bundle(bundle)
        await done.wait()
        elapsed = trio.current_time() - started
        await link.close()
        nursery.cancel_scope.cancel()
    return count / elapsed, count * size_bytes / elapsed / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer bundles (a few seconds)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    plan = {1 * KiB: 200 if args.quick else 2000, 1 * MiB: 10 if args.quick else 100}
    latency_samples = 20 if args.quick else 200

    from rich.console import Console
    from rich.table import Table

    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-bench-", dir="/tmp"))
    procs: list[NodeProcess] = []
    results: dict = {"throughput": [], "latency_s": {}}
    try:
        procs = NodeProcess.start_many(write_chain(root), log_dir=root)

        async def run_all() -> None:
            async with await Client.connect(root / "1.sock") as a:  # wait for both sessions
                for _ in range(200):
                    if sum(p["session"] for p in (await a.status())["peers"]) >= 1:
                        break
                    await trio.sleep(0.05)
            await chain_latency(root, 3)  # warm up every session
            for size, count in plan.items():
                chain_bps, chain_mbps = await chain_throughput(root, size, count)
                hop_bps, hop_mbps = await single_hop_tcpcl(size, count)
                results["throughput"].append(
                    {
                        "size_bytes": size,
                        "count": count,
                        "chain_bundles_per_s": chain_bps,
                        "chain_mb_per_s": chain_mbps,
                        "tcpcl_bundles_per_s": hop_bps,
                        "tcpcl_mb_per_s": hop_mbps,
                        "ratio": chain_bps / hop_bps,
                    }
                )
            lat = await chain_latency(root, latency_samples)
            lat.sort()
            results["latency_s"] = {
                "samples": len(lat),
                "median": statistics.median(lat),
                "p95": lat[int(0.95 * (len(lat) - 1))],
                "min": lat[0],
                "max": lat[-1],
            }

        trio.run(run_all)
    finally:
        for proc in procs:
            try:
                proc.stop(timeout_s=10)
            except Exception:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)

    console = Console()
    table = Table(title="3-node chain (durable SQLite stores) vs single-hop TCPCLv4, loopback")
    for col in (
        "bundle",
        "count",
        "chain bundles/s",
        "chain MB/s",
        "TCPCLv4 1 hop bundles/s",
        "TCPCLv4 MB/s",
        "ratio chain/1-hop",
    ):
        table.add_column(col, justify="right")
    for r in results["throughput"]:
        size = f"{r['size_bytes'] // KiB} KiB" if r["size_bytes"] < MiB else f"{r['size_bytes'] // MiB} MiB"
        table.add_row(
            size,
            str(r["count"]),
            f"{r['chain_bundles_per_s']:.0f}",
            f"{r['chain_mb_per_s']:.2f}",
            f"{r['tcpcl_bundles_per_s']:.0f}",
            f"{r['tcpcl_mb_per_s']:.2f}",
            f"{r['ratio']:.3f}",
        )
    console.print(table)
    lat = results["latency_s"]
    console.print(
        f"end-to-end latency A->C, all contacts up ({lat['samples']} samples): median {lat['median'] * 1000:.1f} ms, "
        f"p95 {lat['p95'] * 1000:.1f} ms, min {lat['min'] * 1000:.1f} ms, max {lat['max'] * 1000:.1f} ms"
    )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
