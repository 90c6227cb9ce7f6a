"""The report page of a real (reduced) demo run, rendered in headless Chromium: story first, every plot drawn."""

from __future__ import annotations

import pathlib

from dtn.cli import main
from tests.web.browser import chromium, console_errors

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def test_demo_report_page_renders_its_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--duration", "4h", "--bundles", "40", "--out", str(out)]) == 0
    capsys.readouterr()
    from dtn.twin.plots import has_map_support

    with_map = has_map_support()  # basemap is the `maps` extra (the README install has it)
    for name in ("faults.json", "geometry.json") + ("map.png",) * with_map:
        assert (out / name).stat().st_size > 0
    with chromium(1400, 1500) as driver:
        driver.get((out / "index.html").as_uri())
        story = driver.find_element("id", "story").text
        assert story.startswith("This run played 4 h of the milsca scenario in the digital twin")
        assert "Fucino and Matera were down from 1 h to 4 h into the run (3 h)" in story
        assert "satellites (" in story and "none were lost" in story
        images = driver.execute_script(
            "return [...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0, i.naturalWidth])"
        )
        expected = ["map plot"] * with_map + ["timeline plot", "latency plot", "occupancy plot"]
        assert [alt for alt, _, _ in images] == expected
        assert all(ok and width >= 800 for _, ok, width in images), images
        text = driver.find_element("tag name", "body").text
        for raw in ('"milsca"', "{}", "5.7312000"):
            assert raw not in text
        assert console_errors(driver) == []
        driver.save_screenshot(str(DOCS / "report.png"))
