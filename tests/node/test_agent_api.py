"""The agent API against a real node process: bad messages get error replies and everything survives."""

from __future__ import annotations

import socket
import struct
import urllib.request

import msgpack
import pytest

from dtn.client import Client, NodeError, SyncClient
from dtn.errors import ClientError
from dtn.agentproto import encode_frame
from dtn.twin.runner.process import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def node(cluster):
    """One node (ipn:1.0) with an echo service, loopback TCP agent and metrics."""
    cluster.plan([(1, 2, 0, 1, 1e6), (2, 1, 0, 1, 1e6)], start_in_s=0.0)
    agent_port, metrics_port = free_port(), free_port()
    cluster.config(1, [], extra=(f'[echo]\nservice = 7\n[metrics]\naddress = "127.0.0.1:{metrics_port}"\n'))
    text = (
        (cluster.root / "1.toml")
        .read_text()
        .replace(
            '[agent]\nsocket = "1.sock"',
            f'[agent]\nsocket = "1.sock"\ntcp = "127.0.0.1:{agent_port}"\ntoken_file = "agent.token"',
        )
    )
    (cluster.root / "1.toml").write_text(text)
    cluster.start(1)
    return cluster


def _raw(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def _read_reply(s: socket.socket) -> dict:
    head = b""
    while len(head) < 4:
        head += s.recv(4 - len(head))
    (length,) = struct.unpack(">I", head)
    body = b""
    while len(body) < length:
        body += s.recv(length - len(body))
    return msgpack.unpackb(body, raw=False)


def test_bad_messages_get_errors_and_the_connection_survives(node):
    s = _raw(node.sock(1))
    bad_frames = [
        struct.pack(">I", 3) + b"\xc1\xc1\xc1",  # not msgpack
        encode_frame_raw([1, 2, 3]),  # not a map
        encode_frame({"op": "launch", "id": 1}),  # unknown op
        encode_frame({"op": "send", "id": 2}),  # missing fields
        encode_frame({"op": "send", "id": 3, "destination": "ipn:2.1", "payload": "text, not bytes"}),
        encode_frame({"op": "send", "id": 4, "destination": "nowhere", "payload": b"x"}),  # bad EID
        encode_frame({"op": "receive", "id": 5, "endpoint": "ipn:9.1", "timeout_s": 0}),  # not our endpoint
        encode_frame({"op": "ack", "id": 6, "bundle": "never delivered"}),
        encode_frame({"op": "contact", "id": 7, "peer": 2, "state": "sideways"}),
        struct.pack(">I", 200 * 1024 * 1024) + b"\x00" * 1000,  # oversized: skipped as it streams in
    ]
    for frame in bad_frames[:-1]:
        s.sendall(frame)
        reply = _read_reply(s)
        assert reply["ok"] is False and reply["error"], reply
        assert reply["code"] in ("bad_request", "unknown_op", "refused")
    s.sendall(bad_frames[-1])
    reply = _read_reply(s)
    assert reply["ok"] is False and "exceeds the limit" in reply["error"]
    s.close()
    with SyncClient(node.sock(1)) as client:  # the node is fine
        assert client.status()["node_id"] == "ipn:1.0"


def encode_frame_raw(value) -> bytes:
    data = msgpack.packb(value)
    return struct.pack(">I", len(data)) + data


def test_send_receive_ack_and_redelivery_after_disconnect(node):
    with SyncClient(node.sock(1)) as client:
        sent = client.send("ipn:1.5", b"to myself", report=["delivery"])
        first = client.receive("ipn:1.5", timeout_s=5)
        assert first.payload == b"to myself" and first.bundle == sent.bundle
        # closing without ack: the delivery goes back to the queue
    with SyncClient(node.sock(1)) as client:
        again = client.receive("ipn:1.5", timeout_s=5)
        assert again.bundle == sent.bundle
        client.ack(again)
        assert client.receive("ipn:1.5", timeout_s=0.2) is None
        with pytest.raises(NodeError, match="not delivered on this connection"):
            client.ack(again)
        reports = client.reports()
        assert any(r["subject"] == sent.bundle and "delivered" in r["status"] for r in reports)


def test_tcp_agent_ping_status_and_metrics(node):
    tcp = node.procs[1].ready["agent_tcp"]
    with SyncClient(tcp, token_file=node.procs[1].ready["agent_token_file"]) as client:
        rtts = client.ping("ipn:1.7", count=2, interval_s=0.05, timeout_s=5)
        assert all(r is not None and r < 5 for r in rtts)
        status = client.status()
        assert status["events"]["delivered"] >= 4  # two requests, two replies
    port = node.procs[1].ready["metrics"]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'dtn_events_total{event="delivered"}' in body
    assert "dtn_store_bundles" in body


async def test_async_client_errors():
    with pytest.raises(ClientError, match="no node socket"):
        await Client.connect("/tmp/definitely-not-a-node.sock")
    with pytest.raises(ClientError, match="cannot connect"):
        await Client.connect(f"127.0.0.1:{free_port()}")
