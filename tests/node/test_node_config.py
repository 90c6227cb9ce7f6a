"""dtn/node/config.py: every example loads; every bad value names its key; junk never escapes as a crash."""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.errors import ConfigError
from dtn.node.config import load_config, parse_config, split_host_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    config = load_config(path)
    assert config.node_id.startswith("ipn:")
    assert config.node_number > 0


def test_example_a_values():
    config = load_config(ROOT / "examples" / "node-a.toml")
    assert config.node_number == 1
    assert config.dtn_id == "dtn://node-a/"
    assert config.neighbours[2].address == "127.0.0.1:4557"
    assert config.plan.file == (ROOT / "examples" / "chain-plan.json")
    assert config.echo_service == 7
    assert config.listen[0].port == 4556


BASE = {"node": {"id": "ipn:5.0"}}


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"node": {"id": "ipn:5.1"}}, "node.id"),
        ({"node": {"id": "dtn://x/"}}, "node.id"),
        ({"node": {"id": "ipn:0.0"}}, "node.id"),
        ({"node": {"id": "ipn:5.0", "endpoints": ["ipn:6.1"]}}, "node.endpoints[0]"),
        ({"node": {"id": "ipn:5.0", "colour": "red"}}, "node.colour"),
        ({"store": {"max_bytes": -1}}, "store.max_bytes"),
        ({"store": {"max_bytes": "lots"}}, "store.max_bytes"),
        ({"listen": [{"port": 70000}]}, "listen[0].port"),
        ({"listen": [{"cla": "smoke-signals"}]}, "listen[0].cla"),
        ({"neighbours": {"x": "127.0.0.1:1"}}, "neighbours.x"),
        ({"neighbours": {"5": "127.0.0.1:1"}}, "neighbours.5"),
        ({"neighbours": {"6": {"address": "nohost"}}}, "neighbours.6.address"),
        ({"neighbours": {"6": {"address": "h:1", "dial": "maybe"}}}, "neighbours.6.dial"),
        ({"agent": {"tcp": "0.0.0.0:4242"}}, "agent.tcp"),
        ({"routing": {"no_route": "drop"}}, "routing.no_route"),
        ({"routing": {"retry_min_s": 0}}, "routing.retry_min_s"),
        ({"bundles": {"crc_type": 3}}, "bundles.crc_type"),
        ({"bundles": {"hop_limit": 300}}, "bundles.hop_limit"),
        ({"plan": {"epoch": "yesterday"}}, "plan.epoch"),
        (
            {"plan": {"contacts": [{"from": 5, "to": 6, "start_s": 10, "end_s": 5, "rate_bytes_per_s": 1}]}},
            "plan.contacts[0].end_s",
        ),
        ({"plan": {"contacts": [{"from": 5, "to": 6, "start_s": 0, "end_s": 5}]}}, "plan.contacts[0].rate_bytes_per_s"),
        ({"log": {"level": "loud"}}, "log.level"),
        ({"clock": {"source": "gps"}}, "clock.source"),
        ({"tls": {"require": True}}, "tls.require"),
        ({"metrics": {"address": "9100"}}, "metrics.address"),
        ({"mystery": {}}, "mystery"),
    ],
)
def test_bad_values_name_the_key(patch, key):
    data = {**BASE, **patch}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_missing_node_table():
    with pytest.raises(ConfigError) as info:
        parse_config({})
    assert info.value.key == "node"


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[node\nid=1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_relative_paths_resolve_against_config_dir(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text('[node]\nid = "ipn:4.0"\n[store]\npath = "s.db"\n[agent]\nsocket = "a.sock"\n')
    config = load_config(path)
    assert config.store.path == tmp_path / "s.db"
    assert config.agent.socket == tmp_path / "a.sock"


def test_split_host_port():
    assert split_host_port("127.0.0.1:80", key="k") == ("127.0.0.1", 80)
    assert split_host_port("[::1]:4556", key="k") == ("::1", 4556)
    with pytest.raises(ConfigError):
        split_host_port("::1:4556", key="k")


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
sections = st.sampled_from(
    [
        "node",
        "clock",
        "store",
        "plan",
        "listen",
        "tls",
        "neighbours",
        "agent",
        "routing",
        "bundles",
        "echo",
        "log",
        "metrics",
        "security",
    ]
)


@given(
    st.dictionaries(sections, toml_values, max_size=6),
    st.dictionaries(st.sampled_from(["id", "endpoints", "dtn_id"]), toml_values),
)
def test_junk_gives_config_error_only(data, node):
    data = dict(data)
    data["node"] = {"id": "ipn:5.0", **node} if isinstance(node, dict) else node
    try:
        parse_config(data)
    except ConfigError:
        pass
