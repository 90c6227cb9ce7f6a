"""Two node processes exchange bundles over LTP through the UDP emulator: 5 % loss, 1.3 s one-way light time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from dtn.client import SyncClient
from dtn.twin.runner.process import free_port
from tests.node.conftest import Cluster

pytestmark = pytest.mark.timeout(120)

OWLT_S = 1.3


@pytest.fixture
def ltp_cluster():
    import pathlib
    import shutil
    import tempfile

    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-ltp-", dir="/tmp"))
    c = Cluster(root)
    relay = None
    try:
        yield c, (lambda p: setattr(c, "relay", p))
    finally:
        c.stop_all()
        relay = getattr(c, "relay", None)
        if relay is not None and relay.poll() is None:
            relay.terminate()
            relay.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _config(cluster: Cluster, me: int, peer: int, ltp_port: int, peer_address: str) -> None:
    extra = (
        "\n".join(
            [
                "[[listen]]",
                'cla = "ltp"',
                'host = "127.0.0.1"',
                f"port = {ltp_port}",
                f"[neighbours.{peer}]",
                'cla = "ltp"',
                f'address = "{peer_address}"',
                "[ltp]",
                "timer_margin_s = 0.5",
                "mtu_bytes = 1400",
            ]
        )
        + "\n"
    )
    lines = [
        "[node]",
        f'id = "ipn:{me}.0"',
        "[store]",
        f'path = "{me}.db"',
        "[plan]",
        'file = "plan.json"',
        "[agent]",
        f'socket = "{me}.sock"',
        "[log]",
        f'events = "{me}.jsonl"',
        'level = "info"',
        "[routing]",
        "retry_min_s = 0.1",
        "retry_max_s = 0.5",
    ]
    (cluster.root / f"{me}.toml").write_text("\n".join(lines) + "\n" + extra)


def test_bundles_over_ltp_with_loss_and_moon_delay_all_delivered(ltp_cluster):
    cluster, set_relay = ltp_cluster
    rate = 2_000_000
    cluster.plan([(1, 2, 0, 600, rate, OWLT_S), (2, 1, 0, 600, rate, OWLT_S)], start_in_s=0.5)
    ltp = {1: free_port(), 2: free_port()}
    relay_ports = {1: free_port(), 2: free_port()}  # node 1 sends to relay_ports[1], node 2 to relay_ports[2]
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dtn.twin.runner.udp_emulator",
            "--a",
            f"127.0.0.1:{ltp[1]}",
            "--b",
            f"127.0.0.1:{ltp[2]}",
            "--a-port",
            str(relay_ports[1]),
            "--b-port",
            str(relay_ports[2]),
            "--owlt",
            str(OWLT_S),
            "--loss",
            "0.05",
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    set_relay(relay)
    assert "relay:" in relay.stdout.readline()
    _config(cluster, 1, 2, ltp[1], f"127.0.0.1:{relay_ports[1]}")
    _config(cluster, 2, 1, ltp[2], f"127.0.0.1:{relay_ports[2]}")
    cluster.start(1, 2)

    payloads = {
        1: [os.urandom(n) for n in (10, 3000, 50_000, 200_000)] * 3,
        2: [os.urandom(n) for n in (20, 70_000)] * 3,
    }
    for me, peer in ((1, 2), (2, 1)):
        with SyncClient(cluster.sock(me)) as client:
            for payload in payloads[me]:
                client.send(f"ipn:{peer}.1", payload, lifetime_s=600)
    start = time.monotonic()
    for me, peer in ((2, 1), (1, 2)):
        got = []
        with SyncClient(cluster.sock(me)) as client:
            while len(got) < len(payloads[peer]):
                delivery = client.receive(f"ipn:{me}.1", timeout_s=40)
                assert delivery is not None, f"node {me} got {len(got)} of {len(payloads[peer])}"
                got.append(delivery.payload)
                client.ack(delivery)
        assert sorted(got) == sorted(payloads[peer])
    elapsed = time.monotonic() - start
    assert elapsed >= OWLT_S  # it did cross the emulated Earth-Moon distance
    relay.send_signal(2)  # SIGINT: the relay prints its counters
    _, err = relay.communicate(timeout=10)
    stats = json.loads(err.split("stats: ", 1)[1])
    assert stats["a_to_b"]["lost"] > 0 and stats["b_to_a"]["lost"] > 0, stats  # loss really happened


def test_spans_open_and_close_with_the_plan_contacts(ltp_cluster):
    """No relay: contacts [0, 3) and [6, 600) s. A bundle sent in the gap waits and crosses in the second."""
    cluster, _ = ltp_cluster
    rate = 1_000_000
    contacts = [(1, 2, 0, 3, rate, 0.0), (2, 1, 0, 3, rate, 0.0), (1, 2, 6, 600, rate, 0.0), (2, 1, 6, 600, rate, 0.0)]
    cluster.plan(contacts, start_in_s=5.0)  # node processes start slowly on a loaded machine
    ltp = {1: free_port(), 2: free_port()}
    _config(cluster, 1, 2, ltp[1], f"127.0.0.1:{ltp[2]}")
    _config(cluster, 2, 1, ltp[2], f"127.0.0.1:{ltp[1]}")
    cluster.start(1, 2)
    cluster.wait_event(1, lambda e: e["event"] == "contact_up" and e.get("peer") == 2, timeout_s=15)
    cluster.wait_event(1, lambda e: e["event"] == "contact_down" and e.get("peer") == 2, timeout_s=15)
    if cluster.plan_now_s() >= 6:
        pytest.skip("the machine was too slow to send within the contact gap")
    with SyncClient(cluster.sock(1)) as client:
        client.send("ipn:2.1", b"waits for the next contact", lifetime_s=600)
    with SyncClient(cluster.sock(2)) as client:
        delivery = client.receive("ipn:2.1", timeout_s=20)
        assert delivery is not None and delivery.payload == b"waits for the next contact"
    assert cluster.plan_now_s() >= 6
    ups = [e for e in cluster.events(1) if e["event"] == "contact_up" and e.get("peer") == 2]
    assert len(ups) == 2
