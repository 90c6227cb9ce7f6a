"""A loopback UDP link emulator: a relay between two UDP engines that delays, drops, duplicates and reorders
datagrams, each direction with its own `dtn.twin.udp_emulator.Impairments` (and can be one-way).

    relay = UdpRelay(a_address=("127.0.0.1", 4556), b_address=("127.0.0.1", 4557),
                     a_to_b=Impairments(owlt_s=1.3, loss=0.05), b_to_a=Impairments(owlt_s=1.3, loss=0.05))
    a_side_port, b_side_port = await nursery.start(relay.run)
    # node A sends to 127.0.0.1:<a_side_port> (its neighbour B's address), node B to <b_side_port>

What arrives on the A-side socket is forwarded to `b_address` from the B-side socket, and back. This works for
LTP because an engine sends to the address configured for its neighbour, never back to a datagram's source.

CLI: `python -m dtn.twin.runner.udp_emulator --a 127.0.0.1:4556 --b 127.0.0.1:4557 --owlt 1.3 --loss 0.05` prints the
two relay ports and runs until SIGINT/SIGTERM, then prints its counters as JSON on stderr. Loopback addresses only.
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import json
import math
import signal
import socket
import sys

import trio

from dtn.errors import ClaError, ConfigError, DtnError
from dtn.twin.udp_emulator import Impairments, LinkModel

MAX_QUEUED_DATAGRAMS = 200_000  # bounded memory: beyond this the relay drops (counted as overflow)


def _loopback(host: str) -> None:
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ConfigError(f"{host} is not a loopback address", key="address")
    except ValueError:
        raise ConfigError(f"not an IP address: {host!r}", key="address") from None


class UdpRelay:
    """Two UDP sockets on loopback with a `LinkModel` per direction. `stats` counts per direction."""

    def __init__(
        self,
        *,
        a_address: tuple[str, int],
        b_address: tuple[str, int],
        a_to_b: Impairments,
        b_to_a: Impairments,
        seed: int | None = None,
        host: str = "127.0.0.1",
        a_port: int = 0,
        b_port: int = 0,
    ) -> None:
        for h in (a_address[0], b_address[0], host):
            _loopback(h)
        self.a_address, self.b_address, self.host = a_address, b_address, host
        self.a_port, self.b_port = a_port, b_port
        self.models = {
            "a_to_b": LinkModel(a_to_b, seed=seed),
            "b_to_a": LinkModel(b_to_a, seed=None if seed is None else seed + 1),
        }
        self.overflow = 0
        self._queue: list[tuple[float, int, str, bytes]] = []
        self._seq = 0
        self._wake = trio.Event()

    def set_impairments(self, direction: str, impairments: Impairments) -> None:
        """Change one direction ("a_to_b" or "b_to_a") while running (e.g. make the link one-way)."""
        self.models[direction].impairments = impairments

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return {name: dict(model.stats) for name, model in self.models.items()}

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Bind both sockets, report (a_side_port, b_side_port), relay until cancelled."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        socks = {}
        try:
            for side, port in (("a", self.a_port), ("b", self.b_port)):
                # Non-blocking stdlib sockets driven by trio.lowlevel.wait_readable: drained in batches.
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, option, 8 * 1024 * 1024)
                    except OSError:
                        pass
                socks[side] = sock
                try:
                    sock.bind((self.host, port))
                except OSError as exc:
                    raise ClaError(f"cannot bind {self.host}:{port}: {exc.strerror or exc}") from None
            async with trio.open_nursery() as nursery:
                # A sends to the A-side socket; that traffic goes to B (from the B-side socket), and back.
                nursery.start_soon(self._receive, socks["a"], "a_to_b")
                nursery.start_soon(self._receive, socks["b"], "b_to_a")
                nursery.start_soon(self._deliver, socks)
                task_status.started((socks["a"].getsockname()[1], socks["b"].getsockname()[1]))
        finally:
            for sock in socks.values():
                sock.close()

    async def _receive(self, sock: socket.socket, direction: str) -> None:
        model = self.models[direction]
        while True:
            await trio.lowlevel.wait_readable(sock)
            now = trio.current_time()
            for _ in range(256):
                try:
                    datagram = sock.recv(65536)
                except BlockingIOError:
                    break
                except OSError:
                    continue
                for t in model.transmit(now):
                    if len(self._queue) >= MAX_QUEUED_DATAGRAMS:
                        self.overflow += 1
                        continue
                    self._seq += 1
                    heapq.heappush(self._queue, (t, self._seq, direction, datagram))
            self._wake.set()

    async def _deliver(self, socks) -> None:
        while True:
            now = trio.current_time()
            sent = 0
            while self._queue and self._queue[0][0] <= now and sent < 256:
                _, _, direction, datagram = heapq.heappop(self._queue)
                sock, dest = (socks["b"], self.b_address) if direction == "a_to_b" else (socks["a"], self.a_address)
                while True:
                    try:
                        sock.sendto(datagram, dest)
                        break
                    except BlockingIOError:
                        await trio.lowlevel.wait_writable(sock)
                    except OSError:
                        break  # nobody listening there (yet): a lost datagram, as on a real link
                sent += 1
            if sent:
                await trio.lowlevel.checkpoint()
                continue
            self._wake = trio.Event()
            deadline = self._queue[0][0] if self._queue else math.inf
            with trio.move_on_at(deadline):
                await self._wake.wait()


def _address(text: str) -> tuple[str, int]:
    from dtn.node.config import split_host_port

    host, port = split_host_port(text, key="address")
    _loopback(host)
    return host, port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dtn.twin.runner.udp_emulator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--a", required=True, help="engine A's UDP address, e.g. 127.0.0.1:4556")
    parser.add_argument("--b", required=True, help="engine B's UDP address")
    parser.add_argument("--a-port", type=int, default=0, help="relay port A sends to (default: any)")
    parser.add_argument("--b-port", type=int, default=0, help="relay port B sends to (default: any)")
    parser.add_argument("--owlt", type=float, default=0.0, help="one-way light time, s")
    parser.add_argument("--loss", type=float, default=0.0, help="random loss probability")
    parser.add_argument("--burst-start", type=float, default=0.0, help="probability a datagram starts a burst")
    parser.add_argument("--burst-length", type=float, default=1.0, help="mean burst length, datagrams")
    parser.add_argument("--duplicate", type=float, default=0.0)
    parser.add_argument("--reorder", type=float, default=0.0)
    parser.add_argument("--reorder-s", type=float, default=0.01)
    parser.add_argument("--one-way", choices=["a_to_b", "b_to_a"], help="only this direction carries anything")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    try:
        imp = Impairments(
            owlt_s=args.owlt,
            loss=args.loss,
            burst_start=args.burst_start,
            burst_length=args.burst_length,
            duplicate=args.duplicate,
            reorder=args.reorder,
            reorder_s=args.reorder_s,
        )
        a_to_b = imp.with_(up=args.one_way != "b_to_a")
        b_to_a = imp.with_(up=args.one_way != "a_to_b")
        relay = UdpRelay(
            a_address=_address(args.a),
            b_address=_address(args.b),
            a_to_b=a_to_b,
            b_to_a=b_to_a,
            seed=args.seed,
            a_port=args.a_port,
            b_port=args.b_port,
        )
    except DtnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def serve() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                a_port, b_port = await nursery.start(relay.run)
                print(f"relay: A sends to 127.0.0.1:{a_port}, B sends to 127.0.0.1:{b_port}", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
        print(f"stats: {json.dumps(relay.stats)}", file=sys.stderr, flush=True)

    error: BaseException | None = None
    try:
        trio.run(serve)
    except* (OSError, DtnError) as group:
        error = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
