"""A small constellation for archive tests: ground centre 1, user station 2, satellites on three planes."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from contact_plans.model import Contact, ContactPlan, Node as PlanNode, NodeKind
from dtn.archive.config import ArchiveConfig
from dtn.node.config import NodeConfig, RoutingConfig

CENTRE, USER = 1, 2
PLANES = {10: 0, 11: 0, 20: 1, 21: 1, 30: 2}
FOREVER_S = 10 * 86400.0


def small_constellation() -> ContactPlan:
    nodes = [
        PlanNode(CENTRE, "Centre", NodeKind.GROUND, {"role": "centre"}),
        PlanNode(USER, "User", NodeKind.GROUND, {"role": "user"}),
    ]
    nodes += [PlanNode(n, f"SAT{n}", NodeKind.SATELLITE, {"plane": p}) for n, p in PLANES.items()]
    links = [(CENTRE, 10), (CENTRE, 20), (USER, 21), (USER, 30)]
    links += list(itertools.combinations(sorted(PLANES), 2))  # inter-satellite links, always up
    contacts = []
    for a, b in links:
        contacts += [Contact(a, b, 0.0, FOREVER_S, 1e6, 0.01), Contact(b, a, 0.0, FOREVER_S, 1e6, 0.01)]
    return ContactPlan(
        epoch=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), nodes=nodes, contacts=contacts, name="archive-test"
    )


def archive_configs(plan: ContactPlan, **archive) -> dict[int, NodeConfig]:
    cfg = ArchiveConfig(retry_s=60.0, **archive)
    routing = RoutingConfig(keepalive_s=0)
    return {n.number: NodeConfig.minimal(n.number, archive=cfg, routing=routing) for n in plan.nodes}


@pytest.fixture
def constellation() -> ContactPlan:
    return small_constellation()
