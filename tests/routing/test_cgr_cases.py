"""routing.cgr on hand-made plans: the known pitfalls of public CGR codes, errors, plan changes and the cache."""

from __future__ import annotations

import math

import pytest

from contact_plans.model import Contact, ContactPlan, Node
from dtn.errors import PlanError, RoutingError
from routing import MAX_K, Route, Router


def plan_of(*contacts: Contact) -> ContactPlan:
    numbers = sorted({c.from_node for c in contacts} | {c.to_node for c in contacts})
    return ContactPlan(nodes=[Node(n, f"n{n}") for n in numbers], contacts=list(contacts))


def test_current_time_is_respected():
    """A contact that has ended is not used, and transmission starts at now, not at the contact's start."""
    early = Contact(1, 2, 0, 10, 100, 1.0)
    later = Contact(1, 2, 50, 60, 100, 1.0)
    router = Router(plan_of(early, later))
    assert router.best_route(1, 2, 5, 100).arrival_s == 5 + 1 + 1.0
    route = router.best_route(1, 2, 20, 100)
    assert route.contacts == (later,) and route.arrival_s == 50 + 1 + 1.0


def test_best_contact_not_first_open():
    """The first contact to open is not the best when a later one is much faster."""
    slow = Contact(1, 2, 0, 1000, 1, 0.0)
    fast = Contact(1, 2, 10, 20, 1000, 0.0)
    route = Router(plan_of(slow, fast)).best_route(1, 2, 0, 100)
    assert route.contacts == (fast,) and route.arrival_s == 10.1


def test_owlt_is_added_on_every_hop():
    a = Contact(1, 2, 0, 100, 10, 2.5)
    b = Contact(2, 3, 0, 100, 10, 4.0)
    route = Router(plan_of(a, b)).best_route(1, 3, 0, 10)
    assert route.arrivals_s == (1 + 2.5, 3.5 + 1 + 4.0)
    assert route.departures_s == (0, 3.5)


def test_transmission_must_end_inside_the_contact():
    c = Contact(1, 2, 0, 10, 10, 0.0)
    router = Router(plan_of(c))
    assert router.best_route(1, 2, 0, 100).arrival_s == 10  # ends exactly at the end: usable
    assert router.best_route(1, 2, 0, 101) is None
    assert router.best_route(1, 2, 0.5, 100) is None


def test_fewest_hops_among_equal_arrivals():
    """Two routes arrive at the same time; the one with fewer hops wins even though its first hop is later."""
    direct_wait = Contact(1, 3, 5, 100, 1, 0.0)
    relay_a = Contact(1, 2, 0, 100, 1, 0.0)
    relay_b = Contact(2, 3, 5, 100, 1, 0.0)
    route = Router(plan_of(direct_wait, relay_a, relay_b)).best_route(1, 3, 0, 1)
    assert route.arrival_s == 6 and route.hop_count == 1


def test_fewest_hops_even_when_intermediate_arrival_is_later():
    """The 1-hop label at node 2 arrives later than the 2-hop one; both reach 4 at 20.5 through the same
    contact, so the 2-hop route (via 2 only) must win over the 3-hop one: Dijkstra on arrival alone fails."""
    contacts = (
        Contact(1, 3, 0, 100, 1, 0.0),  # 1 -> 3 at 1
        Contact(3, 2, 0, 100, 1, 0.0),  # 3 -> 2 at 2
        Contact(1, 2, 5, 100, 1, 0.0),  # 1 -> 2 at 6 (one hop)
        Contact(2, 4, 20, 100, 2, 0.0),  # 2 -> 4 at 20.5
    )
    route = Router(plan_of(*contacts)).best_route(1, 4, 0, 1)
    assert (route.arrival_s, route.hop_count, route.nodes) == (20.5, 2, (1, 2, 4))


def test_excluded_nodes_and_first_hop_queue():
    via2 = (Contact(1, 2, 0, 100, 10, 0.0), Contact(2, 4, 0, 100, 10, 0.0))
    via3 = (Contact(1, 3, 0, 100, 10, 0.0), Contact(3, 4, 0, 100, 5, 0.0))
    router = Router(plan_of(*via2, *via3))
    best = router.best_route(1, 4, 0, 10)
    assert best.nodes == (1, 2, 4)
    assert router.best_route(1, 4, 0, 10, excluded={2}).nodes == (1, 3, 4)
    assert router.best_route(1, 4, 0, 10, excluded={4}) is None
    # 50 bytes queued on 1->2 delay its next first-hop start by 5 s: now 3 is better
    router.book(best, 50)
    assert router.queued_bytes(via2[0]) == 50
    assert router.best_route(1, 4, 0, 10).nodes == (1, 3, 4)
    router.mark_sent(via2[0], 50)
    assert router.best_route(1, 4, 0, 10).nodes == (1, 2, 4)
    assert router.residual_bytes(via2[0]) == 1000 - 50


def test_residual_volume_is_respected_and_released():
    c = Contact(1, 2, 0, 10, 10, 0.0)  # 100 bytes
    router = Router(plan_of(c))
    route = router.best_route(1, 2, 0, 60)
    router.book(route, 60)
    router.mark_sent(c, 60)
    assert router.best_route(1, 2, 0, 60) is None
    assert router.best_route(1, 2, 0, 40) is not None
    router.book(route, 500)  # the caller may overbook; the residual stops at zero
    assert router.residual_bytes(c) == 0
    router.release(route, 500)
    router.release(route, 60)
    assert router.residual_bytes(c) == 100 and router.booked_bytes(c) == 0


def test_critical_decision_one_route_per_first_hop():
    contacts = (
        Contact(1, 2, 0, 100, 10, 0.0),
        Contact(2, 4, 0, 100, 10, 0.0),
        Contact(1, 3, 0, 100, 10, 0.0),
        Contact(3, 4, 50, 100, 10, 0.0),
        Contact(1, 5, 0, 100, 10, 0.0),  # 5 leads nowhere
    )
    router = Router(plan_of(*contacts))
    assert [r.next_hop for r in router.decide(1, 4, 0, 10)] == [2]
    decided = router.decide(1, 4, 0, 10, critical=True)
    assert [r.next_hop for r in decided] == [2, 3]
    assert router.decide(1, 4, 0, 10, critical=True, excluded={2})[0].next_hop == 3
    assert router.decide(1, 4, 0, 10, deadline_s=1.5) == []


def test_k_routes_yen():
    contacts = [Contact(1, 2, t, t + 10, 10, 0.0) for t in (0, 20, 40)] + [Contact(2, 3, 0, 100, 10, 0.0)]
    router = Router(plan_of(*contacts))
    found = router.routes(1, 3, 0, 10, k=5)
    assert [r.arrival_s for r in found] == [2, 22, 42]
    assert len({r.contacts for r in found}) == 3
    with pytest.raises(RoutingError):
        router.routes(1, 3, 0, 10, k=0)
    with pytest.raises(RoutingError):
        router.routes(1, 3, 0, 10, k=MAX_K + 1)


def test_plan_changes():
    a = Contact(1, 2, 0, 100, 10, 0.0)
    b = Contact(2, 3, 0, 100, 10, 0.0)
    c = Contact(1, 3, 30, 100, 10, 0.0)
    router = Router(plan_of(a, b, c))
    assert router.best_route(1, 3, 0, 10).nodes == (1, 2, 3)
    shorter = router.cut_contact(b, 1.5)
    assert shorter == Contact(2, 3, 0, 1.5, 10, 0.0)
    assert router.best_route(1, 3, 0, 10).nodes == (1, 3)
    router.mark_failed(c)
    assert router.best_route(1, 3, 0, 10) is None
    assert router.failed_contacts() == [c]
    router.add_contact(Contact(2, 3, 5, 6, 10, 0.0))
    assert router.best_route(1, 3, 0, 10).arrival_s == 6
    router.remove_contact(a)
    assert router.best_route(1, 3, 0, 10) is None
    assert router.cut_contact(shorter, 0) is None
    assert router.contacts() == [Contact(2, 3, 5, 6, 10, 0.0)]
    assert router.contacts_from(2, 0) == [Contact(2, 3, 5, 6, 10, 0.0)]
    assert router.contacts_from(2, 6) == []
    with pytest.raises(RoutingError):
        router.remove_contact(a)
    with pytest.raises(RoutingError):
        router.cut_contact(Contact(2, 3, 5, 6, 10, 0.0), 7)


def test_cache_keeps_unaffected_answers():
    a = Contact(1, 2, 0, 100, 10, 0.0)
    b = Contact(3, 4, 0, 100, 10, 0.0)
    spare = Contact(1, 2, 200, 300, 10, 0.0)
    router = Router(plan_of(a, b, spare))
    r12 = router.best_route(1, 2, 0, 10)
    r34 = router.best_route(3, 4, 0, 10)
    assert router.cache_info()["entries"] == 2
    assert router.best_route(1, 2, 0, 10) is r12 and router.cache_info()["hits"] == 1
    router.remove_contact(spare)  # used by no answer
    assert router.cache_info()["entries"] == 2
    router.book(r12, 10)  # touches 1->2 only
    assert router.cache_info()["entries"] == 1
    assert router.best_route(3, 4, 0, 10) is r34
    router.add_contact(Contact(3, 4, 500, 600, 10, 0.0))  # opens after r34 arrives: cannot improve it
    assert router.best_route(3, 4, 0, 10) is r34
    router.add_contact(Contact(3, 4, 0.5, 600, 100, 0.0))  # can improve it
    assert router.best_route(3, 4, 0, 10).arrival_s == 0.6
    # time moves on: a cached answer is reused only while its first hop would start at the same time
    assert router.best_route(3, 4, 0.25, 10).arrival_s == 0.6
    assert router.best_route(3, 4, 50, 10).arrival_s == 50.1


@pytest.mark.parametrize(
    "contact",
    [
        Contact(1, 2, 10, 10, 1, 0),
        Contact(1, 2, 0, 10, 0, 0),
        Contact(1, 2, 0, 10, 1, -1),
        Contact(1, 1, 0, 10, 1, 0),
        Contact(1, 2, 0, math.inf, 1, 0),
        Contact(1, 2, math.nan, 10, 1, 0),
        Contact(-1, 2, 0, 10, 1, 0),
    ],
)
def test_invalid_contacts_are_refused(contact):
    with pytest.raises(PlanError):
        Router([contact])
    with pytest.raises(PlanError):
        Router([]).add_contact(contact)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.best_route(1, 9, 0, 1),
        lambda r: r.best_route(9, 1, 0, 1),
        lambda r: r.best_route(1, 1, 0, 1),
        lambda r: r.best_route(1, 2, math.nan, 1),
        lambda r: r.best_route(1, 2, 0, -1),
        lambda r: r.best_route(1, 2, 0, math.inf),
        lambda r: r.best_route("1", 2, 0, 1),
        lambda r: r.best_route(1, 2, 0, 1, excluded=3),
        lambda r: r.best_route(1, 2, 0, 1, excluded={"x"}),
        lambda r: r.routes(1, 2, 0, 1, k=True),
        lambda r: r.decide(1, 2, 0, 1, deadline_s=math.nan),
        lambda r: r.book(r.best_route(1, 2, 0, 1), -5),
        lambda r: r.remove_contact("contact"),
        lambda r: r.contacts_from(7, 0),
    ],
)
def test_bad_requests_raise_routing_error(call):
    router = Router(plan_of(Contact(1, 2, 0, 10, 1, 0)))
    with pytest.raises(RoutingError):
        call(router)


def test_duplicates_are_kept_once_and_route_fields():
    c = Contact(1, 2, 0, 10, 10, 0.5)
    router = Router([c, c])
    assert router.contacts() == [c]
    route = router.best_route(1, 2, 2, 10)
    assert isinstance(route, Route)
    assert (route.next_hop, route.first_contact, route.source, route.destination) == (2, c, 1, 2)
    assert route.key == (3.5, 1)
    assert route.best_before_s == 9 and route.volume_bytes == 80
    d = route.to_dict()
    assert d["nodes"] == [1, 2] and d["hops"][0]["departure_s"] == 2


def test_long_contacts_are_indexed_apart():
    short = [Contact(1, 2, t, t + 1, 10, 0.0) for t in range(0, 40, 2)]
    long = Contact(2, 3, 0, 5000, 10, 0.0)
    router = Router(plan_of(*short, long))
    assert any(sender.long for sender in router._senders)
    assert router.best_route(1, 3, 3.5, 5).arrival_s == 4.5 + 0.5
    assert router.best_route(2, 3, 4000, 5).arrival_s == 4000.5
    assert router.best_route(2, 3, 4999.75, 5) is None


def test_copy_is_independent_and_equal():
    from contact_plans.model import Contact
    from routing import Router

    contacts = [Contact(1, 2, 0, 100, 10), Contact(2, 3, 50, 200, 10), Contact(1, 3, 300, 400, 10)]
    original = Router(contacts)
    copy = original.copy()
    route = copy.best_route(1, 3, 0, 100)
    assert route == original.best_route(1, 3, 0, 100)
    copy.book(route, 1000)  # fills 1->2: the copy must now go the long way, the original not
    assert copy.best_route(1, 3, 0, 100).arrival_s >= 300
    assert original.best_route(1, 3, 0, 100).arrival_s < 300
    copy.remove_contact(contacts[2])
    assert original.best_route(1, 3, 0, 1000) is not None


def test_restore_contact_after_mark_failed():
    from contact_plans.model import Contact
    from routing import Router

    direct = Contact(1, 2, 0, 100, 10)
    router = Router([direct, Contact(1, 3, 0, 100, 10), Contact(3, 2, 200, 300, 10)])
    assert router.best_route(1, 2, 0, 10).arrival_s < 100
    router.mark_failed(direct)
    assert router.best_route(1, 2, 0, 10).arrival_s >= 200
    router.restore_contact(direct)
    assert router.best_route(1, 2, 0, 10).arrival_s < 100 and router.failed_contacts() == []
    router.restore_contact(direct)  # not failed: nothing happens
