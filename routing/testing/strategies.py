"""Hypothesis strategies for testing routing: `contacts()`, `contact_plans()`, `bundles()`, `routing_problems()`.

The numbers are chosen so that every time the routing model computes is exact in binary floating point: times
are whole seconds, rates powers of two (bytes/s), one-way light times multiples of 0.25 s, bundle sizes whole
bytes and request times multiples of 0.25 s. Exact arithmetic makes ties frequent (two routes arriving at the
same instant, a transmission ending exactly at a contact's end), and ties are where routing bugs hide; it also
lets tests compare arrival times with ``==`` and shift or scale plans without rounding.

Each function returns a hypothesis strategy. hypothesis is imported when a strategy is built, not when this
module is imported: importing hypothesis loads trio (trio registers a hypothesis plugin), and `routing` is a
pure layer that must import without trio.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

from contact_plans.model import Contact, ContactPlan, Node, NodeKind

__all__ = ["Bundle", "contacts", "contact_plans", "bundles", "routing_problems", "RATES_BYTES_PER_S"]

RATES_BYTES_PER_S = (1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0)
"""The contact rates drawn by default (powers of two, so size / rate is exact)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """A routing request: a bundle of `size_bytes` at `source` at time `now_s`, for `destination`."""

    source: int
    destination: int
    now_s: float
    size_bytes: int


def _composite(fn):
    """`st.composite(fn)`, built once per function (building one is costly) and only when first needed."""
    built = _composites.get(fn)
    if built is None:
        built = _composites[fn] = _st().composite(fn)
    return built


_composites: dict = {}


def _st():
    from hypothesis import strategies as st

    return st


def contacts(
    *,
    nodes: Sequence[int] = (1, 2, 3, 4),
    horizon_s: float = 60.0,
    max_duration_s: float | None = None,
    rates_bytes_per_s: Sequence[float] = RATES_BYTES_PER_S,
    max_owlt_s: float = 4.0,
    links: Sequence[tuple[int, int]] | None = None,
) -> "SearchStrategy[Contact]":
    """One valid directed contact between two distinct `nodes` (or, if given, across one of the `links`, in
    either direction), starting in ``[0, horizon_s)``, lasting at most `max_duration_s` (default the horizon)."""
    node_list = tuple(nodes)
    if links is None and len(node_list) < 2:
        raise ValueError("contacts() needs at least two nodes")
    horizon = max(1, int(horizon_s))
    longest = horizon if max_duration_s is None else max(1, int(max_duration_s))
    links = None if links is None else tuple(links)
    return _composite(_draw_contact)(node_list, links, horizon, longest, tuple(rates_bytes_per_s), max_owlt_s)


def _draw_contact(draw, node_list, links, horizon, longest, rates, max_owlt_s) -> Contact:
    st = _st()
    if links is not None:
        pair = draw(st.sampled_from(links))
        sender, receiver = pair if draw(st.booleans()) else pair[::-1]
    else:
        sender = draw(st.sampled_from(node_list))
        receiver = draw(st.sampled_from([n for n in node_list if n != sender]))
    start = draw(st.integers(0, horizon - 1))
    duration = draw(st.integers(1, longest))
    rate = draw(st.sampled_from(rates))
    owlt = draw(st.integers(0, int(max_owlt_s * 4))) / 4
    return Contact(sender, receiver, float(start), float(start + duration), float(rate), owlt)


def contact_plans(
    *,
    min_nodes: int = 2,
    max_nodes: int = 6,
    max_contacts: int = 12,
    min_contacts: int = 0,
    horizon_s: float = 60.0,
    max_duration_s: float | None = None,
    max_owlt_s: float = 4.0,
    sparse: bool = True,
) -> "SearchStrategy[ContactPlan]":
    """A small valid contact plan: `min_nodes`..`max_nodes` nodes with distinct ipn numbers (1..99, not in
    order) and `min_contacts`..`max_contacts` distinct contacts within `horizon_s` seconds. With `sparse`
    (the default) contacts only join the node pairs of a random spanning tree plus up to two more, and
    some are mirrored (the same window in the other direction, as two-way links are), so that multi-hop routes
    are common (the plan then has up to twice `max_contacts`); otherwise any two nodes may meet."""
    if min_nodes < 2 or max_nodes < min_nodes:
        raise ValueError("contact_plans() needs 2 <= min_nodes <= max_nodes")
    return _composite(_draw_plan)(
        min_nodes, max_nodes, min_contacts, max_contacts, horizon_s, max_duration_s, max_owlt_s, sparse
    )


def _contact_key(c: Contact) -> tuple:
    return (c.from_node, c.to_node, c.start_s, c.end_s)


def _draw_plan(
    draw, min_nodes, max_nodes, min_contacts, max_contacts, horizon_s, max_duration_s, max_owlt_s, sparse
) -> ContactPlan:
    st = _st()
    count = draw(st.integers(min_nodes, max_nodes))
    numbers = draw(st.lists(st.integers(1, 99), min_size=count, max_size=count, unique=True))
    links = None
    if sparse:
        # A sparse topology, as in space networks: few node pairs ever meet, so routes need several hops.
        # A random spanning tree keeps the nodes connected; up to two extra links add alternatives.
        links = [(draw(st.sampled_from(numbers[:i])), numbers[i]) for i in range(1, count)]
        pairs = [(a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :]]
        links += draw(st.lists(st.sampled_from(pairs), max_size=2))
    drawn = draw(
        st.lists(
            contacts(
                nodes=numbers, links=links, horizon_s=horizon_s, max_duration_s=max_duration_s, max_owlt_s=max_owlt_s
            ),
            min_size=min_contacts,
            max_size=max_contacts,
            unique_by=_contact_key,
        )
    )
    if sparse:
        # Links are mostly two-way in space networks: mirror some contacts (same window, rate and delay).
        keys = {(c.from_node, c.to_node, c.start_s, c.end_s) for c in drawn}
        mirrors = draw(st.lists(st.booleans(), min_size=len(drawn), max_size=len(drawn)))
        for c, mirror in zip(list(drawn), mirrors):
            back = replace(c, from_node=c.to_node, to_node=c.from_node)
            if mirror and (back.from_node, back.to_node, back.start_s, back.end_s) not in keys:
                keys.add((back.from_node, back.to_node, back.start_s, back.end_s))
                drawn.append(back)
    nodes = [Node(number=n, name=f"n{n}", kind=NodeKind.SATELLITE) for n in numbers]
    return ContactPlan(nodes=nodes, contacts=drawn, name="hypothesis")


def bundles(
    *,
    nodes: Sequence[int] = (1, 2, 3, 4),
    horizon_s: float = 60.0,
    min_size_bytes: int = 1,
    max_size_bytes: int = 256,
) -> "SearchStrategy[Bundle]":
    """A routing request between two distinct `nodes`, at a time in ``[0, horizon_s]``: sizes lean small
    (most contacts can carry them) but reach `max_size_bytes` (volume and contact end then matter)."""
    node_list = tuple(nodes)
    if len(node_list) < 2:
        raise ValueError("bundles() needs at least two nodes")
    return _composite(_draw_bundle)(node_list, horizon_s, min_size_bytes, max_size_bytes)


def _draw_bundle(draw, node_list, horizon_s, min_size_bytes, max_size_bytes) -> Bundle:
    st = _st()
    source = draw(st.sampled_from(node_list))
    destination = draw(st.sampled_from([n for n in node_list if n != source]))
    now_s = draw(st.integers(0, int(horizon_s) * 4)) / 4
    small = st.integers(min_size_bytes, max(min_size_bytes, min(16, max_size_bytes)))
    size = draw(st.one_of(small, st.integers(min_size_bytes, max_size_bytes)))
    return Bundle(source, destination, now_s, size)


def routing_problems(**plan_options) -> "SearchStrategy[tuple[ContactPlan, Bundle]]":
    """A plan from `contact_plans(**plan_options)` and a bundle between two of its nodes."""
    return _composite(_draw_problem)(contact_plans(**plan_options), plan_options.get("horizon_s", 60.0))


def _draw_problem(draw, plans, horizon_s) -> tuple[ContactPlan, Bundle]:
    plan = draw(plans)
    return plan, draw(bundles(nodes=plan.node_numbers(), horizon_s=horizon_s))
