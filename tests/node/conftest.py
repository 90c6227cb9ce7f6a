"""Helpers for node tests: write plans and node configs near "now", start real node processes."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from dtn.node.events import read_events
from dtn.twin.runner.process import NodeProcess, free_port


def write_plan(path: pathlib.Path, epoch_unix_s: float, contacts: list[tuple], nodes: list[int]) -> pathlib.Path:
    """A native JSON plan; contacts are (from, to, start_s, end_s, rate_bytes_per_s[, owlt_s])."""
    epoch = dt.datetime.fromtimestamp(epoch_unix_s, tz=dt.timezone.utc)
    doc = {
        "format": "spacedtn-contact-plan",
        "version": 1,
        "name": "test",
        "epoch_utc": epoch.isoformat().replace("+00:00", "Z"),
        "nodes": [{"number": n, "name": f"n{n}"} for n in nodes],
        "contacts": [
            {
                "from_node": c[0],
                "to_node": c[1],
                "start_s": c[2],
                "end_s": c[3],
                "rate_bytes_per_s": c[4],
                "owlt_s": c[5] if len(c) > 5 else 0.0,
            }
            for c in contacts
        ],
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


def both(a: int, b: int, start_s: float, end_s: float, rate: float = 1e8) -> list[tuple]:
    return [(a, b, start_s, end_s, rate), (b, a, start_s, end_s, rate)]


@dataclass
class Cluster:
    """Node processes sharing one plan; node n has config n.toml, store n.db, socket n.sock, events n.jsonl."""

    root: pathlib.Path
    ports: dict[int, int] = field(default_factory=dict)
    procs: dict[int, NodeProcess] = field(default_factory=dict)
    epoch_unix_s: float = 0.0

    def plan(self, contacts: list[tuple], *, start_in_s: float = 1.0) -> pathlib.Path:
        self.epoch_unix_s = time.time() + start_in_s
        nodes = sorted({c[0] for c in contacts} | {c[1] for c in contacts})
        for n in nodes:
            self.ports.setdefault(n, free_port())
        return write_plan(self.root / "plan.json", self.epoch_unix_s, contacts, nodes)

    def config(
        self, number: int, neighbours: list[int], *, extra: str = "", address_of: dict[int, str] | None = None
    ) -> pathlib.Path:
        address_of = address_of or {}
        lines = [
            "[node]",
            f'id = "ipn:{number}.0"',
            "[store]",
            f'path = "{number}.db"',
            "[plan]",
            'file = "plan.json"',
            "[[listen]]",
            'host = "127.0.0.1"',
            f"port = {self.ports[number]}",
            "[agent]",
            f'socket = "{number}.sock"',
            "[log]",
            f'events = "{number}.jsonl"',
            'level = "info"',
            "[routing]",
            "retry_min_s = 0.1",
            "retry_max_s = 0.5",
        ]
        for peer in neighbours:
            address = address_of.get(peer, f"127.0.0.1:{self.ports[peer]}")
            lines += [f"[neighbours.{peer}]", f'address = "{address}"']
        path = self.root / f"{number}.toml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    def start(self, *numbers: int) -> None:
        procs = NodeProcess.start_many([self.root / f"{n}.toml" for n in numbers], log_dir=self.root)
        self.procs.update(dict(zip(numbers, procs)))

    def restart(self, number: int) -> NodeProcess:
        proc = NodeProcess.start(self.root / f"{number}.toml", log_path=self.root / f"{number}.log")
        self.procs[number] = proc
        return proc

    def sock(self, number: int) -> str:
        return str(self.root / f"{number}.sock")

    def events(self, number: int) -> list[dict[str, Any]]:
        path = self.root / f"{number}.jsonl"
        return read_events(path) if path.exists() else []

    def of(self, number: int, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events(number) if e["event"] == event]

    def plan_now_s(self) -> float:
        return time.time() - self.epoch_unix_s

    def wait_event(self, number: int, predicate, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for e in self.events(number):
                if predicate(e):
                    return e
            time.sleep(0.05)
        raise AssertionError(
            f"node {number}: no matching event within {timeout_s} s; log tail: "
            f"{[e['event'] for e in self.events(number)][-15:]}"
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.alive():
                try:
                    proc.stop(timeout_s=10)
                except Exception:
                    proc.kill()


@pytest.fixture
def cluster():
    # Unix socket paths must stay short (108 bytes): a short directory under /tmp, not pytest's tmp_path.
    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-node-", dir="/tmp"))
    c = Cluster(root)
    try:
        yield c
    finally:
        c.stop_all()
        shutil.rmtree(root, ignore_errors=True)
