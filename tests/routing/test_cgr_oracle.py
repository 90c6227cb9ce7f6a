"""routing.cgr against the brute-force oracle of routing.testing, on random plans."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from contact_plans.model import ContactPlan
from routing import Router
from routing.testing import contact_plans, contacts, oracle_best, oracle_routes, routing_problems
from tests.conftest import examples


def _key(route):
    return None if route is None else (route.arrival_s, route.hop_count)


@settings(max_examples=examples(500))
@given(routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=12))
def test_best_route_equals_oracle(problem):
    plan, b = problem
    route = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    assert _key(route) == oracle_best(plan, b.source, b.destination, b.now_s, b.size_bytes)


@settings(max_examples=examples(500))
@given(routing_problems(min_nodes=2, max_nodes=7, max_contacts=14, sparse=False))
def test_best_route_equals_oracle_dense_plans(problem):
    plan, b = problem
    route = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    assert _key(route) == oracle_best(plan, b.source, b.destination, b.now_s, b.size_bytes)


@settings(max_examples=examples(500))
@given(st.data())
def test_excluded_nodes_equal_oracle(data):
    plan, b = data.draw(routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=12))
    excluded = frozenset(data.draw(st.lists(st.sampled_from(plan.node_numbers()), max_size=2)))
    route = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes, excluded=excluded)
    expected = oracle_best(plan, b.source, b.destination, b.now_s, b.size_bytes, excluded=excluded)
    assert _key(route) == expected
    if route is not None:
        assert not (set(route.nodes) - {b.source}) & excluded


@settings(max_examples=examples(500))
@given(st.data())
def test_best_route_after_bookings_equals_oracle(data):
    """Residual volume and the first-hop queue: book a few earlier bundles, then compare with the oracle
    given the router's residual volumes and queues."""
    plan, b = data.draw(routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=12))
    router = Router(plan)
    for _ in range(data.draw(st.integers(0, 4))):
        earlier = data.draw(st.sampled_from([(b.source, d) for d in plan.node_numbers() if d != b.source]))
        size = data.draw(st.integers(1, 64))
        route = router.best_route(earlier[0], earlier[1], b.now_s, size)
        if route is not None:
            router.book(route, size)
    residual = {c: router.residual_bytes(c) for c in plan.contacts}
    queued = {c: router.queued_bytes(c) for c in plan.contacts}
    route = router.best_route(b.source, b.destination, b.now_s, b.size_bytes)
    expected = oracle_best(
        plan, b.source, b.destination, b.now_s, b.size_bytes, residual_bytes=residual, queued_bytes=queued
    )
    assert _key(route) == expected


@settings(max_examples=examples(500))
@given(routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=10))
def test_k_routes_are_the_k_best(problem):
    """Yen's k routes have exactly the oracle's k best (arrival, hops) keys, and are real oracle routes."""
    plan, b = problem
    k = 4
    found = Router(plan).routes(b.source, b.destination, b.now_s, b.size_bytes, k=k)
    every = oracle_routes(plan, b.source, b.destination, b.now_s, b.size_bytes)
    assert [r.key for r in found] == [r.key for r in every[:k]]
    by_contacts = {r.contacts: r for r in every}
    for route in found:
        assert route.contacts in by_contacts
        assert route.arrivals_s == by_contacts[route.contacts].arrivals_s


@settings(max_examples=examples(500))
@given(routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=12))
def test_critical_decision_is_best_per_first_hop(problem):
    plan, b = problem
    decided = Router(plan).decide(b.source, b.destination, b.now_s, b.size_bytes, critical=True)
    every = oracle_routes(plan, b.source, b.destination, b.now_s, b.size_bytes)
    best_per_hop: dict[int, tuple] = {}
    for r in every:
        best_per_hop.setdefault(r.contacts[0].to_node, r.key)
    assert {r.next_hop: r.key for r in decided} == best_per_hop
    assert len({r.next_hop for r in decided}) == len(decided)
    assert [r.key for r in decided] == sorted(r.key for r in decided)


@settings(max_examples=examples(500))
@given(contact_plans(min_nodes=3, max_nodes=5, min_contacts=3, max_contacts=10), st.data())
def test_every_pair_and_time_equals_oracle(plan, data):
    """One router answers many questions in a row (its cache must not change any answer)."""
    router = Router(plan)
    nodes = plan.node_numbers()
    for _ in range(4):
        source = data.draw(st.sampled_from(nodes))
        destination = data.draw(st.sampled_from([n for n in nodes if n != source]))
        now_s = data.draw(st.integers(0, 240)) / 4
        size = data.draw(st.sampled_from([1, 8, 100]))
        route = router.best_route(source, destination, now_s, size)
        assert _key(route) == oracle_best(plan, source, destination, now_s, size)


@settings(max_examples=examples(500))
@given(st.data())
def test_plans_mixing_short_and_long_contacts_equal_oracle(data):
    """Contacts far longer than the typical one are indexed apart from the time buckets: check them too."""
    plan, b = data.draw(routing_problems(min_nodes=3, max_nodes=6, min_contacts=8, max_contacts=14, max_duration_s=2))
    longs = data.draw(st.lists(contacts(nodes=plan.node_numbers(), horizon_s=60, max_duration_s=2), max_size=3))
    extra = [replace(c, end_s=c.end_s + data.draw(st.integers(100, 1000))) for c in longs]
    plan = ContactPlan(nodes=plan.nodes, contacts=plan.contacts + [c for c in extra if c not in plan.contacts])
    router = Router(plan)
    for now_s in (b.now_s, b.now_s + 100):
        route = router.best_route(b.source, b.destination, now_s, b.size_bytes)
        assert _key(route) == oracle_best(plan, b.source, b.destination, now_s, b.size_bytes)
