"""contact_plans.generate: node numbering, contacts both ways, OWLT, rates, determinism, input checks."""

from __future__ import annotations

import pytest

from contact_plans.formats import dumps_json
from contact_plans.generate import IslRule, PlanSpec, generate_plan
from contact_plans.model import NodeKind
from contact_plans.orbits import GroundStation, load_ground_stations, load_tle, parse_utc, walker_delta
from dtn.errors import PlanError

START = parse_utc("2026-01-03T00:00:00Z")


def _spec(shared_data, **kw):
    sats = load_tle(shared_data / "tle" / "iridium-next_2026-01-03.txt")
    stations = load_ground_stations(shared_data / "ground_stations.csv", names=["Fucino", "Matera", "Svalbard"])
    base = dict(
        start=START,
        duration_s=3 * 3600.0,
        satellites=tuple(sats),
        stations=tuple(stations),
        isl=(IslRule(policy="neighbours"),),
        name="t",
    )
    base.update(kw)
    return PlanSpec(**base)


def test_plan_nodes_contacts_and_owlt(shared_data):
    plan = generate_plan(_spec(shared_data))
    assert plan.validate() == []
    assert [n.number for n in plan.nodes[:3]] == [1, 2, 3] and plan.nodes[0].name == "Fucino"
    sat = plan.node(100)
    assert sat.kind == NodeKind.SATELLITE and {"plane", "slot", "norad"} <= set(sat.metadata)
    assert plan.node(1).metadata["lat_deg"] == pytest.approx(41.9777)
    counts = plan.link_type_counts()
    assert counts["ground-satellite"] > 0 and counts["satellite-satellite"] > 0
    pairs = {(c.from_node, c.to_node, c.start_s, c.end_s) for c in plan.contacts}
    assert all((b, a, s, e) in pairs for a, b, s, e in pairs)  # every window both ways
    for c in plan.contacts:
        if plan.link_type(c) == "ground-satellite":
            assert c.rate_bytes_per_s == 12_500_000.0
            assert 780 / 299792.458 < c.owlt_s < 3300 / 299792.458  # range at a 10 deg mask
            assert c.duration_s < 16 * 60
    starts = [(c.start_s, c.end_s, c.from_node, c.to_node) for c in plan.contacts]
    assert starts == sorted(starts)


def test_generation_is_deterministic(shared_data):
    spec = _spec(shared_data, duration_s=3600.0)
    assert dumps_json(generate_plan(spec)) == dumps_json(generate_plan(spec))


def test_rates_ground_groups_and_progress(shared_data):
    leo = walker_delta(12, 1, 0, altitude_km=550, inclination_deg=53, epoch=START, group="leo")
    dc = walker_delta(
        2,
        1,
        0,
        altitude_km=1400,
        inclination_deg=53,
        epoch=START,
        group="dc",
        kind=NodeKind.STATION,
        name_prefix="DC",
        first_satnum=95000,
    )
    stages = []
    spec = PlanSpec(
        start=START,
        duration_s=7200.0,
        satellites=tuple(leo + dc),
        stations=(GroundStation("Equator", 0.0, 0.0, mask_deg=5.0),),
        isl=(IslRule(("leo", "dc"), policy="range", max_range_km=4000.0),),
        ground_groups=("leo",),
        rates_bytes_per_s={"satellite-station": 1000.0},
    )
    plan = generate_plan(spec, progress=lambda stage, done, total: stages.append((stage, done, total)))
    types = plan.link_type_counts()
    assert set(types) <= {"ground-satellite", "satellite-station"}
    assert types.get("satellite-station")
    assert all(c.rate_bytes_per_s == 1000.0 for c in plan.contacts if plan.link_type(c) == "satellite-station")
    dc_numbers = {n.number for n in plan.nodes if n.kind == NodeKind.STATION}
    assert not any(c.from_node == 1 and c.to_node in dc_numbers for c in plan.contacts)
    assert ("propagate", 1, 1) in stages and any(s[0].startswith("ISL") for s in stages)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(duration_s=0.0), "duration"),
        (dict(isl=(IslRule(("nope", "nope")),)), "group"),
        (dict(isl=(IslRule(policy="mesh"),)), "policy"),  # type: ignore[arg-type]
        (dict(step_s=0.0), "step"),
        (dict(rates_bytes_per_s={"ground-satellite": -1.0}), "rate"),
    ],
)
def test_bad_requests_raise_plan_error(shared_data, kw, message):
    spec = _spec(shared_data, **kw)
    with pytest.raises(PlanError, match=message):
        generate_plan(spec)
