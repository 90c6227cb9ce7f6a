from hypothesis import given, strategies as st

from contact_plans.model import Contact, ContactPlan, Node
from dtn.twin.links import LinkSchedule
from dtn.twin.workload import Fault


def _plan(contacts):
    return ContactPlan(nodes=[Node(1), Node(2), Node(3)], contacts=contacts)


def test_merge_both_directions_into_one_window():
    plan = _plan([Contact(1, 2, 10, 20, 100, 0.1), Contact(2, 1, 15, 30, 50, 0.2), Contact(1, 2, 40, 50, 100)])
    s = LinkSchedule(plan)
    ws = s.windows(2, 1)
    assert [(w.start_s, w.end_s) for w in ws] == [(10, 30), (40, 50)]
    assert ws[0].owlt_s == 0.2 and ws[0].rate_ab_bytes_per_s == 100 and ws[0].rate_ba_bytes_per_s == 50
    assert s.is_up(1, 2, 10) and s.is_up(1, 2, 29.9) and not s.is_up(1, 2, 30) and not s.is_up(1, 2, 35)
    assert s.next_window(1, 2, 35).start_s == 40 and s.next_window(1, 2, 50) is None


def test_faults():
    plan = _plan([Contact(1, 2, 10, 20, 100), Contact(1, 3, 0, 100, 100), Contact(2, 3, 50, 60, 100)])
    s = LinkSchedule(
        plan,
        [
            Fault("cut_link", a=2, b=1, at_s=12),
            Fault("node_down", node=3, from_s=20, to_s=40),
            Fault("missing_contact", a=3, b=2, at_s=55),
        ],
    )
    assert [(w.start_s, w.end_s) for w in s.windows(1, 2)] == [(10, 12)]
    assert [(w.start_s, w.end_s) for w in s.windows(1, 3)] == [(0, 20), (40, 100)]
    assert s.windows(2, 3) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(1, 50)).map(lambda t: Contact(1, 2, t[0], t[0] + t[1], 10)),
        max_size=8,
    ),
    st.floats(0, 160),
)
def test_up_exactly_when_a_contact_is_active(contacts, t):
    s = LinkSchedule(_plan(contacts))
    assert s.is_up(1, 2, t) == any(c.start_s <= t < c.end_s for c in contacts)
