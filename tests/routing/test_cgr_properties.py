"""Properties of routing.cgr routes: causality, looplessness, metamorphic relations, booking, determinism."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contact_plans.model import ContactPlan
from routing import Router
from routing.testing import contacts, routing_problems
from tests.conftest import examples

PROBLEMS = routing_problems(min_nodes=3, max_nodes=6, min_contacts=4, max_contacts=12)


def _key(route):
    return None if route is None else (route.arrival_s, route.hop_count)


def assert_causal(route, now_s, size_bytes, source, destination):
    """Times never go back, each hop is sent inside its contact, OWLT is added, no node twice."""
    assert route.contacts[0].from_node == source and route.contacts[-1].to_node == destination
    assert route.hop_count == len(route.contacts) == len(route.departures_s) == len(route.arrivals_s)
    previous = now_s
    for i, c in enumerate(route.contacts):
        if i:
            assert c.from_node == route.contacts[i - 1].to_node
        t0 = route.departures_s[i]
        assert t0 >= previous and t0 >= c.start_s
        assert t0 + size_bytes / c.rate_bytes_per_s <= c.end_s
        assert route.arrivals_s[i] == t0 + size_bytes / c.rate_bytes_per_s + c.owlt_s
        previous = route.arrivals_s[i]
    assert route.arrival_s == route.arrivals_s[-1]
    assert len(set(route.nodes)) == len(route.nodes)
    assert route.volume_bytes >= size_bytes
    assert route.best_before_s >= route.departures_s[0]


@settings(max_examples=examples(500))
@given(PROBLEMS)
def test_routes_are_causal_and_loopless(problem):
    plan, b = problem
    for route in Router(plan).routes(b.source, b.destination, b.now_s, b.size_bytes, k=5):
        assert_causal(route, b.now_s, b.size_bytes, b.source, b.destination)


@settings(max_examples=examples(500))
@given(PROBLEMS)
def test_k_routes_distinct_loopless_sorted(problem):
    plan, b = problem
    found = Router(plan).routes(b.source, b.destination, b.now_s, b.size_bytes, k=6)
    assert len({r.contacts for r in found}) == len(found)
    assert [r.key for r in found] == sorted(r.key for r in found)
    best = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    assert (found[0] if found else None) == best
    assert found[:3] == Router(plan).routes(b.source, b.destination, b.now_s, b.size_bytes, k=3)


@settings(max_examples=examples(500))
@given(PROBLEMS, st.data())
def test_adding_a_contact_never_makes_arrival_later(problem, data):
    plan, b = problem
    before = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    extra = data.draw(contacts(nodes=plan.node_numbers(), horizon_s=60))
    assume(extra not in plan.contacts)
    bigger = ContactPlan(nodes=plan.nodes, contacts=plan.contacts + [extra])
    after = Router(bigger).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    if before is not None:
        assert after is not None and after.arrival_s <= before.arrival_s
    # the same through the run-time API
    router = Router(plan)
    router.best_route(b.source, b.destination, b.now_s, b.size_bytes)
    router.add_contact(extra)
    assert _key(router.best_route(b.source, b.destination, b.now_s, b.size_bytes)) == _key(after)


@settings(max_examples=examples(500))
@given(PROBLEMS, st.data())
def test_removing_an_unused_contact_changes_nothing(problem, data):
    plan, b = problem
    before = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    used = set(before.contacts) if before else set()
    unused = [c for c in plan.contacts if c not in used]
    if not unused:
        return
    gone = data.draw(st.sampled_from(unused))
    smaller = ContactPlan(nodes=plan.nodes, contacts=[c for c in plan.contacts if c != gone])
    assert _key(Router(smaller).best_route(b.source, b.destination, b.now_s, b.size_bytes)) == _key(before)
    router = Router(plan)
    cached = router.best_route(b.source, b.destination, b.now_s, b.size_bytes)
    router.remove_contact(gone)
    assert router.best_route(b.source, b.destination, b.now_s, b.size_bytes) == cached


@settings(max_examples=examples(500))
@given(PROBLEMS, st.integers(-10_000, 10_000))
def test_shifting_all_times_shifts_arrival(problem, delta_s):
    plan, b = problem
    before = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    after = Router(plan.shifted(delta_s)).best_route(b.source, b.destination, b.now_s + delta_s, b.size_bytes)
    assert _key(after) == (None if before is None else (before.arrival_s + delta_s, before.hop_count))
    if before is not None:
        assert after.best_before_s == before.best_before_s + delta_s


@settings(max_examples=examples(500))
@given(PROBLEMS, st.sampled_from([2, 4, 16]))
def test_faster_links_never_make_arrival_later(problem, factor):
    plan, b = problem
    before = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    faster = ContactPlan(
        nodes=plan.nodes, contacts=[replace(c, rate_bytes_per_s=c.rate_bytes_per_s * factor) for c in plan.contacts]
    )
    after = Router(faster).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    if before is not None:
        assert after is not None and after.arrival_s <= before.arrival_s


@settings(max_examples=examples(500))
@given(PROBLEMS, st.lists(st.tuples(st.integers(0, 3), st.integers(1, 300)), max_size=12))
def test_booking_never_exceeds_volume_and_release_restores(problem, bundles):
    """Book bundle after bundle on the best route: no contact is ever booked beyond its volume (a route is
    only offered when the bundle fits), and releasing everything restores every residual volume."""
    plan, b = problem
    router = Router(plan)
    nodes = plan.node_numbers()
    booked = []
    for pick, size in bundles:
        destination = [n for n in nodes if n != b.source][pick % (len(nodes) - 1)]
        route = router.best_route(b.source, destination, b.now_s, size)
        if route is None:
            continue
        assert all(router.residual_bytes(c) >= size for c in route.contacts)
        router.book(route, size)
        booked.append((route, size))
        for c in plan.contacts:
            assert 0 <= router.residual_bytes(c) <= c.volume_bytes
            assert router.booked_bytes(c) <= c.volume_bytes
    for route, size in reversed(booked):
        router.release(route, size)
    for c in plan.contacts:
        assert router.residual_bytes(c) == c.volume_bytes
        assert router.queued_bytes(c) == 0


@settings(max_examples=examples(500))
@given(PROBLEMS)
def test_decisions_are_deterministic(problem):
    plan, b = problem
    shuffled = ContactPlan(nodes=list(reversed(plan.nodes)), contacts=list(reversed(plan.contacts)))
    answers = []
    for p in (plan, plan, shuffled):
        router = Router(p)
        answers.append(
            (
                router.decide(b.source, b.destination, b.now_s, b.size_bytes),
                router.decide(b.source, b.destination, b.now_s, b.size_bytes, critical=True),
                router.routes(b.source, b.destination, b.now_s, b.size_bytes, k=4),
            )
        )
    assert answers[0] == answers[1] == answers[2]


@settings(max_examples=examples(500))
@given(PROBLEMS)
def test_best_before_is_the_latest_first_start(problem):
    """Starting the first hop at best_before_s still delivers over the same contacts; a bit later does not."""
    plan, b = problem
    route = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
    if route is None:
        return
    late = Router(route.contacts).best_route(b.source, b.destination, route.best_before_s, b.size_bytes)
    assert late is not None and late.contacts == route.contacts
    assert Router(route.contacts).best_route(b.source, b.destination, route.best_before_s + 0.25, b.size_bytes) is None
