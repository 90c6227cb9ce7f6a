"""routing.testing: the public strategies draw valid inputs, and the oracle is bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from contact_plans.model import Contact
from dtn.errors import RoutingError
from routing.testing import bundles, contact_plans, contacts, oracle_best, oracle_routes, routing_problems
from tests.conftest import examples


@settings(max_examples=examples(500))
@given(contact_plans(min_nodes=2, max_nodes=8, max_contacts=20))
def test_contact_plans_are_valid(plan):
    assert plan.validate() == []
    assert 2 <= len(plan.nodes) <= 8
    for c in plan.contacts:
        assert float(c.start_s).is_integer() and float(c.end_s).is_integer()
        assert (c.owlt_s * 4).is_integer()


@settings(max_examples=examples(500))
@given(contacts(nodes=(5, 6, 7), horizon_s=10, max_duration_s=3))
def test_contacts_respect_their_bounds(c):
    assert c.from_node != c.to_node and {c.from_node, c.to_node} <= {5, 6, 7}
    assert 0 <= c.start_s < 10 and 1 <= c.end_s - c.start_s <= 3


@settings(max_examples=examples(500))
@given(bundles(nodes=(3, 4), horizon_s=20, max_size_bytes=50))
def test_bundles_respect_their_bounds(b):
    assert {b.source, b.destination} == {3, 4}
    assert 0 <= b.now_s <= 20 and 1 <= b.size_bytes <= 50


@settings(max_examples=examples(500))
@given(routing_problems(min_nodes=3, max_nodes=5, min_contacts=3, max_contacts=8))
def test_oracle_routes_are_sorted_loopless_and_feasible(problem):
    plan, b = problem
    routes = oracle_routes(plan, b.source, b.destination, b.now_s, b.size_bytes)
    assert [r.key for r in routes] == sorted(r.key for r in routes)
    for r in routes:
        assert len(set(r.nodes)) == len(r.nodes)
        assert r.nodes[0] == b.source and r.nodes[-1] == b.destination
        for c, t0 in zip(r.contacts, r.departures_s):
            assert c.start_s <= t0 and t0 + b.size_bytes / c.rate_bytes_per_s <= c.end_s


def test_oracle_is_bounded():
    full_mesh = [Contact(a, b, 0, 100, 10, 0.0) for a in range(1, 10) for b in range(1, 10) if a != b]
    with pytest.raises(RoutingError):
        oracle_routes(full_mesh, 1, 9, 0, 1, max_expansions=10_000)
    assert oracle_best(full_mesh[:3], 1, 2, 0, 1) == (0.1, 1)
