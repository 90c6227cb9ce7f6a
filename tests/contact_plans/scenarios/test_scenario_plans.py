"""contact_plans.scenarios: the named scenarios build from package data, with the promised nodes."""

from __future__ import annotations

import time

import pytest

from contact_plans.model import NodeKind
from contact_plans.scenarios import DATA_DIR, SCENARIOS, build_plan, describe, scenario, spec_for
from dtn.errors import PlanError


def test_scenarios_are_listed_and_described():
    assert SCENARIOS == ("milsca", "axiom", "lonestar", "ascend", "starlink")
    for name in SCENARIOS:
        text = describe(name)
        assert "Data centres" in text and scenario(name).default_duration_s == 86400.0
    assert (DATA_DIR / "README.md").is_file() and (DATA_DIR / "ground_stations.csv").is_file()
    with pytest.raises(PlanError, match="unknown scenario"):
        scenario("atlantis")


def test_milsca_full_day_is_quick_and_has_planes():
    t0 = time.process_time()
    plan = build_plan("milsca")
    assert time.process_time() - t0 < 10.0
    assert plan.validate() == []
    assert plan.node_by_name("Fucino").number == 1 and plan.node_by_name("Matera").number == 2
    sats = [n for n in plan.nodes if n.kind == NodeKind.SATELLITE]
    assert len(sats) == 66 and all(n.metadata["storing"] and n.metadata["role"] == "storage" for n in sats)
    assert sorted({n.metadata["plane"] for n in sats}) == list(range(6))
    assert len([n for n in plan.nodes if n.kind == NodeKind.GROUND]) == 22
    assert plan.epoch.isoformat() == "2026-01-03T00:00:00+00:00" and plan.end_s == 86400.0
    counts = plan.link_type_counts()
    assert counts["ground-satellite"] > 10_000 and counts["satellite-satellite"] > 100


def test_small_scenarios():
    axiom = build_plan("axiom", duration_s=6 * 3600)
    iss = axiom.node_by_name("ISS (ZARYA)")
    assert iss.kind == NodeKind.STATION and iss.metadata["role"] == "data_centre"
    assert set(axiom.link_type_counts()) == {"ground-station"}
    lonestar = build_plan("lonestar", duration_s=12 * 3600)
    assert lonestar.node(90).kind == NodeKind.LUNAR
    assert all(1.1 < c.owlt_s < 1.4 for c in lonestar.contacts) and lonestar.contacts
    ascend = spec_for("ascend")
    assert {s.group for s in ascend.satellites} == {"leo", "dc"} and ascend.ground_groups == ("leo",)
    starlink = spec_for("starlink", duration_s=600)
    assert len(starlink.satellites) == 1806 and len(starlink.stations) == 26
