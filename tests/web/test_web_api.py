"""The node's JSON API under /api/, against real node processes over loopback HTTP (hypercorn on Trio)."""

from __future__ import annotations

import pathlib
import urllib.request

import pytest

from dtn.errors import ConfigError
from dtn.web.access import may_change
from dtn.web.config import parse_web_table
from tests.web.conftest import SECRET, get_json, post_json, web_url


def test_snapshot_has_every_part_of_the_page(web_cluster):
    url = web_url(web_cluster)
    snap = get_json(url + "api/snapshot")
    assert snap["node_id"] == "ipn:2.0"
    assert {"store", "sessions", "contacts", "deliveries", "events", "plan_now_s"} <= set(snap)
    session = snap["sessions"][0]
    assert session["node"] == 1 and session["cla"] == "tcpcl" and session["session"] == "up"
    assert snap["sessions"][1]["node"] == 3 and snap["sessions"][1]["session"] == "down"
    contacts = snap["contacts"]
    assert {(c["peer"], c["direction"]) for c in contacts["now"]} == {(1, "in"), (1, "out")}
    assert {c["peer"] for c in contacts["contacts"]} == {1, 3}
    assert (contacts["next"]["peer"], contacts["next"]["start_s"]) == (3, 300)
    assert contacts["next"]["start_unix_s"] == pytest.approx(web_cluster.epoch_unix_s + 300, abs=0.01)


def test_delivery_shows_in_the_api(web_cluster):
    url = web_url(web_cluster)
    client = web_cluster.procs[1].client()
    with web_cluster.procs[2].client() as receiver:
        receiver.register("ipn:2.5")
        with client:
            client.send("ipn:2.5", b"hello web")
        web_cluster.wait_event(2, lambda e: e["event"] in ("delivered", "stored") and e.get("dst") == "ipn:2.5")
        delivery = receiver.receive("ipn:2.5", timeout_s=20)
        assert delivery.payload == b"hello web"
        receiver.ack(delivery)
    web_cluster.wait_event(2, lambda e: e["event"] == "delivered")
    deliveries = get_json(url + "api/deliveries")
    assert [d["dst"] for d in deliveries] == ["ipn:2.5"]
    assert get_json(url + "api/events?kind=delivered&last=5") == deliveries
    assert get_json(url + "api/status")["events"]["delivered"] == 1


def test_contacts_sessions_and_bad_query(web_cluster):
    url = web_url(web_cluster)
    assert get_json(url + "api/contacts")["window_end_s"] > get_json(url + "api/contacts")["window_start_s"]
    assert get_json(url + "api/sessions")[0]["node"] == 1
    try:
        urllib.request.urlopen(url + "api/events?last=many", timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
    else:
        raise AssertionError("expected 400")


def test_changes_need_the_secret(web_cluster):
    url = web_url(web_cluster) + "api/contacts/1"
    assert post_json(url, {"state": "down"})[0] == 403
    assert post_json(url, {"state": "down"}, token="wrong-secret-wrong")[0] == 403
    assert post_json(url, {"state": "sideways"}, token=SECRET)[0] == 400
    status, body = post_json(url, {"state": "down"}, token=SECRET)
    assert (status, body) == (200, {"peer": 1, "state": "down"})
    assert get_json(web_url(web_cluster) + "api/sessions")[0]["override"] == "down"


def test_stream_sends_a_snapshot_at_once(web_cluster):
    with urllib.request.urlopen(web_url(web_cluster) + "api/stream", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        line = response.readline()
    assert line.startswith(b"data: {") and b'"node_id":"ipn:2.0"' in line


def test_may_change():
    assert may_change("Bearer s3cret-s3cret-s3cret", b"s3cret-s3cret-s3cret")
    assert not may_change("Bearer other", b"s3cret-s3cret-s3cret")
    assert not may_change("Basic s3cret-s3cret-s3cret", b"s3cret-s3cret-s3cret")
    assert not may_change(None, b"s3cret-s3cret-s3cret")
    assert not may_change("Bearer anything", None)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"address": "0.0.0.0:8080"}, "loopback only"),
        ({"address": "127.0.0.1"}, "host:port"),
        ({"address": "127.0.0.1:70000"}, "out of range"),
        ({"address": "127.0.0.1:8080", "colour": "red"}, "unknown key"),
        ({}, "host:port"),
    ],
)
def test_web_config_refuses(table, message):
    with pytest.raises(ConfigError, match=message):
        parse_web_table(table, base_dir=pathlib.Path("."))


def test_web_config_off_by_default_and_parsed():
    assert parse_web_table(None, base_dir=pathlib.Path(".")) is None
    cfg = parse_web_table({"address": "[::1]:0", "secret_file": "s"}, base_dir=pathlib.Path("/x"))
    assert (cfg.host, cfg.port, cfg.secret_file) == ("::1", 0, pathlib.Path("/x/s"))


def test_the_agent_token_also_allows_changes():
    """The page is read-only unless the caller shows a secret: the web secret or the node's agent token."""
    assert may_change("Bearer agent-token-agent-token", (b"web-secret-web-secret", b"agent-token-agent-token"))
    assert may_change("Bearer web-secret-web-secret", (b"web-secret-web-secret", b"agent-token-agent-token"))
    assert not may_change("Bearer neither-of-them-at-all", (b"web-secret-web-secret", b"agent-token-agent-token"))
    assert not may_change("Bearer anything", ())
