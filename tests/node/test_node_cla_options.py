"""Node sessions over TCPCLv4 with TLS (trustme CA, node-ID certificates) and over MTCP."""

from __future__ import annotations

import pytest
import trustme

from dtn.cla.tls import issue_node_certificate
from dtn.client import SyncClient
from tests.node.conftest import both

pytestmark = pytest.mark.timeout(60)


def test_tls_sessions_between_nodes(cluster):
    ca = trustme.CA()
    ca_pem = ca.cert_pem.bytes()
    (cluster.root / "ca.pem").write_bytes(ca_pem)
    for n in (1, 2):
        chain, key = issue_node_certificate(ca_pem, ca.private_key_pem.bytes(), f"ipn:{n}.0")
        (cluster.root / f"{n}.crt").write_bytes(chain)
        (cluster.root / f"{n}.key").write_bytes(key)
    cluster.plan(both(1, 2, 0, 60), start_in_s=0.0)
    for n, peer in ((1, 2), (2, 1)):
        cluster.config(n, [peer], extra=f'[tls]\ncert = "{n}.crt"\nkey = "{n}.key"\nca = "ca.pem"\nrequire = true\n')
    cluster.start(1, 2)
    with SyncClient(cluster.sock(1)) as a:
        a.send("ipn:2.1", b"over TLS")
    with SyncClient(cluster.sock(2)) as b:
        d = b.receive("ipn:2.1", timeout_s=15)
        assert d is not None and d.payload == b"over TLS"
        b.ack(d)
    assert cluster.of(1, "contact_up")[0]["tls"] is True


def test_tls_required_refuses_a_plain_peer(cluster):
    ca = trustme.CA()
    ca_pem = ca.cert_pem.bytes()
    (cluster.root / "ca.pem").write_bytes(ca_pem)
    chain, key = issue_node_certificate(ca_pem, ca.private_key_pem.bytes(), "ipn:2.0")
    (cluster.root / "2.crt").write_bytes(chain)
    (cluster.root / "2.key").write_bytes(key)
    cluster.plan(both(1, 2, 0, 60), start_in_s=0.0)
    cluster.config(1, [2])  # no TLS
    cluster.config(2, [1], extra='[tls]\ncert = "2.crt"\nkey = "2.key"\nca = "ca.pem"\nrequire = true\n')
    cluster.start(1, 2)
    cluster.wait_event(1, lambda e: e["event"] == "dial_failed", timeout_s=10)
    assert not cluster.of(2, "contact_up")


def test_mtcp_neighbour(cluster):
    cluster.plan(both(1, 2, 0, 60), start_in_s=0.0)
    cluster.config(1, [2], extra="")
    text = (
        (cluster.root / "1.toml")
        .read_text()
        .replace(
            f'[neighbours.2]\naddress = "127.0.0.1:{cluster.ports[2]}"',
            f'[neighbours.2]\naddress = "127.0.0.1:{cluster.ports[2]}"\ncla = "mtcp"',
        )
    )
    (cluster.root / "1.toml").write_text(text)
    cluster.config(2, [])
    text = (cluster.root / "2.toml").read_text().replace("[[listen]]", '[[listen]]\ncla = "mtcp"')
    (cluster.root / "2.toml").write_text(text)
    cluster.start(1, 2)
    with SyncClient(cluster.sock(1)) as a:
        a.send("ipn:2.1", b"over MTCP")
    with SyncClient(cluster.sock(2)) as b:
        d = b.receive("ipn:2.1", timeout_s=15)
        assert d is not None and d.payload == b"over MTCP"
        b.ack(d)
