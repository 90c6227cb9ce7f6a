"""Contact plan model: nodes, directed contacts, and a plan with an absolute UTC epoch.

Times in a plan are seconds relative to `ContactPlan.epoch` (UTC). Contacts are directed: a bidirectional link
is two contacts. Pure: no I/O here (file formats live in `contact_plans.formats`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from dtn.errors import PlanError


class NodeKind(str, enum.Enum):
    SATELLITE = "satellite"
    GROUND = "ground"
    STATION = "station"  # an orbital station / data centre (e.g. the ISS)
    LUNAR = "lunar"


@dataclass(frozen=True, slots=True)
class Node:
    """A plan node. `number` is its ipn node number (ipn:<number>.0 is its node ID)."""

    number: int
    name: str = ""
    kind: NodeKind = NodeKind.SATELLITE
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def eid(self) -> str:
        return f"ipn:{self.number}.0"


@dataclass(frozen=True, slots=True)
class Contact:
    """A directed contact: `from_node` can send to `to_node` between `start_s` and `end_s` (plan seconds) at
    `rate_bytes_per_s`; data arrives `owlt_s` after it is sent. `confidence` in (0, 1]."""

    from_node: int
    to_node: int
    start_s: float
    end_s: float
    rate_bytes_per_s: float
    owlt_s: float = 0.0
    confidence: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def volume_bytes(self) -> float:
        return max(0.0, self.end_s - self.start_s) * self.rate_bytes_per_s

    def shifted(self, delta_s: float) -> "Contact":
        return replace(self, start_s=self.start_s + delta_s, end_s=self.end_s + delta_s)


CONTACT_DTYPE = np.dtype(
    [
        ("from_node", np.int64),
        ("to_node", np.int64),
        ("start_s", np.float64),
        ("end_s", np.float64),
        ("rate_bytes_per_s", np.float64),
        ("owlt_s", np.float64),
        ("confidence", np.float64),
    ]
)

_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _utc(epoch: dt.datetime) -> dt.datetime:
    if epoch.tzinfo is None:
        return epoch.replace(tzinfo=dt.timezone.utc)
    return epoch.astimezone(dt.timezone.utc)


@dataclass(slots=True)
class ContactPlan:
    """Nodes and directed contacts over time, relative to an absolute UTC `epoch`."""

    epoch: dt.datetime = field(default_factory=lambda: dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    nodes: list[Node] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.epoch = _utc(self.epoch)
        self.nodes = list(self.nodes)
        self.contacts = list(self.contacts)

    # -- lookups ---------------------------------------------------------------------------------------------
    @property
    def epoch_unix_s(self) -> float:
        return (self.epoch - _UNIX_EPOCH).total_seconds()

    def node(self, number: int) -> Node:
        for node in self.nodes:
            if node.number == number:
                return node
        raise PlanError(f"unknown node {number}")

    def node_by_name(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise PlanError(f"unknown node name {name!r}")

    def node_numbers(self) -> list[int]:
        return [n.number for n in self.nodes]

    def contacts_from(self, number: int) -> list[Contact]:
        return [c for c in self.contacts if c.from_node == number]

    def neighbours(self, number: int) -> set[int]:
        out = {c.to_node for c in self.contacts if c.from_node == number}
        out |= {c.from_node for c in self.contacts if c.to_node == number}
        return out

    @property
    def start_s(self) -> float:
        return min((c.start_s for c in self.contacts), default=0.0)

    @property
    def end_s(self) -> float:
        return max((c.end_s for c in self.contacts), default=0.0)

    # -- derived views ---------------------------------------------------------------------------------------
    def as_array(self) -> np.ndarray:
        """The contacts as a numpy structured array (dtype `CONTACT_DTYPE`), in plan order."""
        arr = np.empty(len(self.contacts), dtype=CONTACT_DTYPE)
        if self.contacts:
            arr[:] = [
                (c.from_node, c.to_node, c.start_s, c.end_s, c.rate_bytes_per_s, c.owlt_s, c.confidence)
                for c in self.contacts
            ]
        return arr

    @classmethod
    def from_array(cls, arr: np.ndarray, *, nodes: Iterable[Node], epoch: dt.datetime, name: str = "") -> "ContactPlan":
        contacts = [
            Contact(int(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6]))
            for r in arr.tolist()
        ]
        return cls(epoch=epoch, nodes=list(nodes), contacts=contacts, name=name)

    def sorted(self) -> "ContactPlan":
        """A copy with contacts in a canonical order (start, end, from, to)."""
        contacts = sorted(self.contacts, key=lambda c: (c.start_s, c.end_s, c.from_node, c.to_node, c.rate_bytes_per_s))
        return ContactPlan(
            epoch=self.epoch, nodes=sorted(self.nodes, key=lambda n: n.number), contacts=contacts, name=self.name
        )

    def shifted(self, delta_s: float) -> "ContactPlan":
        return ContactPlan(
            epoch=self.epoch, nodes=self.nodes, contacts=[c.shifted(delta_s) for c in self.contacts], name=self.name
        )

    # -- validation ------------------------------------------------------------------------------------------
    def validate(self) -> list[str]:
        """Every problem in the plan, as readable strings; empty when the plan is valid."""
        problems: list[str] = []
        numbers = Counter(n.number for n in self.nodes)
        for number, count in sorted(numbers.items()):
            if count > 1:
                problems.append(f"node {number} is defined {count} times")
            if number < 0:
                problems.append(f"node {number}: number must be >= 0")
        known = set(numbers)
        seen: Counter = Counter()
        for i, c in enumerate(self.contacts):
            where = f"contact {i} ({c.from_node}->{c.to_node} {c.start_s:g}..{c.end_s:g})"
            if not (c.end_s > c.start_s):
                problems.append(f"{where}: end_s must be after start_s")
            if not (c.rate_bytes_per_s > 0):
                problems.append(f"{where}: rate_bytes_per_s must be positive")
            if not (c.owlt_s >= 0):
                problems.append(f"{where}: owlt_s must be >= 0")
            if not (0.0 < c.confidence <= 1.0):
                problems.append(f"{where}: confidence must be in (0, 1]")
            if c.from_node == c.to_node:
                problems.append(f"{where}: a contact must join two different nodes")
            if known:
                for end in (c.from_node, c.to_node):
                    if end not in known:
                        problems.append(f"{where}: unknown node {end}")
            seen[(c.from_node, c.to_node, c.start_s, c.end_s)] += 1
        for key, count in seen.items():
            if count > 1:
                problems.append(f"contact {key[0]}->{key[1]} {key[2]:g}..{key[3]:g} is listed {count} times")
        return problems

    def ensure_nodes(self) -> "ContactPlan":
        """Add a plain Node for every contact end that has none (ION files name no nodes)."""
        known = {n.number for n in self.nodes}
        ends = {c.from_node for c in self.contacts} | {c.to_node for c in self.contacts}
        extra = sorted(ends - known)
        if extra:
            self.nodes = self.nodes + [Node(number=x, name=f"node{x}") for x in extra]
        return self

    # -- link types (added for `dtn plan show` and per-link-type rates) ------------------------------------
    def link_type(self, contact: Contact) -> str:
        """The link type of a contact, from its end nodes' kinds: e.g. "ground-satellite",
        "satellite-satellite", "ground-lunar" (the two kinds, sorted, joined by "-"). A node the plan does
        not define counts as kind "unknown"."""
        kinds = {n.number: n.kind for n in self.nodes}
        return link_type_of(kinds.get(contact.from_node), kinds.get(contact.to_node))

    def link_type_counts(self) -> dict[str, int]:
        """Number of directed contacts per link type, sorted by link type."""
        kinds = {n.number: n.kind for n in self.nodes}
        counts = Counter(link_type_of(kinds.get(c.from_node), kinds.get(c.to_node)) for c in self.contacts)
        return dict(sorted(counts.items()))


def link_type_of(kind_a: "NodeKind | str | None", kind_b: "NodeKind | str | None") -> str:
    """The link type joining two node kinds: the kinds' values, sorted, joined by "-" (order-free)."""

    def _name(kind: "NodeKind | str | None") -> str:
        if kind is None:
            return "unknown"
        return kind.value if isinstance(kind, NodeKind) else str(kind)

    a, b = sorted((_name(kind_a), _name(kind_b)))
    return f"{a}-{b}"
