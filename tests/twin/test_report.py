import json

from dtn.cli import main
from dtn.twin.report import build_report, load_report


def _run(tmp_path, events, sends, links=()):
    (tmp_path / "meta.json").write_text(json.dumps({"scenario": "t", "mode": "simulate", "plan_epoch_unix_s": 1000.0,
                                                    "nodes": {"1": "A", "2": "B", "3": "C"}}))
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"torn')
    (tmp_path / "sends.jsonl").write_text("".join(json.dumps(s) + "\n" for s in sends))
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(x) + "\n" for x in links))
    return tmp_path


def _ev(t, node, event, key, **kw):
    return {"t_unix_s": 1000.0 + t, "node": f"ipn:{node}.0", "event": event, "bundle": key, **kw}


EVENTS = [
    _ev(0, 1, "stored", "k1", size_bytes=100), _ev(1, 1, "forwarded", "k1", next_hop=2),
    _ev(1, 2, "stored", "k1", size_bytes=100), _ev(50, 2, "forwarded", "k1", next_hop=3),
    _ev(50, 3, "stored", "k1", size_bytes=100), _ev(51, 3, "delivered", "k1"),
    _ev(0, 1, "stored", "k2", size_bytes=10), _ev(90, 1, "deleted", "k2", reason="LIFETIME_EXPIRED"),
    _ev(0, 1, "stored", "k3", size_bytes=10),
]
SENDS = [
    {"t_s": 0, "bundle": "k1", "flow": "f", "src": 1, "dst": 3, "size_bytes": 100, "predicted_arrival_s": 40},
    {"t_s": 0, "bundle": "k2", "flow": "f", "src": 1, "dst": 3, "size_bytes": 10, "predicted_arrival_s": None},
    {"t_s": 0, "bundle": "k3", "flow": "f", "src": 1, "dst": 3, "size_bytes": 10, "predicted_arrival_s": None},
    {"t_s": 0, "bundle": "k4", "flow": "f", "src": 1, "dst": 3, "size_bytes": 10, "predicted_arrival_s": None},
]


def test_fates_and_lost(tmp_path):
    report = load_report(_run(tmp_path, EVENTS, SENDS))
    s = report.summary()
    assert (s["sent"], s["delivered"], s["expired"], s["pending_at_end"], s["lost"]) == (4, 1, 1, 1, 1)
    assert report.bundles[0].path == [1, 2, 3]
    assert s["latency_p50_s"] == 51 and s["predicted_latency_p50_s"] == 40
    assert report.occupancy[1][-1][1:] == (1, 10)


def test_cli_report_writes_plots_and_html(tmp_path, capsys):
    run = _run(tmp_path, EVENTS, SENDS, [{"a": 1, "b": 2, "start_s": 0, "end_s": 60, "bytes_ab": 300, "bytes_ba": 20,
                                         "capacity_ab_bytes": 6000, "capacity_ba_bytes": 6000, "sessions": 1}])
    assert main(["report", str(run)]) == 0
    assert "1 lost" in capsys.readouterr().out
    for name in ("timeline.png", "latency_cdf.png", "store_occupancy.png", "index.html"):
        assert (run / name).stat().st_size > 0


def test_cli_report_bad_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no meta.json" in capsys.readouterr().err


def test_empty_report():
    r = build_report([], [], [], {})
    assert r.lost == 0 and r.delivery_ratio == 1.0
