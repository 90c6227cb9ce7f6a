"""Shared pieces of the interoperability runs (docs/interop.md).

These scripts only RUN peers that are already built elsewhere (never in this repository); each peer is found
through an environment variable with a /work/peers default. Every socket is on 127.0.0.1.

A run produces `Row`s: one per peer, convergence layer and direction, with the counts sent and received
intact. `main()` of each peer module prints them as a table and returns 0 if every row is complete, 1 if
something was lost, 77 when the peer is not built (one line on stderr).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

REPO = pathlib.Path(__file__).resolve().parents[2]
PEERS = pathlib.Path(os.environ.get("SPACEDTN_PEERS", "/work/peers"))
SKIPPED = 77  # the exit status automake and pytest wrappers read as "skipped"

SMALL_COUNT = 10
BIG_SIZE_BYTES = 1 << 20


class PeerMissing(Exception):
    """The peer is not built (or a tool it needs is missing): the run is skipped, not failed."""


class ExchangeError(Exception):
    """The run could not be carried out (a peer did not start, a port did not open...)."""


@dataclasses.dataclass
class Row:
    """One measured exchange: `received` of `sent` bundles arrived intact in `direction`."""

    peer: str
    cl: str
    direction: str
    sent: int
    received: int
    note: str = ""
    known: str = ""  # a documented peer fault that explains a shortfall (docs/interop.md); not a failure

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.received == self.sent

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"ok": self.ok, "known_failure": bool(self.known) and not self.ok}


def payloads(tag: str, big_size_bytes: int = BIG_SIZE_BYTES) -> list[bytes]:
    """SMALL_COUNT small payloads and one big one (1 MiB unless told), each distinct and recognisable."""
    small = [f"spacedtn-interop {tag} #{i}".encode() for i in range(SMALL_COUNT)]
    block = hashlib.sha256(tag.encode()).digest()
    big = (block * (big_size_bytes // len(block) + 1))[:big_size_bytes]
    return small + [big]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def count_matching(expected: list[bytes], got: list[bytes]) -> int:
    """How many expected payloads arrived byte for byte (each counted once)."""
    left = [digest(p) for p in got]
    n = 0
    for p in expected:
        d = digest(p)
        if d in left:
            left.remove(d)
            n += 1
    return n


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until something listens on 127.0.0.1:port (TCP)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ExchangeError(f"peer exited with status {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ExchangeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def wait_until(predicate, timeout_s: float, poll_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return bool(predicate())


def need_file(path: pathlib.Path, what: str, env: str) -> pathlib.Path:
    if not path.exists():
        raise PeerMissing(f"{what} not built: {path} missing (set {env})")
    return path


@contextlib.contextmanager
def workdir(name: str) -> Iterator[pathlib.Path]:
    """A fresh directory for one run; kept (and printed) when SPACEDTN_INTEROP_KEEP is set."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=f"spacedtn-interop-{name}-"))
    # `python -m dtn.node` puts the working directory first on sys.path: work from the run directory so the
    # node imports the spacedtn that PYTHONPATH names, not a checkout that happens to be the cwd
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)
        if os.environ.get("SPACEDTN_INTEROP_KEEP"):
            print(f"# kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


class PeerProcess:
    """A peer's OS process in its own session, its output in a log file; stopped by its pid only."""

    def __init__(self, argv: list[str], *, cwd: pathlib.Path, log: pathlib.Path, env: dict | None = None):
        self.argv = argv
        self.log = log
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._log_file = open(log, "ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 10.0) -> int | None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log_file.close()
        return self.popen.returncode

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def spacedtn_supports(cla: str) -> str | None:
    """None if this spacedtn accepts `cla` in a listener; otherwise the config error saying why not."""
    from dtn.errors import DtnError
    from dtn.node.config import parse_config

    try:
        parse_config({"node": {"id": "ipn:1.0"}, "listen": [{"cla": cla, "host": "127.0.0.1", "port": 0}]})
    except DtnError as exc:
        return str(exc)
    return None


def write_node_config(
    path: pathlib.Path,
    node: int,
    *,
    listen: list[dict],
    neighbours: dict[int, dict],
    extra: dict[str, dict] | None = None,
) -> pathlib.Path:
    """A spacedtn node config (docs/node.md) for one interop run: in-memory store, agent socket, echo on 7."""
    lines = ["[node]", f'id = "ipn:{node}.0"', f'endpoints = ["ipn:{node}.1"]', ""]
    for item in listen:
        lines.append("[[listen]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
        lines.append("")
    for number, fields in neighbours.items():
        lines.append(f"[neighbours.{number}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in fields.items()]
        lines.append("")
    sections = {
        "agent": {"socket": str(path.parent / "agent.sock")},
        "echo": {"service": 7},
        "log": {"events": str(path.parent / "events.jsonl"), "level": "info"},
    }
    for name, fields in (extra or {}).items():
        sections.setdefault(name, {}).update(fields)
    for name, fields in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in fields.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@contextlib.contextmanager
def spacedtn_node(config: pathlib.Path) -> Iterator[Any]:
    """Run `dtn node run config` as a real process; yield (process, SyncClient)."""
    from dtn.client import SyncClient
    from dtn.twin.runner.process import NodeProcess

    proc = NodeProcess.start(config, log_path=config.parent / "spacedtn.log", timeout_s=60)
    try:
        client = SyncClient(proc.agent, timeout_s=30)
        try:
            yield proc, client
        finally:
            client.close()
    finally:
        proc.stop(timeout_s=15)


def receive_all(client: Any, endpoint: str, expected: int, timeout_s: float) -> list[bytes]:
    """Receive (and acknowledge) up to `expected` bundles on a spacedtn endpoint within `timeout_s`."""
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and (left := deadline - time.monotonic()) > 0:
        delivery = client.receive(endpoint, timeout_s=max(0.5, min(left, 10.0)))
        if delivery is None:
            continue
        client.ack(delivery)
        got.append(delivery.payload)
    return got


def spacedtn_events(config: pathlib.Path, *names: str) -> list[dict]:
    path = config.parent / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if not names or record.get("event") in names:
                out.append(record)
    return out


def report(rows: list[Row], *, as_json: bool = False) -> int:
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], indent=1))
    else:
        for r in rows:
            mark = "ok  " if r.ok else ("KNOWN" if r.known else "FAIL")
            note = f"{r.note} [{r.known}]" if r.known and not r.ok else r.note
            print(f"{mark:5} {r.peer:7} {r.cl:10} {r.direction:34} {r.received:3}/{r.sent:<3} {note}")
    return 0 if rows and all(r.ok or r.known for r in rows) else 1


NETNS_ENV = "SPACEDTN_INTEROP_NETNS"


def in_loopback_namespace() -> bool:
    return os.environ.get(NETNS_ENV) == "1"


def reexec_in_loopback_namespace(argv: list[str]) -> int | None:
    """Run this script again inside a new network namespace whose only interface is loopback.

    A new SysV IPC namespace too (`--ipc`): ION keeps its state in SysV IPC objects with fixed keys; and a new
    PID namespace (`--pid --fork --kill-child`): whatever a peer leaves running (daemons a peer forks) ends
    with the run, without anything being killed by name.
    Some peers bind the wildcard address with no option to do otherwise (HDTN's inducts and ZeroMQ sockets,
    ION's udplso by default). In a namespace made by `unshare --net` the wildcard is loopback only, and the
    ports cannot collide with anything else on the machine. Returns the child's exit status, or None when
    namespaces are not available here (not root, no unshare/ip).
    """
    if in_loopback_namespace():
        return None
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not os.path.exists(ip) or os.geteuid() != 0:
        return None
    env = dict(os.environ)
    env[NETNS_ENV] = "1"
    # no `exec`: sh stays PID 1 of the namespace and, waiting for python, reaps the daemons a peer orphans
    # (a zombie still "exists" for kill(pid, 0), and ION's admin programs wait for their daemons to be gone)
    command = [
        unshare,
        "--net",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "sh",
        "-c",
        f'{ip} link set lo up && "$@"',
        "sh",
        sys.executable,
        *argv,
    ]
    return subprocess.call(command, env=env)


def run_main(name: str, exchange, argv: list[str] | None = None, *, script: str, needs_namespace: bool = False) -> int:
    """Shared `main`: run `exchange() -> list[Row]`, print the rows; 77 with one line when the peer is missing.

    The run happens inside a loopback-only network namespace when one can be made (see
    `reexec_in_loopback_namespace`); a peer that binds the wildcard address (`needs_namespace`) is skipped
    when none can be made, so it never listens beyond loopback.
    """
    import argparse

    parser = argparse.ArgumentParser(description=f"spacedtn <-> {name} interop run (docs/interop.md)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--no-namespace", action="store_true", help="run in this network namespace (only for peers that bind 127.0.0.1)"
    )
    raw = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(raw)
    if not args.no_namespace and not in_loopback_namespace():
        status = reexec_in_loopback_namespace([str(pathlib.Path(script).resolve()), *raw])
        if status is not None:
            return status
    if needs_namespace and not in_loopback_namespace():
        print(
            f"skip {name}: it binds the wildcard address; run as root with unshare(1) so it runs in a "
            "loopback-only network namespace",
            file=sys.stderr,
        )
        return SKIPPED
    try:
        rows = exchange()
    except PeerMissing as exc:
        print(f"skip {name}: {exc}", file=sys.stderr)
        return SKIPPED
    except ExchangeError as exc:
        print(f"error {name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a spacedtn node that did not start, a client error...: one line, not a traceback
        from dtn.errors import DtnError

        if not isinstance(exc, DtnError) and type(exc).__module__.split(".")[0] != "dtn":
            raise
        print(f"error {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return report(rows, as_json=args.json)
