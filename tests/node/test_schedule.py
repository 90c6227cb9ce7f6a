"""dtn/node/schedule.py: planned link windows, outbound contacts, overrides."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from contact_plans.model import Contact, ContactPlan
from dtn.node.schedule import DOWN, UP, LinkSchedule


def plan(*contacts):
    return ContactPlan(contacts=[Contact(*c) for c in contacts])


def test_windows_merge_both_directions():
    s = LinkSchedule(plan((1, 2, 0, 10, 100), (2, 1, 5, 20, 100), (2, 3, 30, 40, 100)), 1)
    assert [(w.start_s, w.end_s) for w in s.windows(2)] == [(0, 20)]
    assert s.link_wanted(2, 15) and not s.link_wanted(2, 20)
    assert s.may_send(2, 5) and not s.may_send(2, 15)  # only 2->1 is active at 15
    assert s.peers() == {2}
    assert s.next_change_s(2, 0) == 10
    assert s.next_change_s(2, 10) == 20
    assert s.next_change_s(2, 25) == math.inf


def test_overrides():
    s = LinkSchedule(plan((1, 2, 0, 10, 100)), 1)
    s.overrides[2] = DOWN
    assert not s.link_wanted(2, 5) and not s.may_send(2, 5)
    s.overrides[2] = UP
    assert s.link_wanted(2, 50) and s.may_send(2, 50)
    assert s.next_change_s(2, 0) == math.inf
    del s.overrides[2]
    assert s.link_wanted(2, 5)


spans = st.tuples(st.integers(0, 100), st.integers(1, 50)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(st.tuples(st.booleans(), spans), max_size=8), st.integers(0, 160))
def test_link_wanted_matches_contacts(items, t):
    contacts = [(1, 2, a, b, 10) if out else (2, 1, a, b, 10) for out, (a, b) in items]
    s = LinkSchedule(plan(*contacts), 1)
    expected = any(a <= t < b for _, (a, b) in items)
    assert s.link_wanted(2, t) == expected
    assert s.may_send(2, t) == any(out and a <= t < b for out, (a, b) in items)
    change = s.next_change_s(2, t)
    if change != math.inf:
        # nothing changes strictly between t and the next change
        mid = (t + change) / 2
        assert s.link_wanted(2, mid) == s.link_wanted(2, t) or mid == t
