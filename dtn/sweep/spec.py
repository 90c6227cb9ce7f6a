"""A sweep and its runs: the grid, per-run seeds, run ids, the results directory and the table. No I/O except the
results directory; no clock, no Trio, no Dask.

A run is a point of the grid (failed satellites x station outages x traffic seed x link rate scale x archive
replicas) times a repeat number. Its seed is derived from the sweep seed and its run id (SHA-256), so a run is
reproducible on its own, and adding values to the grid does not change the seeds of the runs already there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import pathlib
from dataclasses import asdict, dataclass, field

from dtn.errors import ScenarioError

# The columns of the results table, in order. Nothing here depends on the machine or the wall clock, so the same
# sweep gives the same table byte for byte.
COLUMNS = (
    "run_id",
    "seed",
    "failed_satellites",
    "station_outages",
    "traffic_seed",
    "rate_scale",
    "replicas",
    "repeat",
    "sent",
    "delivered",
    "delivery_ratio",
    "expired",
    "deleted",
    "pending_at_end",
    "lost",
    "latency_p50_s",
    "latency_p95_s",
    "latency_max_s",
    "archive_requests",
    "archive_answered",
    "archive_within_1h",
    "archive_within_6h",
)


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep varies. `scenario` is a scenario name or a plan file; `traffic`/`faults` optional TOML files."""

    scenario: str
    duration_s: float
    bundles: int = 200
    start_s: float = 0.0
    traffic: str | None = None
    faults: str | None = None
    failed_satellites: tuple[int, ...] = (0,)
    station_outages: tuple[int, ...] = (0,)
    traffic_seeds: tuple[int, ...] = (1,)
    rate_scales: tuple[float, ...] = (1.0,)
    replicas: tuple[int, ...] = ()  # empty: no archive service in the runs
    repeats: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ScenarioError("sweep: the duration must be positive")
        if self.bundles < 0:
            raise ScenarioError("sweep: bundles must be >= 0")
        if self.repeats < 1:
            raise ScenarioError("sweep: repeats must be >= 1")
        for name in ("failed_satellites", "station_outages", "replicas"):
            values = getattr(self, name)
            if any(v < 0 for v in values):
                raise ScenarioError(f"sweep: {name} must be >= 0")
        if self.replicas and any(v < 1 for v in self.replicas):
            raise ScenarioError("sweep: replicas must be >= 1")
        if not self.rate_scales or any(not (v > 0) for v in self.rate_scales):
            raise ScenarioError("sweep: link rate scales must be > 0")
        for name in ("failed_satellites", "station_outages", "traffic_seeds"):
            if not getattr(self, name):
                raise ScenarioError(f"sweep: {name} needs at least one value")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything a worker needs (plain data, so it pickles to any Dask worker)."""

    run_id: str
    seed: int
    failed_satellites: int
    station_outages: int
    traffic_seed: int
    rate_scale: float
    replicas: int | None
    repeat: int
    scenario: str
    duration_s: float
    bundles: int
    start_s: float = 0.0
    traffic: str | None = None
    faults: str | None = None
    sweep: dict = field(default_factory=dict, compare=False, repr=False)


def run_seed(sweep_seed: int, run_id: str) -> int:
    """The seed of one run: a function of the sweep seed and the run id only."""
    digest = hashlib.sha256(f"{sweep_seed}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def expand(spec: SweepSpec) -> list[RunSpec]:
    """Every run of the sweep, in a fixed order."""
    runs = []
    replicas: tuple[int | None, ...] = spec.replicas or (None,)
    for k, outages, tseed, rate, rep, repeat in itertools.product(
        spec.failed_satellites,
        spec.station_outages,
        spec.traffic_seeds,
        spec.rate_scales,
        replicas,
        range(spec.repeats),
    ):
        run_id = f"f{k:03d}-o{outages:02d}-t{tseed}-r{rate:g}-a{rep if rep is not None else 'x'}-n{repeat:02d}"
        runs.append(
            RunSpec(
                run_id=run_id,
                seed=run_seed(spec.seed, run_id),
                failed_satellites=k,
                station_outages=outages,
                traffic_seed=tseed,
                rate_scale=float(rate),
                replicas=rep,
                repeat=repeat,
                scenario=spec.scenario,
                duration_s=spec.duration_s,
                bundles=spec.bundles,
                start_s=spec.start_s,
                traffic=spec.traffic,
                faults=spec.faults,
            )
        )
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ScenarioError("sweep: two runs have the same id (repeated values in a list?)")
    return runs


class ResultsDir:
    """`OUT/sweep.json` (the sweep), `OUT/runs/RUN_ID.json` (one finished run each, written atomically),
    `OUT/results.csv` (the table). A run whose file exists is not run again."""

    def __init__(self, out_dir: str | pathlib.Path, spec: SweepSpec) -> None:
        self.out_dir = pathlib.Path(out_dir)
        self.runs_dir = self.out_dir / "runs"
        self.spec = spec

    def open(self) -> None:
        """Create the directory, or check that the one there holds the same sweep (so its results still apply)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        meta = self.out_dir / "sweep.json"
        wanted = self.spec.to_dict()
        wanted_key = {k: v for k, v in wanted.items() if k not in _GRID_KEYS}
        if meta.exists():
            try:
                there = json.loads(meta.read_text())
            except ValueError as exc:
                raise ScenarioError(f"{meta}: not a sweep description ({exc})") from None
            there_key = {k: v for k, v in there.items() if k not in _GRID_KEYS}
            if json.loads(json.dumps(there_key)) != json.loads(json.dumps(wanted_key)):
                raise ScenarioError(
                    f"{self.out_dir}: holds a different sweep (scenario, duration, bundles, files "
                    "or seed differ); use another --out"
                )
        _write_atomic(meta, json.dumps(wanted, indent=2))

    def done(self) -> set[str]:
        return {p.stem for p in self.runs_dir.glob("*.json")}

    def pending(self, runs: list[RunSpec]) -> list[RunSpec]:
        done = self.done()
        return [r for r in runs if r.run_id not in done]

    def save(self, row: dict) -> None:
        _write_atomic(self.runs_dir / f"{row['run_id']}.json", json.dumps(row, indent=1, sort_keys=True))

    def rows(self, runs: list[RunSpec]) -> list[dict]:
        """The finished rows of these runs, in run order."""
        out = []
        for r in runs:
            path = self.runs_dir / f"{r.run_id}.json"
            if path.exists():
                out.append(json.loads(path.read_text()))
        return out

    def write_table(self, rows: list[dict]) -> pathlib.Path:
        path = self.out_dir / "results.csv"
        _write_atomic(path, table_csv(rows))
        return path


# Values that may grow between an interrupted sweep and its continuation without invalidating finished runs.
_GRID_KEYS = {"failed_satellites", "station_outages", "traffic_seeds", "rate_scales", "replicas", "repeats"}


def table_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
    return buf.getvalue()


def _write_atomic(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
