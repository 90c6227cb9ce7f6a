"""dtn.compute (pure): messages, config, cost model, placement against brute force, example functions."""

import itertools
import math
import pathlib

import cbor2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.compute import (
    CostModel,
    JobReply,
    JobRequest,
    Offer,
    choose_placement,
    decode_message,
    encode_message,
    parse_compute_table,
)
from dtn.compute.examples import band_stats, dump_product, load_product, thumbnail
from dtn.errors import ConfigError, DecodeError

OID = "ab" * 32


def test_request_and_reply_round_trip():
    req = JobRequest("job-1", "band_stats", (("inline", b"xyz"), ("object", OID)), {"factor": 4}, 1.7e9, 7, "archive")
    assert decode_message(encode_message(req)) == req
    rep = JobReply("job-1", "done", "", b"result", None, 3, {"finished_unix_s": 1.0})
    assert decode_message(encode_message(rep)) == rep


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        cbor2.dumps([2, 1]),
        cbor2.dumps([1, 9]),
        cbor2.dumps([1, 1, "j", "f"]),
        cbor2.dumps([1, 1, "bad id!", "f", [], {}, 1.0, 1, "inline"]),
        cbor2.dumps([1, 1, "j", "f", [[1, "nothex"]], {}, 1.0, 1, "inline"]),
        cbor2.dumps([1, 1, "j", "f", [], {}, 1.0, 1, "elsewhere"]),
        cbor2.dumps([1, 1, "j", "f", [], {}, float("nan"), 1, "inline"]),
        cbor2.dumps([1, 2, "j", "weird", "", None, None, 1, {}]),
        cbor2.dumps([1, 2, "j", "done", "", None, None, -1, {}]),
        cbor2.dumps([1, 1, "j", "f", [], {}, 1.0, 1, "inline"]) + b"\x00",
    ],
)
def test_malformed_messages_are_decode_errors(data):
    with pytest.raises(DecodeError):
        decode_message(data)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_decode_never_raises_anything_but_decode_error(data):
    try:
        decode_message(data)
    except DecodeError:
        pass


def test_config_table(tmp_path):
    cfg = parse_compute_table(
        {
            "concurrency": 2,
            "speed": 2.5,
            "allowed_sources": [1, 2],
            "path": "c.db",
            "functions": {"band_stats": "dtn.compute.examples:band_stats"},
            "cost_s_per_mib": {"band_stats": 0.1},
        },
        base_dir=tmp_path,
    )
    assert cfg.concurrency == 2 and cfg.speed == 2.5 and cfg.allowed_sources == (1, 2)
    assert cfg.path == tmp_path / "c.db" and cfg.functions["band_stats"].endswith(":band_stats")
    assert parse_compute_table(None, base_dir=tmp_path) is None
    assert parse_compute_table({"enabled": False}, base_dir=tmp_path) is None


@pytest.mark.parametrize(
    "table",
    [
        {"bogus": 1},
        {"concurrency": 0},
        {"speed": -1},
        {"functions": {"f": "no colon"}},
        {"functions": {"f": "m:c"}, "cost_s_per_mib": {"g": 1.0}},
        {"allowed_sources": ["x"]},
        {"cpu_s": math.inf},
    ],
)
def test_bad_config_is_config_error(table):
    with pytest.raises(ConfigError):
        parse_compute_table(table, base_dir=pathlib.Path("."))


def test_cost_model_refines_from_runs():
    cost = CostModel(s_per_mib=1.0)
    assert cost.compute_s(2 * 1024 * 1024, speed=2.0) == pytest.approx(1.0)
    cost.observe(4 * 1024 * 1024, 1.0, 2.0)  # measured 0.5 s/MiB
    assert cost.s_per_mib == pytest.approx(0.5)
    cost.observe(4 * 1024 * 1024, 1.0, 4.0)  # 1.0 s/MiB, averaged in
    assert 0.5 < cost.s_per_mib < 1.0


times = st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False))


@given(
    offers=st.lists(
        st.tuples(
            st.integers(1, 40),
            st.floats(0.1, 10),
            st.floats(0, 1e4),
            times,
            times,
            st.one_of(st.none(), st.floats(0, 1e5)),
        ),
        min_size=0,
        max_size=8,
        unique_by=lambda o: o[0],
    ),
    s_per_mib=st.floats(0, 100),
    input_bytes=st.integers(0, 10**9),
)
@settings(max_examples=200, deadline=None)
def test_placement_matches_brute_force(offers, s_per_mib, input_bytes):
    cost = CostModel(s_per_mib=s_per_mib)
    req = {o[0]: o[3] for o in offers}
    inp = {o[0]: o[4] for o in offers}
    delay = {o[0]: o[5] for o in offers}
    ranked = choose_placement(
        [Offer(o[0], o[1], o[2]) for o in offers],
        cost,
        input_bytes,
        request_arrival=req.get,
        inputs_ready=inp.get,
        result_arrival=lambda n, t: None if delay[n] is None else t + delay[n],
    )
    # brute force: every node, its completion computed directly, the minimum
    best = None
    for node, speed, queue_s, r, i, d in offers:
        if r is None or i is None or d is None:
            continue
        done = max(r, i) + queue_s + s_per_mib * input_bytes / 2**20 / speed + d
        if best is None or (done, node) < best:
            best = (done, node)
    if best is None:
        assert ranked == []
    else:
        assert ranked[0].node == best[1]
        assert ranked[0].result_at_s == pytest.approx(best[0])
        assert all(a.result_at_s <= b.result_at_s for a, b in itertools.pairwise(ranked))
        assert len({p.node for p in ranked}) == len(ranked)


def test_band_stats_and_thumbnail():
    arr = np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16)
    stats = cbor2.loads(band_stats([dump_product(arr)], {}))
    assert stats[0][0]["min"] == 0 and stats[0][1]["max"] == 511 and stats[0][0]["count"] == 256
    assert stats[0][1]["mean"] == pytest.approx(arr[1].mean())
    thumb = load_product(thumbnail([dump_product(arr)], {"factor": 4}))
    assert thumb.shape == (2, 4, 4) and thumb[0, 0, 0] == pytest.approx(arr[0, :4, :4].mean())
    with pytest.raises(DecodeError):
        band_stats([b"not npy"], {})
