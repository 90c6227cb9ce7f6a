"""`dtn demo` in a reduced form: milsca in the digital twin, with the outage and the orbital archive."""

import json

from dtn.cli import main


def test_demo_reduced_loses_nothing(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--duration", "3h", "--bundles", "40", "--out", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "0 lost." in text and "40 of 40 products reached" in text
    assert "Fucino and Matera were down" in text
    meta = json.loads((out / "meta.json").read_text())
    assert meta["archive"]["requests"] > 0 and meta["archive"]["answered"] == meta["archive"]["requests"]
    for name in ("index.html", "timeline.png", "latency_cdf.png", "store_occupancy.png", "events.jsonl"):
        assert (out / name).stat().st_size > 0


def test_demo_other_scenario(tmp_path, capsys):
    assert (
        main(["demo", "--scenario", "lonestar", "--duration", "2h", "--bundles", "20", "--out", str(tmp_path / "l")])
        == 0
    )
    assert "0 lost." in capsys.readouterr().out
