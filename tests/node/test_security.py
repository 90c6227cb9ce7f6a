"""Issue 15: the node against local users, bad requests and hostile input (real node processes, real sockets).

docs/security.md describes what these check: the TCP agent token, file parameters read with the caller's
rights, private file modes, admin requests validated against config and plan, the RFC 9171 MUSTs.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
import time

import msgpack
import pytest

from dtn.client import NodeError, SyncClient
from dtn.errors import ClientError
from dtn.agentproto import encode_frame
from dtn.twin.runner.process import free_port

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def node(cluster):
    """ipn:1.0 with neighbour 2 (in config and plan), a TCP agent with its token file, a file store."""
    cluster.plan([(1, 2, 0, 3600, 1e6), (2, 1, 0, 3600, 1e6)], start_in_s=0.0)
    cluster.ports[2] = free_port()
    cluster.config(1, [2])
    text = (
        (cluster.root / "1.toml")
        .read_text()
        .replace(
            '[agent]\nsocket = "1.sock"',
            f'[agent]\nsocket = "1.sock"\ntcp = "127.0.0.1:{free_port()}"\ntoken_file = "tokens/agent.token"',
        )
    )
    (cluster.root / "1.toml").write_text(text)
    cluster.start(1)
    return cluster


def _connect_tcp(address: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def _request(s: socket.socket, body: dict) -> dict | None:
    s.sendall(encode_frame(body))
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (length,) = struct.unpack(">I", head)
    data = b""
    while len(data) < length:
        data += s.recv(length - len(data))
    return msgpack.unpackb(data, raw=False)


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# -- the TCP agent token -----------------------------------------------------------------------------------------


def test_tcp_agent_refuses_every_op_without_the_token(node):
    ready = node.procs[1].ready
    for op in (
        {"op": "status"},
        {"op": "send", "destination": "ipn:2.1", "payload": b"x"},
        {"op": "stop"},
        {"op": "hello", "version": 1},
        {"op": "hello", "version": 1, "token": "0" * 64},
    ):
        s = _connect_tcp(ready["agent_tcp"])
        reply = _request(s, {"id": 1, **op})
        assert reply["ok"] is False and reply["code"] == "unauthorized", (op, reply)
        assert s.recv(1) == b""  # one answer, then the node closes the connection
        s.close()
    assert node.procs[1].alive()
    with SyncClient(node.sock(1)) as client:  # nothing was sent, nothing stopped
        assert client.status()["bundles"] == 0


def test_tcp_agent_works_with_the_token(node):
    ready = node.procs[1].ready
    token_file = ready["agent_token_file"]
    assert token_file == str(node.root / "tokens" / "agent.token")
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(node.root / "tokens").st_mode) == 0o700
    with pytest.raises(ClientError, match="needs the node's token"):
        SyncClient(ready["agent_tcp"], token_file=node.root / "missing.token")
    with SyncClient(ready["agent_tcp"], token_file=token_file) as client:
        assert client.status()["node_id"] == "ipn:1.0"
        sent = client.send("ipn:1.5", b"over tcp")
        assert client.receive("ipn:1.5", timeout_s=5).bundle == sent.bundle
        client.stop()
    assert node.procs[1].popen.wait(timeout=15) == 0


def test_token_from_the_environment_and_the_cli(node, monkeypatch):
    ready = node.procs[1].ready
    monkeypatch.setenv("DTN_AGENT_TOKEN_FILE", ready["agent_token_file"])
    with SyncClient(ready["agent_tcp"]) as client:
        assert client.status()["node_id"] == "ipn:1.0"
    env = dict(os.environ, DTN_AGENT_TOKEN_FILE="")
    cmd = [sys.executable, "-m", "dtn", "status", "--node", ready["agent_tcp"]]
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and "token" in r.stderr.decode()
    r = subprocess.run(
        [*cmd, "--token-file", ready["agent_token_file"], "--json"], capture_output=True, env=env, timeout=60
    )
    assert r.returncode == 0 and b'"ipn:1.0"' in r.stdout, r.stderr


# -- file parameters ---------------------------------------------------------------------------------------------


def test_dev_zero_and_a_fifo_are_refused_at_once_and_memory_is_unchanged(node, tmp_path):
    pid = node.procs[1].pid
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with SyncClient(node.sock(1)) as client:
        client.status()
        before = _rss_kib(pid)
        for path, kind in (
            ("/dev/zero", "character device"),
            (str(fifo), "FIFO"),
            ("/proc/self/status", None),
            (str(tmp_path), "directory"),
        ):
            t0 = time.monotonic()
            try:
                client.request("send", destination="ipn:1.5", file=path)
            except NodeError as exc:
                assert exc.code == "bad_request" and "file:" in str(exc)
                if kind is not None:
                    assert kind in str(exc)
            assert time.monotonic() - t0 < 1.0, path
        after = _rss_kib(pid)
    assert after - before < 20 * 1024, (before, after)  # KiB: nothing like the file's "size" was read


def test_a_regular_file_is_read_over_unix_but_never_over_tcp(node, tmp_path):
    data = os.urandom(300_000)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    with SyncClient(node.sock(1)) as client:
        reply = client.request("send", destination="ipn:1.5", file=str(path))
        assert reply["size_bytes"] > len(data)
        assert client.receive("ipn:1.5", timeout_s=5).payload == data
        with pytest.raises(NodeError, match="not an absolute path"):
            client.request("send", destination="ipn:1.5", file="payload.bin")
    ready = node.procs[1].ready
    with SyncClient(ready["agent_tcp"], token_file=ready["agent_token_file"]) as client:
        with pytest.raises(NodeError, match="only on the Unix agent socket") as info:
            client.request("send", destination="ipn:1.5", file=str(path))
        assert info.value.code == "bad_request"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_user_on_the_unix_socket_is_refused(node):
    sock = node.sock(1)
    os.chmod(node.root, 0o711)
    os.chmod(sock, 0o666)  # pretend the socket mode were wrong: the peer check still holds
    code = (
        "import os, socket, struct, msgpack\n"
        "os.setgid(65534); os.setuid(65534)\n"
        f"s = socket.socket(socket.AF_UNIX); s.connect({sock!r})\n"
        "body = msgpack.packb({'op': 'status', 'id': 1})\n"
        "s.sendall(struct.pack('>I', len(body)) + body)\n"
        "head = s.recv(4); reply = msgpack.unpackb(s.recv(struct.unpack('>I', head)[0]))\n"
        "print(reply['code'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert r.stdout.decode().strip() == "unauthorized", r.stderr


# -- files on disk -----------------------------------------------------------------------------------------------


def test_store_event_log_and_payload_files_are_private(node):
    with SyncClient(node.sock(1)) as client:
        client.send("ipn:2.1", os.urandom(200_000))  # above the inline threshold: a payload file
        client.send("ipn:1.5", b"small")
        d = client.receive("ipn:1.5", timeout_s=5)
        client.ack(d)  # the delivery ledger
    root = node.root
    files = [root / "1.db", root / "1.jsonl", root / "1.db.delivered"]
    files += [p for p in root.iterdir() if p.name.endswith(("-wal", "-shm"))]
    files += list((root / "1.db.payloads").iterdir())
    assert len(files) >= 6
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(root / "1.db.payloads").st_mode) == 0o700


# -- admin requests ----------------------------------------------------------------------------------------------


def test_bad_contact_requests_are_refused_and_status_keeps_working(node):
    with SyncClient(node.sock(1)) as client:
        for peer in (2**64 - 1, 99, 1, 0, -5):
            with pytest.raises(NodeError, match="peer") as info:
                client.contact(peer, "up")
            assert info.value.code == "bad_request"
        status = client.status()
        assert [p["node"] for p in status["peers"]] == [2]
        client.contact(2, "down")  # a real neighbour still works
        assert client.status()["peers"][0]["override"] == "down"
        client.contact(2, "plan")
        with pytest.raises(NodeError, match="endpoint") as info:
            client.register("ipn:1.99999999999999999999999")
        assert info.value.code == "bad_request"
        with pytest.raises(NodeError, match="crc_type") as info:
            client.send("ipn:2.1", b"x", crc_type=0)
        assert info.value.code == "bad_request"
        assert client.status()["node_id"] == "ipn:1.0"
