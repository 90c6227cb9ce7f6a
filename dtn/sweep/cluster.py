"""Run a sweep on dask.distributed: an embedded LocalCluster (worker processes on 127.0.0.1) by default, or an
existing cluster given by its scheduler address (e.g. one started by dask-jobqueue on an HPC batch system).

Each run is one task (`dtn.sweep.runner.run_one`); its row comes back to this process, which writes it to the
results directory as soon as it arrives, so an interrupted sweep loses only the runs in flight and a second call
with the same directory runs only what is missing. Workers need spacedtn installed (or on PYTHONPATH).
"""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Callable

from dtn.errors import DtnError, ScenarioError
from dtn.sweep.runner import run_one
from dtn.sweep.spec import ResultsDir, RunSpec, SweepSpec, expand


class SweepError(ScenarioError):
    """A sweep could not run (no cluster, or a run failed)."""


def run_sweep(
    spec: SweepSpec,
    out_dir: str | pathlib.Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    plots: bool = True,
    connect_timeout_s: float = 20.0,
) -> tuple[pathlib.Path, list[dict]]:
    """Run every run of `spec` not already in `out_dir`; write `results.csv` (and the plots). Returns the table's
    path and its rows (every run of the sweep, in run order)."""
    results = ResultsDir(out_dir, spec)
    results.open()
    runs = expand(spec)
    pending = results.pending(runs)
    done = len(runs) - len(pending)
    if on_progress:
        on_progress(done, len(runs))
    if pending:
        _run_on_dask(
            pending,
            results,
            scheduler=scheduler,
            workers=workers,
            connect_timeout_s=connect_timeout_s,
            on_row=lambda: (
                on_progress(len(results.done() & {r.run_id for r in runs}), len(runs)) if on_progress else None
            ),
        )
    rows = results.rows(runs)
    table = results.write_table(rows)
    if plots:
        from dtn.sweep.plots import write_plots

        write_plots(rows, results.out_dir)
    return table, rows


def _run_on_dask(
    pending: list[RunSpec],
    results: ResultsDir,
    *,
    scheduler: str | None,
    workers: int | None,
    connect_timeout_s: float,
    on_row: Callable[[], None],
) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        else:
            n = workers or max(1, min(os.cpu_count() or 1, len(pending)))
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        with client:
            futures = client.map(run_one, pending, key=[f"dtn-sweep-{r.run_id}-{r.seed}" for r in pending], pure=False)
            for future in as_completed(futures):
                try:
                    row = future.result()
                except DtnError as exc:
                    client.cancel(futures)
                    raise SweepError(f"run {_run_id(future.key)} failed: {exc}") from None
                results.save(row)
                on_row()
    finally:
        if cluster is not None:
            cluster.close()


def _run_id(key: str) -> str:
    return key.removeprefix("dtn-sweep-").rsplit("-", 1)[0]
