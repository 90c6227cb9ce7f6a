"""Static and default routes: pattern forms, most-specific-wins, file order, exclusion of the previous hop."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.errors import RoutingError
from routing.static import DEFAULT, EXACT, NODE, SCHEME, StaticRoute, StaticRoutes, matches, specificity


def test_pattern_forms():
    assert specificity("ipn:7.1") == EXACT and specificity("dtn://gs-1/files") == EXACT
    assert specificity("ipn:7.*") == NODE and specificity("dtn://gs-1/*") == NODE
    assert specificity("ipn:*") == SCHEME and specificity("dtn:*") == SCHEME
    assert specificity("*") == DEFAULT
    for bad in ("ipn:*.1", "ipn:7", "gs-1", "dtn://*/x", "", "ipn:7.*x", 7):
        with pytest.raises(RoutingError):
            specificity(bad)
    with pytest.raises(RoutingError):
        StaticRoute("*", via=0)


def test_matching():
    assert matches("ipn:7.*", "ipn:7.0") and matches("ipn:7.*", "ipn:7.42")
    assert not matches("ipn:7.*", "ipn:70.1") and not matches("ipn:7.*", "dtn://seven/")
    assert matches("dtn://gs-1/*", "dtn://gs-1/files") and not matches("dtn://gs-1/*", "dtn://gs-10/x")
    assert matches("ipn:*", "ipn:3.4") and not matches("ipn:*", "dtn://a/")
    assert matches("ipn:7.1", "ipn:7.1") and not matches("ipn:7.1", "ipn:7.2")
    assert matches("*", "dtn://anything/at/all")


def test_most_specific_wins_then_file_order():
    routes = StaticRoutes(
        [
            StaticRoute("*", 9),
            StaticRoute("ipn:*", 8),
            StaticRoute("ipn:7.*", 2),
            StaticRoute("ipn:7.*", 3),
            StaticRoute("ipn:7.5", 4),
        ]
    )
    assert routes.next_hop("ipn:7.5") == 4
    assert routes.next_hop("ipn:7.1") == 2  # first of two equally specific routes
    assert routes.next_hop("ipn:6.1") == 8
    assert routes.next_hop("dtn://gs-1/x") == 9
    assert StaticRoutes().next_hop("ipn:1.1") is None and not StaticRoutes()


def test_previous_hop_is_skipped_unless_it_is_the_destination():
    routes = StaticRoutes([StaticRoute("ipn:7.*", 2), StaticRoute("*", 3)])
    assert routes.next_hop("ipn:7.1", excluded=frozenset({2})) == 3
    assert routes.next_hop("ipn:5.1", excluded=frozenset({3})) is None
    assert routes.next_hop("ipn:3.1", excluded=frozenset({3}), destination_node=3) == 3


patterns = st.one_of(
    st.just("*"),
    st.sampled_from(["ipn:*", "dtn:*"]),
    st.integers(1, 5).map(lambda n: f"ipn:{n}.*"),
    st.tuples(st.integers(1, 5), st.integers(0, 3)).map(lambda t: f"ipn:{t[0]}.{t[1]}"),
    st.sampled_from(["dtn://a/*", "dtn://b/*", "dtn://a/x", "dtn://b/y"]),
)
destinations = st.one_of(
    st.tuples(st.integers(1, 5), st.integers(0, 3)).map(lambda t: f"ipn:{t[0]}.{t[1]}"),
    st.sampled_from(["dtn://a/x", "dtn://a/z", "dtn://b/y", "dtn://c/"]),
)


@given(st.lists(st.tuples(patterns, st.integers(1, 9)), max_size=8), destinations)
def test_winner_agrees_with_a_brute_force_oracle(table, destination):
    routes = StaticRoutes([StaticRoute(p, v) for p, v in table])
    candidates = [(i, p, v) for i, (p, v) in enumerate(table) if matches(p, destination)]
    if not candidates:
        assert routes.next_hop(destination) is None
        return
    best = max(specificity(p) for _, p, _ in candidates)
    expected = min((i, v) for i, p, v in candidates if specificity(p) == best)[1]
    assert routes.next_hop(destination) == expected
