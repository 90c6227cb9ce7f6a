import json

from dtn.cli import main
from dtn.twin.report import build_report, load_report


def _run(tmp_path, events, sends, links=()):
    (tmp_path / "meta.json").write_text(
        json.dumps(
            {"scenario": "t", "mode": "simulate", "plan_epoch_unix_s": 1000.0, "nodes": {"1": "A", "2": "B", "3": "C"}}
        )
    )
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"torn')
    (tmp_path / "sends.jsonl").write_text("".join(json.dumps(s) + "\n" for s in sends))
    (tmp_path / "links.jsonl").write_text("".join(json.dumps(x) + "\n" for x in links))
    return tmp_path


def _ev(t, node, event, key, **kw):
    return {"t_unix_s": 1000.0 + t, "node": f"ipn:{node}.0", "event": event, "bundle": key, **kw}


EVENTS = [
    _ev(0, 1, "stored", "k1", size_bytes=100),
    _ev(1, 1, "forwarded", "k1", next_hop=2),
    _ev(1, 2, "stored", "k1", size_bytes=100),
    _ev(50, 2, "forwarded", "k1", next_hop=3),
    _ev(50, 3, "stored", "k1", size_bytes=100),
    _ev(51, 3, "delivered", "k1"),
    _ev(0, 1, "stored", "k2", size_bytes=10),
    _ev(90, 1, "deleted", "k2", reason="LIFETIME_EXPIRED"),
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
    run = _run(
        tmp_path,
        EVENTS,
        SENDS,
        [
            {
                "a": 1,
                "b": 2,
                "start_s": 0,
                "end_s": 60,
                "bytes_ab": 300,
                "bytes_ba": 20,
                "capacity_ab_bytes": 6000,
                "capacity_ba_bytes": 6000,
                "sessions": 1,
            }
        ],
    )
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


def test_story_tells_outages_losses_and_latency_in_plain_words(tmp_path):
    run = _run(tmp_path, EVENTS, SENDS)
    (run / "faults.json").write_text(
        json.dumps(
            [
                {"kind": "node_down", "node": 1, "from_s": 10800.0, "to_s": 32400.0},
                {"kind": "kill_node", "node": 2, "at_s": 11000.0},
                {"kind": "kill_node", "node": 3, "at_s": 12000.0, "restart_after_s": 60.0},
            ]
        )
    )
    (run / "meta.json").write_text(
        json.dumps(
            {
                "scenario": "t",
                "mode": "simulate",
                "plan_epoch_unix_s": 1000.0,
                "start_s": 0,
                "end_s": 43200,
                "nodes": {"1": "A", "2": "B", "3": "C"},
            }
        )
    )
    story = load_report(run).story()
    assert story.startswith("This run played 12 h of the t scenario in the digital twin")
    assert "A sent 4 bundles (130 bytes) to 1 user station (C)." in story
    assert "A was down from 3 h to 9 h into the run (6 h)." in story
    assert "1 satellite (B) was lost for good" in story
    assert (
        "1 of 4 bundles arrived (25.0%), 1 were still on their way in a store at the end, 1 expired; 1 was lost."
        in story
    )
    assert "Half of the bundles arrived within 51 s (contact graph routing predicted 40 s)" in story


def test_human_units():
    from dtn.twin.report import human_bytes, human_s

    assert [human_s(x) for x in (0.0123, 5.731200000000002, 35, 600, 3600, 5400, 21600, 2 * 86400)] == [
        "12 ms",
        "5.7 s",
        "35 s",
        "10 min",
        "1 h",
        "1.5 h",
        "6 h",
        "2.0 d",
    ]
    assert [human_bytes(x) for x in (88, 7_200_000, 3.9e9)] == ["88 bytes", "7.2 MB", "3.9 GB"]


def test_plots_with_faults_and_geometry(tmp_path):
    from dtn.twin.plots import map_instant_s, sample_bundles, write_html, write_plots

    run = _run(
        tmp_path,
        EVENTS,
        SENDS,
        [
            {
                "a": 1,
                "b": 2,
                "start_s": 0,
                "end_s": 60,
                "bytes_ab": 300,
                "bytes_ba": 20,
                "capacity_ab_bytes": 6000,
                "capacity_ba_bytes": 6000,
                "sessions": 1,
            }
        ],
    )
    (run / "faults.json").write_text(
        json.dumps(
            [
                {"kind": "node_down", "node": 1, "from_s": 20.0, "to_s": 40.0},
                {"kind": "kill_node", "node": 2, "at_s": 70.0},
            ]
        )
    )
    (run / "geometry.json").write_text(
        json.dumps(
            {
                "step_s": 60.0,
                "t_s": [0.0, 60.0, 120.0],
                "stations": {
                    "1": {"name": "A", "lat_deg": 42.0, "lon_deg": 13.6},
                    "3": {"name": "C", "lat_deg": -33.0, "lon_deg": -70.0},
                },
                "satellites": {"2": {"name": "B", "lat_deg": [10.0, 20.0, 30.0], "lon_deg": [170.0, 179.0, -175.0]}},
            }
        )
    )
    report = load_report(run)
    assert map_instant_s(report) == 30.0
    assert [b.key for b in sample_bundles(report)] == ["k1"]
    plots = write_plots(report, run)
    from dtn.twin.plots import has_map_support

    with_map = has_map_support()  # basemap is the `maps` extra (the README install has it)
    assert list(plots) == ["map"] * with_map + ["timeline", "latency", "occupancy"]
    page = write_html(report, run, plots).read_text()
    first = 'id="plot-map"' if with_map else 'id="plot-timeline"'
    assert page.index('id="story"') < page.index(first) <= page.index('id="plot-timeline"')
    assert "A was down" in page and "51 s" in page
