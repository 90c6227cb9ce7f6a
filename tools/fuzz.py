#!/usr/bin/env python3
"""Fuzz the readers of untrusted input (docs/security.md, "Fuzzing").

    python tools/fuzz.py --target codec --count 1000000 [--seed 1] [--crashes DIR] [--json]

Targets, each the code a node runs on bytes it did not choose:

- `codec`:  `dtn.bpv7.decode`, then `validate`, `encode` and decode again (a bundle from a peer);
- `tcpcl`:  a passive `dtn.tcpcl.Session` fed the input in random chunks, timers fired, transfers accepted or
            refused (a TCPCLv4 peer);
- `agent`:  agent frames through `FrameDecoder` and `AgentConnection.handle` on a running in-process node with a
            memory store, in Trio virtual time (a local application);
- `config`: node config files through `load_config` and `load_node_plan` (an operator's typo);
- `plan`:   contact plan text (ION, HDTN JSON, native JSON) through `loads_plan` and a CGR `Router`.

Inputs are valid seeds mutated by stacked random edits (bit flips, CBOR/TOML/JSON tokens, interesting
integers, splices, truncations), a tenth of them random bytes; inputs that parse join the corpus (bounded).
Every input must end in success or a `dtn.errors.DtnError`; anything else is a crash (written to --crashes
with its traceback). An input that takes over --hang-s seconds of CPU is a hang (interrupted at five times that). Memory: the peak RSS is reported, and a
run whose RSS grows past --max-rss-mib stops as a failure. Exit status 1 if anything was found.

tests/test_fuzz.py runs a short campaign of every target in CI (and the same harnesses under hypothesis).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dtn.errors import DtnError  # noqa: E402

MAX_INPUT_BYTES = 64 * 1024
CORPUS_LIMIT = 512


class Hang(BaseException):
    """Raised by the alarm in a synchronous harness that ran too long."""


# -- mutation -----------------------------------------------------------------------------------------------------

INTERESTING_INTS = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1]
BINARY_TOKENS = [
    b"\x00",
    b"\xff",
    b"\x9f",
    b"\xbf",
    b"\x5f",
    b"\x7f",
    b"\x18",
    b"\x19",
    b"\x1a",
    b"\x1b",
    b"\xf9\x7e\x00",
    b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x5b\xff\xff\xff\xff",
    b"\x9b\x00\x00\x00\x01\x00\x00\x00\x00",
    b"\xc1",
    b"\xd8\x18",
    b"dtn!",
    b"\x04",
    b"\xce",
    b"\xcf",
    b"\xdb",
    b"\xdd\xff\xff\xff\xff",
    b"\xc6\xff\xff\xff\xff",
]
TEXT_TOKENS = [
    "0",
    "-1",
    "1e999",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9" * 40,
    '"',
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ":",
    "\n",
    "\t",
    "#",
    "\\",
    "\\u0000",
    "null",
    "true",
    "false",
    "[[",
    "]]",
    "a contact",
    "a range",
    "+",
    "-",
    ".",
    "0x10",
    "2030-13-45T25:61:61Z",
    "ipn:",
    "dtn:none",
    '"ipn:18446744073709551615.0"',
    "\u2028",
    "\U0001f680",
    "\x00",
]


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], text: bool) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(11)
        n = len(buf)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # a random byte
            buf[rng.randrange(n)] = rng.randrange(256)
        elif op == 2:  # insert random bytes
            i = rng.randint(0, n)
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and n:  # delete a range
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 32)]
        elif op == 4 and n:  # duplicate a range
            i = rng.randrange(n)
            chunk = buf[i : i + rng.randint(1, 64)]
            j = rng.randint(0, n)
            buf[j:j] = chunk * rng.randint(1, 4)
        elif op == 5:  # a token of the format
            token = rng.choice(TEXT_TOKENS).encode() if text else rng.choice(BINARY_TOKENS)
            i = rng.randint(0, n)
            if rng.random() < 0.5:
                buf[i:i] = token
            else:
                buf[i : i + len(token)] = token
        elif op == 6 and n >= 1:  # an interesting integer, big-endian, over existing bytes
            value = rng.choice(INTERESTING_INTS)
            width = rng.choice((1, 2, 4, 8))
            i = rng.randrange(n)
            buf[i : i + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big")
        elif op == 7 and corpus:  # splice with another corpus entry
            other = rng.choice(corpus)
            if other:
                i = rng.randint(0, n)
                j = rng.randrange(len(other))
                buf[i:] = other[j : j + rng.randint(1, len(other) - j)]
        elif op == 8 and n:  # truncate
            del buf[rng.randrange(n) :]
        elif op == 9 and text and n:  # replace a number by an extreme one
            digits = [i for i, b in enumerate(buf) if 0x30 <= b <= 0x39]
            if digits:
                i = rng.choice(digits)
                buf[i : i + 1] = str(rng.choice(INTERESTING_INTS + [-(2**63), 10**30])).encode()
        elif op == 10 and n > 1:  # swap two ranges
            i, j = sorted(rng.sample(range(n), 2))
            k = rng.randint(1, min(16, j - i))
            buf[i : i + k], buf[j : j + k] = buf[j : j + k], buf[i : i + k]
    return bytes(buf[:MAX_INPUT_BYTES])


# -- targets ------------------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    text: bool
    seeds: Callable[[], list[bytes]]
    make_runner: Callable[[], Any]  # -> object with run(data) and close()
    synchronous: bool = True


def _bundle_seeds() -> list[bytes]:
    from dtn.bpv7 import encode
    from dtn.bpv7.bundle import Bundle, BundleFlag
    from dtn.bpv7.crc import CrcType

    seeds = []
    for crc in (CrcType.NONE, CrcType.CRC16, CrcType.CRC32C):
        b = Bundle.create(
            "ipn:1.1",
            "ipn:2.1",
            b"hello fuzz",
            creation_time_ms=1000,
            crc_type=crc,
            hop_limit=8,
            flags=BundleFlag.REPORT_DELIVERY,
            report_to="ipn:1.0",
        )
        seeds.append(encode(b.with_previous_node("ipn:3.0").with_bundle_age_ms(5)))
    frag = Bundle.create("dtn://a/x", "dtn://b/y", b"0123456789", creation_time_ms=0, crc_type=CrcType.CRC16)
    seeds.append(encode(frag))
    admin = Bundle.create(
        "ipn:1.0",
        "ipn:2.0",
        b"\x82\x01\x85\x84\xf5\x00\x00\x00\x00\x82\x02\x82\x01\x01\x19\x03\xe8\x00",
        creation_time_ms=7,
        flags=BundleFlag.IS_ADMIN_RECORD,
    )
    seeds.append(encode(admin))
    return seeds


class CodecRunner:
    def __init__(self) -> None:
        from dtn.bpv7 import decode, encode

        self.decode, self.encode = decode, encode

    def run(self, data: bytes) -> bool:
        bundle = self.decode(data)
        bundle.validate()
        again = self.encode(bundle)
        self.decode(again)
        return True

    def close(self) -> None:
        pass


def _tcpcl_seeds() -> list[bytes]:
    from dtn.tcpcl import ContactHeader, Keepalive, SessInit, SessTerm, XferSegment, encode
    from dtn.tcpcl.messages import XferSegmentFlag, transfer_length_item

    head = encode(ContactHeader()) + encode(SessInit(30, 65536, 1 << 20, "ipn:2.0"))
    one = encode(XferSegment(1, b"bundle bytes", extensions=(transfer_length_item(12),)))
    parts = (
        encode(XferSegment(2, b"first", XferSegmentFlag.START))
        + encode(XferSegment(2, b"middle", XferSegmentFlag.NONE))
        + encode(XferSegment(2, b"end", XferSegmentFlag.END))
    )
    return [
        head,
        head + one,
        head + parts + encode(Keepalive()),
        head + one + encode(SessTerm(0)),
        encode(ContactHeader(can_tls=True)) + encode(SessInit(0, 1, 1, "dtn://x/")),
    ]


class TcpclRunner:
    def __init__(self) -> None:
        from dtn.tcpcl import Role, Session, TcpclConfig

        self.Role, self.Session = Role, Session
        self.config = TcpclConfig("ipn:1.0", max_buffered_bytes=1 << 20, transfer_mru_bytes=1 << 20)
        self.rng = random.Random(0)

    def run(self, data: bytes) -> bool:
        from dtn.tcpcl import events as ev

        session = self.Session(self.config, self.Role.PASSIVE, now_s=0.0)
        now = 0.0
        view = memoryview(data)
        accept = True
        while view and not session.closed:
            n = self.rng.randint(1, max(1, len(view)))
            now += self.rng.random()
            session.receive_data(view[:n], now_s=now)
            view = view[n:]
            for event in session.events():
                if isinstance(event, ev.TransferReceived):
                    if accept:
                        session.accept_transfer(event.transfer_id, now_s=now)
                    else:
                        session.refuse_transfer(event.transfer_id, now_s=now)
                    accept = not accept
            session.data_to_send()
            deadline = session.timer_deadline_s()
            if deadline is not None and self.rng.random() < 0.2:
                session.handle_timer(deadline)
        session.data_to_send()
        return True

    def close(self) -> None:
        pass


def _agent_seeds() -> list[bytes]:
    from dtn.agentproto import encode_frame

    bodies = [
        {"op": "hello", "id": 1, "version": 1},
        {"op": "status", "id": 2},
        {"op": "register", "id": 3, "endpoint": "ipn:1.5"},
        {
            "op": "send",
            "id": 4,
            "destination": "ipn:2.1",
            "payload": b"x" * 20,
            "lifetime_s": 60,
            "report": ["delivery"],
            "hop_limit": 9,
            "crc_type": 2,
        },
        {"op": "send", "id": 5, "destination": "ipn:1.5", "file": "/etc/hostname"},
        {"op": "receive", "id": 6, "endpoint": "ipn:1.5", "timeout_s": 1},
        {"op": "ack", "id": 7, "bundle": "ipn:1.0/1000/0"},
        {"op": "contact", "id": 8, "peer": 2, "state": "up"},
        {"op": "contact", "id": 9, "peer": 2, "state": "plan"},
        {"op": "reports", "id": 10},
        {"op": "events", "id": 11, "last": 5},
        {"op": "archive_put", "id": 12, "payload": b"a", "name": "n"},
        {"op": "unregister", "id": 13, "endpoint": "ipn:1.5"},
    ]
    frames = [encode_frame(b) for b in bodies]
    return frames + [b"".join(frames)]


class AgentRunner:
    """One in-process node, run by Trio in this thread's event loop in virtual time; inputs go through the very
    `AgentConnection.handle` the sockets use. `stop` is answered as `status` (it would end the node)."""

    synchronous = False

    def __init__(self) -> None:
        import trio
        import trio.testing

        self.trio = trio
        self.clock = trio.testing.MockClock(autojump_threshold=0)
        self._to_node: Any = None
        self._results: Any = None

    def run_many(self, inputs, on_result) -> None:
        """Feed every input of the iterator `inputs`; call on_result(data, error_or_None, seconds)."""
        self.trio.run(self._main, inputs, on_result, clock=self.clock)

    async def _main(self, inputs, on_result) -> None:
        import msgpack

        from contact_plans.model import Contact, ContactPlan
        from contact_plans.model import Node as PlanNode
        from dtn.node.agent import AgentConnection
        from dtn.node.agentauth import PeerCred
        from dtn.agentproto import INTERNAL, FrameDecoder, Message, encode_frame
        from dtn.node.config import NodeConfig, StoreConfig
        from dtn.node.node import Node
        from dtn.store import MemoryStore

        trio = self.trio
        import datetime as dt

        epoch = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
        plan = ContactPlan(
            epoch=epoch,
            nodes=[PlanNode(1), PlanNode(2)],
            contacts=[Contact(1, 2, 0, 1e6, 1e6), Contact(2, 1, 0, 1e6, 1e6)],
        )
        # Nobody: file parameters are walked and checked, but only world-readable files could be read.
        nobody = PeerCred(pid=0, uid=65534, gid=65534, groups=frozenset({65534}))
        fresh_every = 20_000
        it = iter(inputs)
        done = False
        while not done:
            config = NodeConfig.minimal(1, store=StoreConfig(max_bundles=500, max_bytes=1 << 22))
            node = Node(config, store=MemoryStore(max_bundles=500, max_bytes=1 << 22), plan=plan)
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                conn = AgentConnection(node, None, 1 << 20, peer=nobody)  # type: ignore[arg-type]
                for _ in range(fresh_every):
                    data = next(it, None)
                    if data is None:
                        done = True
                        break
                    started = time.process_time()
                    error: BaseException | None = None
                    try:
                        decoder = FrameDecoder(1 << 20)
                        decoder.feed(data)
                        for frame in decoder.frames():
                            if isinstance(frame, Message) and frame.body.get("op") == "stop":
                                frame.body["op"] = "status"
                            with trio.move_on_after(7200):  # virtual seconds: receive waits at most 3600
                                reply = await conn.handle(frame)
                            encode_frame(reply)
                            msgpack.unpackb(encode_frame(reply)[4:], raw=False)
                            if reply.get("code") == INTERNAL:
                                raise AssertionError(f"internal error reply: {reply.get('error')}")
                    except DtnError:
                        pass
                    except Exception as exc:  # noqa: BLE001 (a crash: recorded)
                        error = exc
                    on_result(data, error, time.process_time() - started)
                node.request_stop()
            del conn


def _config_seeds() -> list[bytes]:
    text = """
[node]
id = "ipn:1.0"
dtn_id = "dtn://one/"
endpoints = ["ipn:1.5"]
[clock]
offset_s = 0.5
[store]
max_bytes = 1000000
max_bundles = 100
[plan]
epoch = "2030-01-01T00:00:00Z"
bidirectional = true
[[plan.contacts]]
from = 1
to = 2
start_s = 0
end_s = 100
rate_bytes_per_s = 1e6
owlt_s = 0.1
[[listen]]
cla = "tcpcl"
host = "127.0.0.1"
port = 4556
[neighbours.2]
address = "127.0.0.1:4557"
dial = "always"
[neighbours.3]
address = "[::1]:4558"
cla = "mtcp"
[agent]
max_message_bytes = 65536
tcp = "127.0.0.1:4242"
[routing]
no_route = "delete"
retry_min_s = 0.1
retry_max_s = 2
keepalive_s = 10
[bundles]
lifetime_s = 3600
hop_limit = 32
crc_type = 2
[echo]
service = 7
[log]
level = "info"
[metrics]
address = "127.0.0.1:9100"
"""
    return [text.encode(), b'[node]\nid = "ipn:7.0"\n', b'[node]\nid = "ipn:1.0"\n[security]\nrole = "x"\n']


class ConfigRunner:
    def __init__(self) -> None:
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="dtn-fuzz-config-", dir=shm))  # memory: many writes
        self.path = self.dir / "node.toml"

    def run(self, data: bytes) -> bool:
        from dtn.node.config import load_config
        from dtn.node.plan import load_node_plan

        self.path.write_bytes(data)
        config = load_config(self.path)
        load_node_plan(config, start_unix_s=1.9e9)
        return True

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def _plan_seeds() -> list[bytes]:
    ion = (
        b"# ion\n+0 epoch 2030/01/01-00:00:00\na contact +0 +100 1 2 125000\na contact +10 +200 2 3 1000\n"
        b"a range +0 +100 1 2 1\na range +0 +200 2 3 2\nm horizon +0\n"
    )
    hdtn = json.dumps(
        {
            "contacts": [
                {
                    "contact": 0,
                    "source": 1,
                    "dest": 2,
                    "startTime": 0,
                    "endTime": 100,
                    "rateBitsPerSec": 1000000,
                    "owlt": 1,
                },
                {
                    "contact": 1,
                    "source": 2,
                    "dest": 3,
                    "startTime": 50,
                    "endTime": 300,
                    "rateBitsPerSec": 8000,
                    "owlt": 2,
                },
            ]
        }
    ).encode()
    native = json.dumps(
        {
            "format": "spacedtn-contact-plan",
            "version": 1,
            "name": "f",
            "epoch_utc": "2030-01-01T00:00:00Z",
            "nodes": [{"number": 1, "name": "a"}, {"number": 2, "name": "b"}],
            "contacts": [
                {
                    "from_node": 1,
                    "to_node": 2,
                    "start_s": 0,
                    "end_s": 10,
                    "rate_bytes_per_s": 1e3,
                    "owlt_s": 0.5,
                    "confidence": 0.9,
                }
            ],
        }
    ).encode()
    return [ion, hdtn, native]


class PlanRunner:
    def run(self, data: bytes) -> bool:
        from contact_plans.formats import loads_plan
        from routing.cgr import Router

        plan = loads_plan(data.decode("utf-8", errors="surrogateescape"), source="fuzz")
        plan.ensure_nodes()
        Router(plan)
        return True

    def close(self) -> None:
        pass


TARGETS = {
    "codec": Target("codec", False, _bundle_seeds, CodecRunner),
    "tcpcl": Target("tcpcl", False, _tcpcl_seeds, TcpclRunner),
    "agent": Target("agent", False, _agent_seeds, AgentRunner, synchronous=False),
    "config": Target("config", True, _config_seeds, ConfigRunner),
    "plan": Target("plan", True, _plan_seeds, PlanRunner),
}


# -- the campaign -------------------------------------------------------------------------------------------------


@dataclass
class Report:
    target: str
    count: int = 0
    accepted: int = 0  # inputs that ended in success
    refused: int = 0  # inputs that ended in a DtnError
    crashes: list[dict[str, Any]] = field(default_factory=list)
    hangs: list[dict[str, Any]] = field(default_factory=list)
    slowest_s: float = 0.0
    seconds: float = 0.0
    rss_start_mib: float = 0.0
    rss_peak_mib: float = 0.0
    memory_failure: bool = False

    @property
    def ok(self) -> bool:
        return not self.crashes and not self.hangs and not self.memory_failure

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "inputs": self.count,
            "accepted": self.accepted,
            "refused": self.refused,
            "crashes": len(self.crashes),
            "hangs": len(self.hangs),
            "slowest_s": round(self.slowest_s, 4),
            "seconds": round(self.seconds, 1),
            "inputs_per_s": round(self.count / self.seconds) if self.seconds else 0,
            "rss_start_mib": round(self.rss_start_mib, 1),
            "rss_peak_mib": round(self.rss_peak_mib, 1),
            "memory_failure": self.memory_failure,
            "distinct_crashes": sorted({c["signature"] for c in self.crashes})[:20],
        }


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _signature(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{pathlib.Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    return f"{type(exc).__name__} at {where}"


def inputs_for(target: Target, count: int, seed: int, corpus: list[bytes]):
    rng = random.Random(seed)
    for i in range(count):
        if i < len(corpus) and i < 16:
            yield corpus[i]
        elif rng.random() < 0.1:
            yield rng.randbytes(rng.randint(0, 512))
        else:
            yield mutate(rng, rng.choice(corpus), corpus, target.text)


def run_campaign(
    name: str,
    count: int,
    *,
    seed: int = 1,
    crashes_dir: pathlib.Path | None = None,
    hang_s: float = 2.0,
    max_rss_mib: float = 2048.0,
    progress: bool = False,
    max_seconds: float | None = None,
) -> Report:
    target = TARGETS[name]
    corpus = list(target.seeds())
    report = Report(name, rss_start_mib=_rss_mib())
    t0 = time.perf_counter()
    rng = random.Random(seed ^ 0x5EED)

    def record(data: bytes, error: BaseException | None, elapsed_s: float, accepted: bool) -> None:
        report.count += 1
        report.slowest_s = max(report.slowest_s, elapsed_s)
        if elapsed_s > hang_s and not isinstance(error, Hang):
            report.hangs.append({"input": data.hex()[:400], "seconds": elapsed_s})
            _save(crashes_dir, name, "slow", data, f"{elapsed_s:.2f} s of CPU")
        if error is None:
            if accepted:
                report.accepted += 1
                if len(corpus) < CORPUS_LIMIT:
                    corpus.append(data)
                elif rng.random() < 0.01:
                    corpus[rng.randrange(len(corpus))] = data
            else:
                report.refused += 1
        elif isinstance(error, Hang):
            report.hangs.append({"input": data.hex()[:400], "seconds": elapsed_s})
            _save(crashes_dir, name, "hang", data, f"over {elapsed_s:.2f} s")
        else:
            sig = _signature(error)
            text = "".join(traceback.format_exception(error))
            report.crashes.append({"signature": sig, "input": data.hex()[:400]})
            if sum(1 for c in report.crashes if c["signature"] == sig) <= 3:
                _save(crashes_dir, name, "crash", data, text)
        if report.count % 10_000 == 0:
            report.seconds = time.perf_counter() - t0
            rss = _rss_mib()
            report.rss_peak_mib = max(report.rss_peak_mib, rss)
            if rss - report.rss_start_mib > max_rss_mib:
                report.memory_failure = True
                raise _Stop()
            if progress:
                print(json.dumps(dict(report.summary(), progress=True)), file=sys.stderr, flush=True)
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                raise _Stop()

    try:
        if target.synchronous:
            runner = target.make_runner()
            old = signal.signal(signal.SIGPROF, _on_alarm)
            try:
                for data in inputs_for(target, count, seed, corpus):
                    started = time.process_time()  # CPU time: other processes on the machine do not count
                    error = None
                    accepted = False
                    signal.setitimer(signal.ITIMER_PROF, hang_s * 5)  # CPU time of this process
                    try:
                        accepted = bool(runner.run(data))
                    except DtnError:
                        pass
                    except (Exception, Hang, RecursionError) as exc:  # noqa: BLE001 (a crash: recorded)
                        error = exc
                    finally:
                        signal.setitimer(signal.ITIMER_PROF, 0)
                    record(data, error, time.process_time() - started, accepted)
            finally:
                signal.signal(signal.SIGPROF, old)
                runner.close()
        else:
            runner = target.make_runner()
            runner.run_many(
                inputs_for(target, count, seed, corpus), lambda data, error, s: record(data, error, s, error is None)
            )
    except _Stop:
        pass
    report.seconds = time.perf_counter() - t0
    report.rss_peak_mib = max(report.rss_peak_mib, _rss_mib())
    return report


class _Stop(Exception):
    pass


def _on_alarm(signum, frame) -> None:
    raise Hang()


def _save(crashes_dir: pathlib.Path | None, target: str, kind: str, data: bytes, text: str) -> None:
    if crashes_dir is None:
        return
    crashes_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{target}-{kind}-{abs(hash(data)) & 0xFFFFFFFF:08x}"
    (crashes_dir / f"{stem}.bin").write_bytes(data)
    (crashes_dir / f"{stem}.txt").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, choices=sorted(TARGETS) + ["all"])
    parser.add_argument("--count", type=int, default=10_000, metavar="N", help="inputs per target (default 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--crashes",
        type=pathlib.Path,
        default=None,
        metavar="DIR",
        help="write crashing/hanging inputs and tracebacks here",
    )
    parser.add_argument("--hang-s", type=float, default=2.0, help="an input running longer is a hang (default 2)")
    parser.add_argument("--max-rss-mib", type=float, default=2048.0, help="RSS growth that fails the run")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop a target after this long")
    parser.add_argument("--progress", action="store_true", help="a JSON progress line on stderr every 10000 inputs")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    names = sorted(TARGETS) if args.target == "all" else [args.target]
    failed = False
    for name in names:
        report = run_campaign(
            name,
            args.count,
            seed=args.seed,
            crashes_dir=args.crashes,
            hang_s=args.hang_s,
            max_rss_mib=args.max_rss_mib,
            progress=args.progress,
            max_seconds=args.max_seconds,
        )
        print(json.dumps(report.summary()), flush=True)
        failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
