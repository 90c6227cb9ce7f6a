"""Two spacedtn node processes exchange bundles both ways over TCPCLv3, STCP and UDP."""

from __future__ import annotations

import pytest

from dtn.client import SyncClient
from tests.node.conftest import both

pytestmark = pytest.mark.timeout(90)


def configure(cluster, cla: str, *, both_dial: bool, extra: str = "") -> None:
    cluster.plan(both(1, 2, 0, 120), start_in_s=0.0)
    for n, peer in ((1, 2), (2, 1)):
        cluster.config(n, [peer], extra=extra)
        path = cluster.root / f"{n}.toml"
        text = path.read_text().replace("[[listen]]", f'[[listen]]\ncla = "{cla}"')
        dial = '\ndial = "always"' if both_dial else ""
        text = text.replace(
            f'[neighbours.{peer}]\naddress = "127.0.0.1:{cluster.ports[peer]}"',
            f'[neighbours.{peer}]\naddress = "127.0.0.1:{cluster.ports[peer]}"\ncla = "{cla}"{dial}',
        )
        path.write_text(text)


def exchange(cluster, count: int = 5, size_bytes: int = 2000) -> None:
    with SyncClient(cluster.sock(1)) as a, SyncClient(cluster.sock(2)) as b:
        for i in range(count):
            a.send("ipn:2.1", b"%d" % i + b"a" * size_bytes)
            b.send("ipn:1.1", b"%d" % i + b"b" * size_bytes)
        for client, endpoint, fill in ((b, "ipn:2.1", b"a"), (a, "ipn:1.1", b"b")):
            got = []
            for _ in range(count):
                d = client.receive(endpoint, timeout_s=20)
                assert d is not None, f"only {len(got)} of {count} bundles reached {endpoint}"
                got.append(d.payload)
                client.ack(d)
            assert sorted(got) == sorted(b"%d" % i + fill * size_bytes for i in range(count))


def test_tcpclv3_between_nodes(cluster):
    configure(cluster, "tcpclv3", both_dial=False)
    cluster.start(1, 2)
    exchange(cluster, count=10, size_bytes=300_000)
    assert cluster.of(1, "contact_up") and cluster.of(2, "contact_up")


def test_stcp_between_nodes(cluster):
    configure(cluster, "stcp", both_dial=True)
    cluster.start(1, 2)
    exchange(cluster, count=10, size_bytes=300_000)


def test_udp_between_nodes(cluster):
    configure(cluster, "udp", both_dial=True)
    cluster.start(1, 2)
    exchange(cluster, count=10, size_bytes=2000)


def test_udp_bundle_over_the_limit_is_refused_clearly(cluster):
    configure(cluster, "udp", both_dial=True, extra="[cla.udp]\nmax_bundle_bytes = 3000\n")
    cluster.start(1, 2)
    with SyncClient(cluster.sock(1)) as a:
        a.send("ipn:2.1", b"x" * 5000, no_fragment=True)
        a.send("ipn:2.1", b"small")
    with SyncClient(cluster.sock(2)) as b:
        d = b.receive("ipn:2.1", timeout_s=20)
        assert d is not None and d.payload == b"small"
        b.ack(d)
    failed = cluster.wait_event(1, lambda e: e["event"] == "forward_failed", timeout_s=10)
    assert "exceeds the udp convergence layer limit of 3000 bytes" in failed["reason"].lower()


def test_udp_bundle_over_the_limit_is_fragmented_when_allowed(cluster):
    configure(cluster, "udp", both_dial=True, extra="[cla.udp]\nmax_bundle_bytes = 3000\n")
    cluster.start(1, 2)
    payload = bytes(range(256)) * 40  # 10 240 bytes: four or more datagrams
    with SyncClient(cluster.sock(1)) as a:
        a.send("ipn:2.1", payload)
    with SyncClient(cluster.sock(2)) as b:
        d = b.receive("ipn:2.1", timeout_s=20)
        assert d is not None and d.payload == payload
        b.ack(d)
    assert cluster.of(1, "fragmented")[0]["fragments"] >= 4
