"""Traffic and fault files for `dtn replay` and `dtn simulate` (TOML).

Times are plan seconds (relative to the plan epoch). Nodes are named by plan node name or ipn node number.

traffic.toml::

    seed = 7
    [[flow]]
    name = "eo-products"          # optional label
    from = "Fucino"               # source node
    to = ["Svalbard", "Malargue"] # one or more destination nodes (bundles go round-robin)
    service = 1                   # destination service number (ipn:N.<service>), default 1
    size_bytes = 50000
    count = 20                    # how many bundles ...
    start_s = 600                 # ... sent evenly from start_s
    end_s = 3600                  # ... to end_s (or interval_s = 60)
    lifetime_s = 86400            # default 86400

faults.toml::

    [[fault]]
    kind = "cut_link"             # the a-b link drops at at_s (its current window ends early)
    a = "IRIDIUM 106"
    b = "Fucino"
    at_s = 1200

    [[fault]]
    kind = "node_down"            # every link of the node is down in [from_s, to_s)
    node = "Fucino"
    from_s = 3600
    to_s = 25200

    [[fault]]
    kind = "kill_node"            # SIGKILL at at_s, restarted restart_after_s later on the same store
    node = "IRIDIUM 110"
    at_s = 5000
    restart_after_s = 60

    [[fault]]
    kind = "missing_contact"      # the planned a-b window that contains at_s never comes up
    a = "Matera"
    b = "IRIDIUM 101"
    at_s = 9000
"""

from __future__ import annotations

import pathlib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from contact_plans.model import ContactPlan
from dtn.errors import ScenarioError


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    source: int
    destinations: tuple[int, ...]
    service: int
    size_bytes: int
    send_times_s: tuple[float, ...]
    lifetime_s: float


@dataclass(frozen=True, slots=True)
class SendEvent:
    """One bundle an application sends: at `t_s` (plan time) from `source` to ipn:`destination`.`service`."""

    t_s: float
    flow: str
    index: int
    source: int
    destination: int
    service: int
    size_bytes: int
    lifetime_s: float


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # cut_link | node_down | kill_node | missing_contact
    a: int | None = None
    b: int | None = None
    node: int | None = None
    at_s: float | None = None
    from_s: float | None = None
    to_s: float | None = None
    restart_after_s: float | None = None


@dataclass(slots=True)
class Workload:
    flows: list[Flow] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    seed: int = 0

    def sends(self) -> list[SendEvent]:
        """Every send of every flow, in a deterministic order (time, flow, index)."""
        events = []
        for flow in self.flows:
            for i, t_s in enumerate(flow.send_times_s):
                events.append(
                    SendEvent(
                        t_s=t_s,
                        flow=flow.name,
                        index=i,
                        source=flow.source,
                        destination=flow.destinations[i % len(flow.destinations)],
                        service=flow.service,
                        size_bytes=flow.size_bytes,
                        lifetime_s=flow.lifetime_s,
                    )
                )
        events.sort(key=lambda e: (e.t_s, e.flow, e.index))
        return events


FAULT_KINDS = ("cut_link", "node_down", "kill_node", "missing_contact")


def resolve_node(plan: ContactPlan, value: Any, where: str) -> int:
    """A node named by plan name or ipn number -> its number."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a node name or number, got {value!r}")
    if isinstance(value, int):
        if value not in {n.number for n in plan.nodes}:
            raise ScenarioError(f"{where}: unknown node number {value}")
        return value
    if isinstance(value, str):
        for node in plan.nodes:
            if node.name == value:
                return node.number
        text = value.removeprefix("ipn:").split(".")[0]
        if text.isdigit() and int(text) in {n.number for n in plan.nodes}:
            return int(text)
        raise ScenarioError(f"{where}: unknown node {value!r}")
    raise ScenarioError(f"{where}: expected a node name or number, got {value!r}")


def _num(table: dict, key: str, where: str, *, default: Any = ..., minimum: float | None = 0.0) -> float:
    if key not in table:
        if default is ...:
            raise ScenarioError(f"{where}.{key}: missing")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}.{key}: expected a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"{where}.{key}: must be >= {minimum:g}")
    return float(value)


def _load_toml(path: str | pathlib.Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror}") from None


MAX_SENDS_PER_FLOW = 1_000_000


def parse_traffic(table: dict, plan: ContactPlan, *, source: str = "traffic") -> tuple[list[Flow], int]:
    flows: list[Flow] = []
    unknown = set(table) - {"seed", "flow"}
    if unknown:
        raise ScenarioError(f"{source}: unknown key(s) {sorted(unknown)}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"{source}.seed: expected an integer")
    entries = table.get("flow", [])
    if not isinstance(entries, list):
        raise ScenarioError(f"{source}.flow: expected an array of tables ([[flow]])")
    for i, entry in enumerate(entries):
        where = f"{source}.flow[{i}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: expected a table")
        allowed = {
            "name",
            "from",
            "to",
            "service",
            "size_bytes",
            "count",
            "start_s",
            "end_s",
            "interval_s",
            "lifetime_s",
        }
        extra = set(entry) - allowed
        if extra:
            raise ScenarioError(f"{where}: unknown key(s) {sorted(extra)}")
        if "from" not in entry or "to" not in entry:
            raise ScenarioError(f"{where}: needs 'from' and 'to'")
        src = resolve_node(plan, entry["from"], f"{where}.from")
        targets = entry["to"] if isinstance(entry["to"], list) else [entry["to"]]
        if not targets:
            raise ScenarioError(f"{where}.to: empty")
        dsts = tuple(resolve_node(plan, t, f"{where}.to") for t in targets)
        size = int(_num(entry, "size_bytes", where, minimum=1))
        start_s = _num(entry, "start_s", where, default=0.0)
        lifetime_s = _num(entry, "lifetime_s", where, default=86400.0, minimum=1)
        service = int(_num(entry, "service", where, default=1))
        if "interval_s" in entry:
            interval_s = _num(entry, "interval_s", where, minimum=1e-3)
            end_s = _num(entry, "end_s", where)
            n = int((end_s - start_s) // interval_s) + 1 if end_s >= start_s else 0
            times = [start_s + k * interval_s for k in range(min(n, MAX_SENDS_PER_FLOW + 1))]
        else:
            count = int(_num(entry, "count", where, default=1, minimum=0))
            end_s = _num(entry, "end_s", where, default=start_s)
            if end_s < start_s:
                raise ScenarioError(f"{where}.end_s: before start_s")
            step = (end_s - start_s) / count if count else 0.0
            times = [start_s + k * step for k in range(min(count, MAX_SENDS_PER_FLOW + 1))]
        if len(times) > MAX_SENDS_PER_FLOW:
            raise ScenarioError(f"{where}: more than {MAX_SENDS_PER_FLOW} bundles in one flow")
        flows.append(
            Flow(
                name=str(entry.get("name", f"flow{i}")),
                source=src,
                destinations=dsts,
                service=service,
                size_bytes=size,
                send_times_s=tuple(times),
                lifetime_s=lifetime_s,
            )
        )
    return flows, seed


def parse_faults(table: dict, plan: ContactPlan, *, source: str = "faults") -> list[Fault]:
    unknown = set(table) - {"fault"}
    if unknown:
        raise ScenarioError(f"{source}: unknown key(s) {sorted(unknown)}")
    entries = table.get("fault", [])
    if not isinstance(entries, list):
        raise ScenarioError(f"{source}.fault: expected an array of tables ([[fault]])")
    faults = []
    for i, entry in enumerate(entries):
        where = f"{source}.fault[{i}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: expected a table")
        kind = entry.get("kind")
        if kind not in FAULT_KINDS:
            raise ScenarioError(f"{where}.kind: expected one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        if kind in ("cut_link", "missing_contact"):
            extra = set(entry) - {"kind", "a", "b", "at_s"}
            if extra:
                raise ScenarioError(f"{where}: unknown key(s) {sorted(extra)}")
            for k in ("a", "b"):
                if k not in entry:
                    raise ScenarioError(f"{where}.{k}: missing")
            faults.append(
                Fault(
                    kind=kind,
                    a=resolve_node(plan, entry["a"], f"{where}.a"),
                    b=resolve_node(plan, entry["b"], f"{where}.b"),
                    at_s=_num(entry, "at_s", where, minimum=None),
                )
            )
        elif kind == "node_down":
            extra = set(entry) - {"kind", "node", "from_s", "to_s"}
            if extra:
                raise ScenarioError(f"{where}: unknown key(s) {sorted(extra)}")
            if "node" not in entry:
                raise ScenarioError(f"{where}.node: missing")
            from_s = _num(entry, "from_s", where, minimum=None)
            to_s = _num(entry, "to_s", where, minimum=None)
            if to_s <= from_s:
                raise ScenarioError(f"{where}.to_s: must be after from_s")
            faults.append(
                Fault(kind=kind, node=resolve_node(plan, entry["node"], f"{where}.node"), from_s=from_s, to_s=to_s)
            )
        else:
            extra = set(entry) - {"kind", "node", "at_s", "restart_after_s"}
            if extra:
                raise ScenarioError(f"{where}: unknown key(s) {sorted(extra)}")
            if "node" not in entry:
                raise ScenarioError(f"{where}.node: missing")
            faults.append(
                Fault(
                    kind=kind,
                    node=resolve_node(plan, entry["node"], f"{where}.node"),
                    at_s=_num(entry, "at_s", where, minimum=None),
                    restart_after_s=_num(entry, "restart_after_s", where, default=None),
                )
            )
    return faults


def load_workload(
    plan: ContactPlan,
    traffic: str | pathlib.Path | dict | None = None,
    faults: str | pathlib.Path | dict | None = None,
) -> Workload:
    """Read a traffic file and a faults file (paths or already-parsed tables) against `plan`."""
    workload = Workload()
    if traffic is not None:
        table = traffic if isinstance(traffic, dict) else _load_toml(traffic)
        workload.flows, workload.seed = parse_traffic(
            table, plan, source=str(traffic) if not isinstance(traffic, dict) else "traffic"
        )
    if faults is not None:
        table = faults if isinstance(faults, dict) else _load_toml(faults)
        workload.faults = parse_faults(table, plan, source=str(faults) if not isinstance(faults, dict) else "faults")
    return workload
