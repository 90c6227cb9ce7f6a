"""Start and stop `dtn node run` processes and wait until they are ready (tests, replay, benchmarks).

The command run is `python -m dtn.node run CONFIG` (the same as `dtn node run CONFIG`, loading only the node's
modules). It prints exactly one JSON line on stdout once it is ready (listeners bound, store
reloaded):

    {"ready": true, "node_id": "ipn:2.0", "pid": 4242, "agent": "/tmp/b.sock", "agent_tcp": null,
     "listen": [{"cla": "tcpcl", "host": "127.0.0.1", "port": 40123}], "metrics": null}

and nothing else on stdout; diagnostics go to stderr. `NodeProcess.start` runs the command, reads that line
(with a timeout) and keeps it as `.ready`.

    proc = NodeProcess.start("b.toml", log_path="b.log")
    with proc.client() as b:            # a dtn.client.SyncClient on its agent socket
        print(b.status())
    proc.kill()                         # SIGKILL (a crash); proc.stop() is SIGTERM and a clean exit
"""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from dtn.errors import DtnError


class NodeProcessError(DtnError):
    """A node process did not start, or did not stop in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for configs that need a port before the node starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def node_command(config_path: str | os.PathLike) -> list[str]:
    return [sys.executable, "-m", "dtn.node", "run", os.fspath(config_path)]


class NodeProcess:
    """One running `dtn node run` subprocess."""

    def __init__(self, popen: subprocess.Popen, config_path: pathlib.Path, log_path: pathlib.Path | None) -> None:
        self.popen = popen
        self.config_path = config_path
        self.log_path = log_path
        self.ready: dict[str, Any] = {}

    @classmethod
    def start(
        cls,
        config_path: str | os.PathLike,
        *,
        log_path: str | os.PathLike | None = None,
        timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> "NodeProcess":
        """Run `dtn node run config_path` and wait for its ready line (NodeProcessError on failure)."""
        proc = cls.spawn(config_path, log_path=log_path, env=env)
        proc.wait_ready(timeout_s)
        return proc

    @classmethod
    def start_many(
        cls,
        config_paths: list[str | os.PathLike],
        *,
        log_dir: str | os.PathLike | None = None,
        timeout_s: float = 30.0,
    ) -> list["NodeProcess"]:
        """Start several nodes at once (in parallel) and wait until all are ready."""
        procs = []
        try:
            for path in config_paths:
                log = None if log_dir is None else pathlib.Path(log_dir) / (pathlib.Path(path).stem + ".log")
                procs.append(cls.spawn(path, log_path=log))
            for proc in procs:
                proc.wait_ready(timeout_s)
        except BaseException:
            for proc in procs:
                proc.kill()
            raise
        return procs

    @classmethod
    def spawn(
        cls,
        config_path: str | os.PathLike,
        *,
        log_path: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
    ) -> "NodeProcess":
        """Start the process without waiting; call `wait_ready` next."""
        config_path = pathlib.Path(config_path)
        log = pathlib.Path(log_path) if log_path is not None else None
        stderr = open(log, "ab") if log is not None else subprocess.DEVNULL
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            popen = subprocess.Popen(
                node_command(config_path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=full_env,
                start_new_session=True,
            )
        finally:
            if log is not None:
                stderr.close()
        return cls(popen, config_path, log)

    def wait_ready(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait for the ready line; kills the process and raises NodeProcessError if it does not come."""
        if self.ready:
            return self.ready
        try:
            self.ready = self._wait_ready(timeout_s)
        except BaseException:
            self.kill()
            raise
        return self.ready

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        buffer = b""
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NodeProcessError(f"node {self.config_path} not ready after {timeout_s:g} s{self._tail()}")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.popen.wait()
                    raise NodeProcessError(f"node {self.config_path} exited with status {code}{self._tail()}")
                buffer += chunk
        line = buffer.split(b"\n", 1)[0]
        try:
            ready = json.loads(line)
        except json.JSONDecodeError:
            raise NodeProcessError(f"unexpected output from node {self.config_path}: {line[:200]!r}") from None
        if not isinstance(ready, dict) or not ready.get("ready"):
            raise NodeProcessError(f"unexpected output from node {self.config_path}: {line[:200]!r}")
        return ready

    def _tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        return (":\n  " + "\n  ".join(lines)) if lines else ""

    # -- facts from the ready line -------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def agent(self) -> str:
        """The agent address (Unix socket path, or host:port when only TCP is configured)."""
        return self.ready.get("agent") or self.ready.get("agent_tcp")

    def port(self, index: int = 0) -> int:
        return int(self.ready["listen"][index]["port"])

    def client(self, **kwargs: Any):
        from dtn.client import SyncClient

        if self.ready.get("agent") is None and self.ready.get("agent_token_file"):  # TCP only: its token
            kwargs.setdefault("token_file", self.ready["agent_token_file"])
        return SyncClient(self.agent, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash (the store must cope)."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self._close_pipes()

    def stop(self, *, timeout_s: float = 15.0, sig: int = signal.SIGTERM) -> int:
        """Graceful stop (SIGTERM or SIGINT) and wait; returns the exit status (NodeProcessError on timeout)."""
        if self.alive():
            self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise NodeProcessError(f"node {self.config_path} did not stop within {timeout_s:g} s; killed") from None
        self._close_pipes()
        return code

    def _close_pipes(self) -> None:
        if self.popen.stdout is not None and not self.popen.stdout.closed:
            self.popen.stdout.close()

    def __enter__(self) -> "NodeProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.alive():
            try:
                self.stop(timeout_s=5)
            except NodeProcessError:
                pass
        else:
            self._close_pipes()
