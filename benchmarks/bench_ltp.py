"""Benchmark: LTP over UDP on loopback, each figure against its peer in the same run.

    python benchmarks/bench_ltp.py            # full run (~1-2 minutes)
    python benchmarks/bench_ltp.py --quick    # a few seconds

1. Goodput of 1 MiB bundles through two LTP engines (dtn.cla.ltp, red blocks, every block acknowledged by
   report segments) vs a raw UDP blast of the same bytes in datagrams of the same size. Target: >= 50 %.
2. Goodput through the UDP link emulator at 1 % and 10 % random loss vs 0 % loss through the same emulator.
   Targets: >= 80 % and >= 40 %.
3. Earth-Moon: 100 MiB over a span rate-limited to the contact rate with a 1.3 s one-way light time; time to
   deliver everything vs the ideal (size / rate + OWLT).
"""

from __future__ import annotations

import argparse
import os
import random
import time

import trio
from rich.console import Console
from rich.table import Table

from dtn.bpv7 import Bundle, encode
from dtn.cla.ltp import LtpEndpoint
from dtn.ltp import LtpConfig
from dtn.twin.runner.udp_emulator import UdpRelay
from dtn.twin.udp_emulator import Impairments

MiB = 1024 * 1024
MTU = 1400


def bundles_of(count: int, payload_bytes: int) -> list[bytes]:
    rng = random.Random(1)
    payload = rng.randbytes(payload_bytes)
    return [
        encode(Bundle.create("ipn:1.1", "ipn:2.1", payload, creation_time_ms=1000 + i, sequence=i))
        for i in range(count)
    ]


async def ltp_transfer(
    bundles: list[bytes],
    *,
    impairments: Impairments | None,
    rate: float = 0.0,
    owlt_s: float = 0.0,
    margin_s: float = 0.2,
) -> tuple[float, dict]:
    """Seconds from the first send to the last delivery, engine-to-engine (through the emulator if given)."""
    done = trio.Event()
    received = []

    async def on_bundle(data, link):
        received.append(len(data))
        if len(received) == len(bundles):
            done.set()

    async def ignore(data, link):
        pass

    cfg = dict(mtu_bytes=MTU, timer_margin_s=margin_s, max_export_sessions=64)
    a = LtpEndpoint(LtpConfig(engine_id=1, **cfg), peers={2: ("127.0.0.1", 9)}, on_bundle=ignore, default_owlt_s=owlt_s)
    b = LtpEndpoint(
        LtpConfig(engine_id=2, **cfg), peers={1: ("127.0.0.1", 9)}, on_bundle=on_bundle, default_owlt_s=owlt_s
    )
    info: dict = {}
    async with trio.open_nursery() as nursery:
        a_port = await nursery.start(a.run, "127.0.0.1", 0)
        b_port = await nursery.start(b.run, "127.0.0.1", 0)
        relay = None
        if impairments is not None:
            relay = UdpRelay(
                a_address=("127.0.0.1", a_port),
                b_address=("127.0.0.1", b_port),
                a_to_b=impairments,
                b_to_a=impairments,
                seed=11,
            )
            ra, rb = await nursery.start(relay.run)
            a.peers[2], b.peers[1] = ("127.0.0.1", ra), ("127.0.0.1", rb)
        else:
            a.peers[2], b.peers[1] = ("127.0.0.1", b_port), ("127.0.0.1", a_port)
        link = await a.open_span(2, rate_bytes_per_s=rate)
        await b.open_span(1)
        start = trio.current_time()
        for bundle in bundles:
            await link.send_bundle(bundle)
        await done.wait()
        elapsed = trio.current_time() - start
        info = {
            "retransmitted_bytes": a.engine.stats["data_retransmitted_bytes"],
            "cp_retx": a.engine.stats["checkpoint_retransmissions"],
            "lost": relay.stats["a_to_b"]["lost"] if relay else 0,
        }
        nursery.cancel_scope.cancel()
    return elapsed, info


async def raw_udp_blast(total_bytes: int) -> tuple[float, float]:
    """(seconds, fraction received): datagrams of MTU bytes, sender as fast as it can, same process."""
    rx = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    tx = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    for s in (rx, tx):
        s.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, 8 * MiB)
        s.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_SNDBUF, 8 * MiB)
    await rx.bind(("127.0.0.1", 0))
    address = rx.getsockname()
    count = -(-total_bytes // MTU)
    datagram = random.Random(2).randbytes(MTU)
    got = 0
    last = 0.0

    async def receive():
        nonlocal got, last
        while got < count:
            await rx.recv(65536)
            got += 1
            last = trio.current_time()

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        for _ in range(count):
            await tx.sendto(datagram, address)
        with trio.move_on_after(0.5):  # whatever has not arrived half a second after the last send is lost
            while got < count:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    rx.close()
    tx.close()
    return max(last - start, 1e-9), got / count


async def main(quick: bool) -> None:
    console = Console()
    load0 = os.getloadavg()
    table = Table(title="LTP over UDP on loopback (bench_ltp.py)")
    for col in ("measurement", "spacedtn LTP", "peer", "ratio", "target"):
        table.add_column(col)

    n = 8 if quick else 32
    bundles = bundles_of(n, MiB - 200)
    total = sum(len(b) for b in bundles)
    ltp_s, _ = await ltp_transfer(bundles, impairments=None)
    raw_s, raw_fraction = await raw_udp_blast(total)
    ltp_goodput = total / ltp_s / MiB
    raw_goodput = total * raw_fraction / raw_s / MiB
    table.add_row(
        f"{n} x 1 MiB bundles, MiB/s",
        f"{ltp_goodput:.1f}",
        f"raw UDP blast {raw_goodput:.1f} ({raw_fraction:.1%} arrived)",
        f"{ltp_goodput / raw_goodput:.0%}",
        ">= 50 %",
    )

    n_loss = 8 if quick else 24
    loss_bundles = bundles_of(n_loss, MiB - 200)
    loss_total = sum(len(b) for b in loss_bundles)
    loss_rate = 10e6  # the contact rate: a lossy link is slower, not a sender that overruns the emulator
    base_s, _ = await ltp_transfer(loss_bundles, impairments=Impairments(owlt_s=0.005), rate=loss_rate)
    base = loss_total / base_s / MiB
    for loss, target in ((0.01, ">= 80 %"), (0.10, ">= 40 %")):
        lossy_s, info = await ltp_transfer(
            loss_bundles, impairments=Impairments(owlt_s=0.005, loss=loss), rate=loss_rate
        )
        goodput = loss_total / lossy_s / MiB
        table.add_row(
            f"{loss:.0%} loss via emulator, MiB/s",
            f"{goodput:.1f} (resent {info['retransmitted_bytes'] / MiB:.1f} MiB)",
            f"0 % loss via emulator {base:.1f} (rate {loss_rate / 1e6:.0f} MB/s)",
            f"{goodput / base:.0%}",
            target,
        )

    size = (16 if quick else 100) * MiB
    rate = 8e6
    owlt = 1.3
    moon = bundles_of(size // MiB, MiB - 200)
    moon_total = sum(len(b) for b in moon)
    cpu0 = time.process_time()
    moon_s, info = await ltp_transfer(moon, impairments=Impairments(owlt_s=owlt), rate=rate, owlt_s=owlt, margin_s=0.5)
    cpu_s = time.process_time() - cpu0
    ideal = moon_total / rate + owlt
    table.add_row(
        f"Earth-Moon {moon_total / MiB:.0f} MiB at {rate / 1e6:.0f} MB/s, OWLT {owlt} s, s",
        f"{moon_s:.1f} (CPU {cpu_s:.1f} s for both engines and the emulator; resent {info['retransmitted_bytes']} B)",
        f"ideal (size/rate + OWLT) {ideal:.1f}",
        f"{ideal / moon_s:.0%} of ideal",
        "",
    )
    console.print(table)
    console.print(
        f"load average before / after: {load0[0]:.1f} / {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs (other jobs share this machine)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    trio.run(main, parser.parse_args().quick)
