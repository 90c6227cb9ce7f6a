"""Block aggregation, the `[ltp]` table and the emulator's link model."""

from __future__ import annotations


import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpv7 import Bundle, encode
from dtn.bpv7.testing import bundles
from dtn.errors import ConfigError, DecodeError
from dtn.ltp import Aggregator, split_bundles
from dtn.ltp.settings import LtpSettings, parse_ltp_table
from dtn.node.config import parse_config
from dtn.twin.udp_emulator import Impairments, LinkModel


@given(st.lists(bundles(max_payload_bytes=300), min_size=1, max_size=5))
def test_split_bundles_inverts_concatenation(items):
    encoded = [encode(b) for b in items]
    assert split_bundles(b"".join(encoded)) == encoded


def test_split_rejects_garbage():
    one = encode(Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=1))
    with pytest.raises(DecodeError):
        split_bundles(one[:-1])
    with pytest.raises(DecodeError):
        split_bundles(b"")
    with pytest.raises(DecodeError):
        split_bundles(b"\x9f" * 100)  # nesting bomb


def test_aggregator_size_and_time_limits():
    agg = Aggregator(size_limit_bytes=100, time_limit_s=0.5)
    assert agg.add(b"a" * 40, 0.0) == []
    assert agg.deadline_s() == 0.5
    assert agg.add(b"b" * 40, 0.1) == []
    assert agg.add(b"c" * 40, 0.2) == [b"a" * 40 + b"b" * 40]  # would exceed: the pending block goes first
    assert agg.add(b"d" * 200, 0.3) == [b"c" * 40, b"d" * 200]  # too big for any block: alone
    assert agg.flush() is None and agg.deadline_s() is None


def test_ltp_table_and_node_config():
    assert parse_ltp_table(None) == LtpSettings()
    assert parse_ltp_table({"mtu_bytes": 9000, "owlt_s": 1.3}).owlt_s == 1.3
    for bad in ({"mtu_bytes": 10}, {"owlt_s": -1}, {"nope": 1}, {"rate_bytes_per_s": "fast"}, {"timer_margin_s": 0}):
        with pytest.raises(ConfigError, match="ltp."):
            parse_ltp_table(bad)
    cfg = parse_config(
        {
            "node": {"id": "ipn:1.0"},
            "listen": [{"cla": "ltp", "port": 1113}],
            "neighbours": {"2": {"cla": "ltp", "address": "127.0.0.1:1114"}},
            "ltp": {"aggregation_bytes": 65536},
        }
    )
    assert cfg.listen[0].cla == "ltp" and cfg.neighbours[2].cla == "ltp" and cfg.ltp.aggregation_bytes == 65536
    with pytest.raises(ConfigError, match="neighbours.2.address"):
        parse_config({"node": {"id": "ipn:1.0"}, "neighbours": {"2": {"cla": "ltp"}}})


def test_link_model_statistics():
    model = LinkModel(Impairments(owlt_s=1.3, loss=0.1, duplicate=0.1), seed=3)
    fates = [model.transmit(10.0) for _ in range(20000)]
    lost = sum(1 for f in fates if not f) / len(fates)
    dup = sum(1 for f in fates if len(f) == 2) / len(fates)
    assert 0.08 < lost < 0.12 and 0.07 < dup < 0.11
    assert all(t == pytest.approx(11.3) for f in fates for t in f)


def test_link_model_bursts_and_one_way():
    model = LinkModel(Impairments(burst_start=0.01, burst_length=10), seed=5)
    fates = [bool(model.transmit(0.0)) for _ in range(50000)]
    runs, run = [], 0
    for ok in fates:
        if not ok:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert 7 < sum(runs) / len(runs) < 13  # mean burst length ~10
    assert LinkModel(Impairments(up=False)).transmit(0.0) == []
    with pytest.raises(ConfigError):
        Impairments(loss=1.5)


def test_link_model_reorders():
    model = LinkModel(Impairments(owlt_s=0.1, reorder=0.5, reorder_s=0.05), seed=1)
    times = [model.transmit(i * 0.001)[0] for i in range(1000)]
    assert times != sorted(times)
    assert min(times) >= 0.1
