"""The node page in a real headless Chromium: it loads, draws live data, updates on a delivery, logs no errors."""

from __future__ import annotations

import pathlib
import time

from tests.web.browser import chromium, console_errors, full_page_screenshot
from tests.web.conftest import web_url

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def _wait(driver, script: str, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def test_node_page_loads_updates_on_delivery_and_has_no_console_errors(web_cluster):
    url = web_url(web_cluster)
    with chromium(1400, 900) as driver:
        driver.get(url)
        _wait(driver, "return document.getElementById('conn').textContent === 'live'")
        _wait(driver, "return document.body.dataset.updates >= 1")
        assert driver.find_element("id", "node").text == "spacedtn node ipn:2.0"
        assert "node 1" in driver.find_element("id", "sessions").text
        assert driver.execute_script("return document.querySelectorAll('#tl rect').length") >= 3
        assert "Open now: node 1" in driver.find_element("id", "tl-summary").text
        assert driver.execute_script("return document.body.dataset.deliveries") == "0"

        with web_cluster.procs[2].client() as receiver:
            receiver.register("ipn:2.5")
            with web_cluster.procs[1].client() as sender:
                for text in (b"image 1 of 2", b"image 2 of 2"):
                    sender.send("ipn:2.5", text)
            for _ in range(2):
                receiver.ack(receiver.receive("ipn:2.5", timeout_s=20))
        # No reload: the page hears about the deliveries over its event stream.
        _wait(driver, "return document.body.dataset.deliveries === '2'")
        assert len(driver.find_elements("css selector", "#deliveries .delivery")) == 2
        assert "ipn:2.5 from ipn:1.0" in driver.find_element("id", "deliveries").text
        assert "bundle of 88 bytes" in driver.find_element("id", "deliveries").text
        assert console_errors(driver) == []
        full_page_screenshot(driver, DOCS / "node-web.png")
