"""The compute service across real node processes: submit, run, result, limits, refusals, SIGKILL mid-job."""

from __future__ import annotations

import io
import pathlib
import shutil
import tempfile
import time

import cbor2
import numpy as np
import pytest

from dtn.client import NodeError, SyncClient
from dtn.compute.examples import dump_product
from tests.node.conftest import Cluster, both

SERVER = """
[archive]
replicas = 1
nodes = [1, 2, 3]
[compute]
concurrency = 2
cpu_s = 1
memory_bytes = 536870912
output_bytes = 100000
allowed_sources = [1]
[compute.functions]
band_stats = "dtn.compute.examples:band_stats"
thumbnail = "dtn.compute.examples:thumbnail"
burn = "tests.compute.funcs:burn_cpu"
grab = "tests.compute.funcs:grab_memory"
big = "tests.compute.funcs:big_output"
sleepy = "tests.compute.funcs:sleep_then_echo"
fail = "tests.compute.funcs:fail"
"""
CLIENT = "[archive]\nreplicas = 1\nnodes = [1, 2, 3]\n[compute]\n"


@pytest.fixture
def chain():
    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-comp-", dir="/tmp"))
    c = Cluster(root)
    c.plan(both(1, 2, 0, 86400) + both(2, 3, 0, 86400), start_in_s=0.0)
    c.config(1, [2], extra=CLIENT)
    c.config(2, [1, 3], extra=SERVER)
    c.config(3, [2], extra=CLIENT)
    try:
        yield c
    finally:
        c.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def _product() -> tuple[np.ndarray, bytes]:
    arr = np.arange(3 * 32 * 32, dtype=np.uint16).reshape(3, 32, 32)
    return arr, dump_product(arr)


def _result(client: SyncClient, job_id: str, timeout_s: float = 30.0) -> dict:
    job = client.compute_result(job_id, timeout_s=timeout_s)
    assert job["state"] in ("done", "failed", "expired", "refused"), job
    return job


def test_submit_run_result_inline_and_from_archive(chain):
    chain.start(1, 2, 3)
    arr, data = _product()
    with SyncClient(chain.sock(1)) as user:
        sub = user.compute_submit("band_stats", [data], node=2, deadline_s=60)
        job = _result(user, sub["job_id"])
        assert job["state"] == "done" and job["ran_at"] == 2, job
        stats = cbor2.loads(job["result"])
        assert stats[0][2]["max"] == float(arr[2].max()) and len(stats[0]) == 3
        assert {"received_unix_s", "started_unix_s", "finished_unix_s"} <= set(job["times"])
    with SyncClient(chain.sock(2)) as sat:  # the product is archived at the satellite (origin 2)
        oid = sat.archive_put(data, name="eo/product-1")["object_id"]
    with SyncClient(chain.sock(1)) as user:
        deadline = time.monotonic() + 20
        while not any(o["name"] == "eo/product-1" for o in user.archive_ls()):  # the catalogue reaches node 1
            assert time.monotonic() < deadline
            time.sleep(0.2)
        sub = user.compute_submit(
            "thumbnail", [oid], params={"factor": 8}, candidates=[1, 2], deadline_s=60, result_mode="archive"
        )
        held = next(o for o in user.archive_ls() if o["name"] == "eo/product-1")
        assert sub["node"] in {held["origin"], *held["replicas"]}  # placed where the input is held
        job = _result(user, sub["job_id"])
        assert job["state"] == "done" and job["object_id"] and job["result"] is None, job
        got = user.archive_get(f"compute/{sub['job_id']}", timeout_s=30)
        thumb = np.load(io.BytesIO(got["data"]), allow_pickle=False)
        assert thumb.shape == (3, 4, 4)
        assert got["metadata"]["compute.function"] == "thumbnail" and oid in got["metadata"]["compute.inputs"]
        assert any(e.get("event") == "compute_result" for e in user.events(last=200))


def test_limits_refusals_and_failures(chain):
    chain.start(1, 2, 3)
    with SyncClient(chain.sock(1)) as user:
        cases = {
            "burn": ("failed", "CPU-time limit"),
            "grab": ("failed", "memory limit"),
            "big": ("failed", "exceeds the limit"),
            "fail": ("failed", "always fails"),
            "nosuch": ("refused", "unknown function"),
        }
        jobs = {
            name: user.compute_submit(name, [], node=2, deadline_s=60, params={"mib": 2048, "bytes": 200_000})["job_id"]
            for name in cases
        }
        late = user.compute_submit("band_stats", [], node=2, deadline_s=0)["job_id"]
        slow = user.compute_submit("sleepy", [b"x"], node=2, deadline_s=1.5, params={"seconds": 30})["job_id"]
        for name, (state, text) in cases.items():
            job = _result(user, jobs[name], 60)
            assert job["state"] == state and text in job["reason"], (name, job)
        assert _result(user, late)["state"] in ("refused", "expired")
        job = _result(user, slow, 60)
        assert job["state"] == "expired" and "deadline" in job["reason"], job
    with SyncClient(chain.sock(3)) as stranger:
        sub = stranger.compute_submit("band_stats", [], node=2, deadline_s=60)
        job = _result(stranger, sub["job_id"])
        assert job["state"] == "refused" and "may not submit" in job["reason"]
        with pytest.raises(NodeError):
            stranger.compute_submit("band_stats", [], node=2, job_id="bad id!")
        with pytest.raises(NodeError):
            stranger.compute_submit("band_stats", [42], node=2)


def test_sigkill_mid_job_reruns_once_after_restart(chain):
    chain.start(1, 2, 3)
    with SyncClient(chain.sock(1)) as user:
        job_id = user.compute_submit("sleepy", [b"payload"], node=2, params={"seconds": 2}, deadline_s=120)["job_id"]
    chain.wait_event(2, lambda e: e.get("event") == "compute_started")
    chain.procs[2].kill()
    chain.restart(2)
    with SyncClient(chain.sock(1)) as user:
        job = _result(user, job_id, 60)
        assert job["state"] == "done" and job["result"] == b"payload"
        # the same request again: answered from the record, never run a third time
        assert user.compute_ls()["submitted"][0]["state"] == "done"
    with SyncClient(chain.sock(2)) as sat:
        ran = sat.compute_status(job_id)["job"]
        assert ran["runs"] == 2 and ran["state"] == "done"


def _dtn(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "dtn", *args], capture_output=True, text=True, timeout=60)


def test_cli_submit_result_ls(chain, tmp_path):
    chain.start(1, 2)
    _arr, data = _product()
    src = tmp_path / "p.npy"
    src.write_bytes(data)
    r = _dtn(
        "compute",
        "submit",
        "band_stats",
        "--file",
        str(src),
        "--on",
        "2",
        "--node",
        chain.sock(1),
        "--job-id",
        "cli-1",
        "--deadline",
        "1m",
    )
    assert r.returncode == 0 and "job cli-1 sent to node 2" in r.stdout, r.stderr
    out = tmp_path / "stats.cbor"
    r = _dtn("compute", "result", "cli-1", "--node", chain.sock(1), "-o", str(out), "--timeout", "30s")
    assert r.returncode == 0, r.stderr
    assert len(cbor2.loads(out.read_bytes())[0]) == 3
    r = _dtn("compute", "ls", "--node", chain.sock(1))
    assert r.returncode == 0 and "cli-1" in r.stdout and "done" in r.stdout
    r = _dtn("compute", "submit", "nosuch", "--on", "2", "--node", chain.sock(1), "--job-id", "cli-2")
    r = _dtn("compute", "result", "cli-2", "--node", chain.sock(1), "--timeout", "30s")
    assert r.returncode == 1 and "refused: unknown function" in r.stderr
    r = _dtn("compute", "submit", "band_stats", "--object", "xyz", "--on", "2", "--node", chain.sock(1))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
