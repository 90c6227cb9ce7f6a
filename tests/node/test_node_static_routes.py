"""Static and default routes between real node processes without a contact plan, and what `dtn send` says
when a bundle has no route."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dtn.client import SyncClient
from dtn.errors import ConfigError
from dtn.node.config import parse_config
from dtn.twin.runner.process import free_port

pytestmark = pytest.mark.timeout(90)


def write(cluster, number: int, neighbours: list[int], routes: list[tuple[str, int]], cla: str = "tcpcl") -> None:
    lines = [
        "[node]",
        f'id = "ipn:{number}.0"',
        "[store]",
        f'path = "{number}.db"',
        "[[listen]]",
        f'cla = "{cla}"',
        'host = "127.0.0.1"',
        f"port = {cluster.ports[number]}",
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
        lines += [f"[neighbours.{peer}]", f'address = "127.0.0.1:{cluster.ports[peer]}"', f'cla = "{cla}"']
    for to, via in routes:
        lines += ["[[routes]]", f'to = "{to}"', f"via = {via}"]
    (cluster.root / f"{number}.toml").write_text("\n".join(lines) + "\n")


def test_chain_without_a_plan_delivers_through_static_routes(cluster):
    for n in (1, 2, 3):
        cluster.ports[n] = free_port()
    write(cluster, 1, [2], [("*", 2)])  # A: a default route
    write(cluster, 2, [1, 3], [])  # B: its neighbours are its always-on plan
    write(cluster, 3, [2], [("ipn:1.*", 2)])  # C: a node route
    cluster.start(1, 2, 3)
    with SyncClient(cluster.sock(1)) as a:
        sent = [a.send("ipn:3.1", b"to C %d" % i) for i in range(5)]
    assert {s.next_hop for s in sent} == {2} and "static route *" in sent[0].note
    with SyncClient(cluster.sock(3)) as c:
        for i in range(5):
            d = c.receive("ipn:3.1", timeout_s=20)
            assert d is not None and d.payload.startswith(b"to C ")
            c.ack(d)
        c.send("ipn:1.1", b"back to A")
    with SyncClient(cluster.sock(1)) as a:
        d = a.receive("ipn:1.1", timeout_s=20)
        assert d is not None and d.payload == b"back to A"
        a.ack(d)
    assert not cluster.of(1, "no_route")
    routed = cluster.of(1, "routed")
    assert routed and all(e.get("static") == "*" and e["next_hop"] == 2 for e in routed)


def test_dtn_send_without_a_route_says_so(cluster):
    cluster.ports[1] = free_port()
    cluster.ports[2] = free_port()
    write(cluster, 1, [2], [])
    cluster.start(1)
    r = subprocess.run(
        [sys.executable, "-m", "dtn", "send", "--node", cluster.sock(1), "--to", "ipn:9.1", "--data", "hello"],
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("sent ")
    err = r.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dtn: no route to ipn:9.1") and "waits in the store" in err[0]


def test_routes_config_is_checked():
    base = {"node": {"id": "ipn:1.0"}, "neighbours": {"2": "127.0.0.1:4556"}}
    cfg = parse_config({**base, "routes": [{"to": "ipn:7.*", "via": 2}, {"to": "*", "via": 2}]})
    assert [(r.to, r.via) for r in cfg.routes] == [("ipn:7.*", 2), ("*", 2)]
    with pytest.raises(ConfigError, match=r"routes\[0\]\.via: via = 3 is not a configured neighbour"):
        parse_config({**base, "routes": [{"to": "*", "via": 3}]})
    with pytest.raises(ConfigError, match=r"routes\[0\]\.to: bad route pattern"):
        parse_config({**base, "routes": [{"to": "ipn:7", "via": 2}]})
    with pytest.raises(ConfigError, match=r"routes\[0\]\.metric: unknown key"):
        parse_config({**base, "routes": [{"to": "*", "via": 2, "metric": 1}]})
