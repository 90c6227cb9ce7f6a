"""Two real node processes, node 2 serving its web page on a free loopback port."""

from __future__ import annotations

import json
import pathlib
import shutil
import tempfile
import urllib.error
import urllib.request

import pytest

from tests.node.conftest import Cluster, both

SECRET = "0123456789abcdef-web-secret"


@pytest.fixture
def web_cluster():
    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-web-", dir="/tmp"))
    c = Cluster(root)
    try:
        # 1 <-> 2 open now for 10 min; a later pass at 20 min so "next" has something to show.
        # Node 3 is in the plan but not running: its session stays down, its contacts are still drawn.
        c.plan(
            both(1, 2, 0, 600)
            + both(1, 2, 1200, 1500)
            + both(2, 3, 300, 900)
            + both(2, 3, 2400, 3000)
            + both(2, 3, 7200, 8400),
            start_in_s=-120.0,
        )
        (root / "web.secret").write_text(SECRET + "\n")
        c.config(1, [2])
        c.config(2, [1, 3], extra='[web]\naddress = "127.0.0.1:0"\nsecret_file = "web.secret"\n')
        c.start(1, 2)
        yield c
    finally:
        c.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def web_url(cluster: Cluster, number: int = 2) -> str:
    url = cluster.procs[number].ready["web"]
    assert url.startswith("http://127.0.0.1:"), url
    return url


def get_json(url: str, timeout_s: float = 10.0):
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read())


def post_json(url: str, body, *, token: str | None = None, timeout_s: float = 10.0) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
