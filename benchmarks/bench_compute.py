"""Compute next to the data: the overhead a job adds on one hop over loopback, against calling the function.

    python benchmarks/bench_compute.py            # 20 jobs
    python benchmarks/bench_compute.py --jobs 5

Two real node processes (user 1, executor 2) on 127.0.0.1 with an always-on contact. Each job is
`band_stats` on an inline 3 x 256 x 256 uint16 product (384 KiB): submit from node 1, run at node 2 in a fresh
worker process with its limits, result back to node 1 (`compute_result` waits for it). Jobs run one after the
other: first back to back (each job waits for a worker process still starting), then spaced by `--gap-s` (the
node keeps a warm worker per slot: started, registered modules imported, waiting for its one job). The peer: `band_stats` called directly in this process on the same product. Also printed:
the part of the overhead that is the worker process (spawn, imports) alone, measured by running
`python -m dtn.node.computeworker` directly.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
import numpy as np  # noqa: E402

from dtn.client import SyncClient  # noqa: E402
from dtn.compute.examples import band_stats, dump_product  # noqa: E402
from tests.node.conftest import Cluster, both  # noqa: E402

SERVER = """
[compute]
concurrency = 1
[compute.functions]
band_stats = "dtn.compute.examples:band_stats"
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--gap-s", type=float, default=1.5, help="pause before each spaced job")
    args = ap.parse_args()
    product = dump_product(np.random.default_rng(1).integers(0, 4096, (3, 256, 256), dtype=np.uint16))

    direct = []
    for _ in range(args.jobs):
        t0 = time.perf_counter()
        expected = band_stats([product], {})
        direct.append(time.perf_counter() - t0)

    worker = []
    job = cbor2.dumps(
        {
            "spec": "dtn.compute.examples:band_stats",
            "inputs": [product],
            "params": {},
            "cpu_s": 60,
            "memory_bytes": 2**30,
            "output_bytes": 2**24,
        }
    )
    for _ in range(min(args.jobs, 10)):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dtn.node.computeworker"], input=job, capture_output=True, check=True)
        worker.append(time.perf_counter() - t0)

    root = pathlib.Path(tempfile.mkdtemp(prefix="dtn-bench-compute-", dir="/tmp"))
    c = Cluster(root)
    c.plan(both(1, 2, 0, 86400), start_in_s=0.0)
    c.config(1, [2], extra="[compute]\n")
    c.config(2, [1], extra=SERVER)
    total, spaced = [], []
    try:
        c.start(1, 2)
        with SyncClient(c.sock(1)) as user:
            user.compute_result(user.compute_submit("band_stats", [product], node=2)["job_id"], timeout_s=60)  # warm
            for _ in range(args.jobs):
                t0 = time.perf_counter()
                sub = user.compute_submit("band_stats", [product], node=2, deadline_s=120)
                got = user.compute_result(sub["job_id"], timeout_s=120)
                total.append(time.perf_counter() - t0)
                assert got["state"] == "done" and got["result"] == expected, got
            for _ in range(args.jobs):  # spaced: the node's warm worker is ready when the job comes
                time.sleep(args.gap_s)
                t0 = time.perf_counter()
                sub = user.compute_submit("band_stats", [product], node=2, deadline_s=120)
                got = user.compute_result(sub["job_id"], timeout_s=120)
                spaced.append(time.perf_counter() - t0)
                assert got["state"] == "done" and got["result"] == expected, got
    finally:
        c.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    d, w, t, sp = (statistics.median(x) * 1000 for x in (direct, worker, total, spaced))
    print(f"direct call                 median {d:8.2f} ms")
    print(f"cold worker process alone   median {w:8.2f} ms")
    print(f"job, back to back (cold)    median {t:8.2f} ms   added {t - d:8.2f} ms   ratio {t / d:7.1f}x")
    print(
        f"job, spaced (warm worker)   median {sp:8.2f} ms   added {sp - d:8.2f} ms   ratio {sp / d:7.1f}x"
        f"   (target: added < 20 ms)"
    )


if __name__ == "__main__":
    main()
