"""Plan formats: native JSON, ION and HDTN round trips (hypothesis), unit conversion, error reporting."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from contact_plans.formats import (
    detect_format,
    dumps_hdtn,
    dumps_ion,
    dumps_json,
    dumps_plan,
    load_plan,
    loads_hdtn,
    loads_ion,
    loads_json,
    loads_plan,
    save_plan,
)
from contact_plans.model import Contact, ContactPlan, Node, NodeKind
from dtn.errors import PlanError, PlanFormatError

EPOCH = dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc)


@st.composite
def contact_plans(draw, whole: bool = False):
    """Valid plans; `whole` keeps every time, OWLT and rate a whole number (what ION/HDTN can hold)."""
    numbers = draw(st.lists(st.integers(1, 10_000), min_size=2, max_size=6, unique=True))
    kinds = list(NodeKind)
    nodes = [
        Node(
            n,
            draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)),
            draw(st.sampled_from(kinds)),
            draw(st.dictionaries(st.sampled_from(["plane", "slot", "lat_deg"]), st.integers(-90, 90), max_size=2)),
        )
        for n in numbers
    ]
    contacts = []
    seen = set()
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(numbers)), draw(st.sampled_from(numbers))
        if a == b:
            continue
        if whole:
            start = float(draw(st.integers(0, 10**7)))
            end = start + draw(st.integers(1, 10**5))
            rate = float(draw(st.integers(1, 10**9)))
            owlt = float(draw(st.integers(0, 1500)))
        else:
            start = draw(st.floats(0, 1e7, allow_nan=False))
            end = start + draw(st.floats(1e-3, 1e5, allow_nan=False))
            rate = draw(st.floats(1e-3, 1e10, allow_nan=False))
            owlt = draw(st.floats(0, 1500, allow_nan=False))
        conf = draw(st.sampled_from([1.0, 0.5, 0.25, 0.9]))
        if (a, b, start, end) in seen or end <= start:
            continue
        seen.add((a, b, start, end))
        contacts.append(Contact(a, b, start, end, rate, owlt, conf))
    return ContactPlan(epoch=EPOCH, nodes=nodes, contacts=contacts, name=draw(st.text(max_size=8)))


def _same(a: ContactPlan, b: ContactPlan) -> None:
    assert b.contacts == a.contacts
    assert b.epoch == a.epoch
    assert b.name == a.name
    assert [(n.number, n.name, n.kind, n.metadata) for n in b.nodes] == [
        (n.number, n.name, n.kind, n.metadata) for n in a.nodes
    ]


@given(contact_plans())
def test_native_json_round_trip_is_exact(plan):
    _same(plan, loads_json(dumps_json(plan)))
    assert dumps_json(loads_json(dumps_json(plan))) == dumps_json(plan)


@given(contact_plans())
def test_exact_ion_and_hdtn_round_trips(plan):
    _same(plan, loads_ion(dumps_ion(plan, whole_seconds=False)))
    _same(plan, loads_hdtn(dumps_hdtn(plan, whole_seconds=False)))


@given(contact_plans(whole=True))
def test_whole_second_plans_round_trip_through_peer_formats(plan):
    for fmt in ("ion", "hdtn"):
        text = dumps_plan(plan, fmt)
        _same(plan, loads_plan(text))
        assert dumps_plan(loads_plan(text), fmt) == text


@given(contact_plans())
def test_whole_seconds_shrink_windows_inward(plan):
    back = loads_ion(dumps_ion(plan))
    originals = {(c.from_node, c.to_node): [] for c in plan.contacts}
    for c in plan.contacts:
        originals[(c.from_node, c.to_node)].append(c)
    for c in back.contacts:
        assert any(
            o.start_s <= c.start_s + 1e-6
            and c.end_s <= o.end_s + 1e-6
            and c.owlt_s >= o.owlt_s - 1e-6
            and c.rate_bytes_per_s <= max(1.0, o.rate_bytes_per_s) + 1e-6
            for o in originals[(c.from_node, c.to_node)]
        )


def test_ion_reference_file_reads_with_ranges_both_ways():
    text = """# a hand-written plan
1 1 ''
s
m horizon +0
a contact +0 +600 1 2 125000
a contact +0 +600 2 1 125000 0.5
a contact 2026/01/03-00:20:00 2026/01/03-00:30:00 2 3 1000
a range +0 +600 1 2 1
a range +0 +86400 2 3 4
a range +0 +86400 3 2 7
@ +3600
a contact +0 +60 3 2 1000
"""
    plan = loads_ion(text, epoch=EPOCH)
    c = {(x.from_node, x.to_node, x.start_s): x for x in plan.contacts}
    assert c[(1, 2, 0.0)].owlt_s == 1 and c[(1, 2, 0.0)].rate_bytes_per_s == 125000
    assert c[(2, 1, 0.0)].owlt_s == 1 and c[(2, 1, 0.0)].confidence == 0.5  # range applies both ways
    assert c[(2, 3, 1200.0)].owlt_s == 4 and c[(2, 3, 1200.0)].end_s == 1800.0  # absolute times
    assert c[(3, 2, 3600.0)].owlt_s == 7  # '@' moved the reference; reverse range given
    assert sorted(plan.node_numbers()) == [1, 2, 3]
    assert detect_format(text) == "ion"


def test_hdtn_rates_are_bits_per_second():
    text = (
        '{"contacts": [{"contact": 0, "source": 10, "dest": 20, "startTime": 0, "endTime": 100, '
        '"rateBitsPerSec": 1000000, "owlt": 1}]}'
    )
    plan = loads_plan(text)
    assert plan.contacts[0].rate_bytes_per_s == 125000.0
    assert '"rateBitsPerSec": 1000000' in dumps_hdtn(plan)
    assert "a contact +0 +100 10 20 125000" in dumps_ion(plan)


@pytest.mark.parametrize(
    "text, where, reason",
    [
        ("a contact +0 +10 1 2\n", 1, "takes 5 or 6 arguments"),
        ("# c\n\na contact +10 +5 1 2 100\n", 3, "end time must be after start"),
        ("a contact +0 +10 1 x 100\n", 1, "to node number"),
        ("a contact +0 +10 1 2 -5\n", 1, "rate"),
        ("a contact +0 +10 1 2 100 1.5\n", 1, "confidence"),
        ("a range +0 +10 1 2\n", 1, "'a range' takes 5"),
        ("a contact 2026/13/01-00:00:00 +10 1 2 100\n", 1, "start time"),
        ("z foo\n", 1, "unknown ionadmin command"),
        ("d contact * 1 2\n", 1, "not supported"),
        ("a contact +0 +10 1 2 100\na contact +0 +10 1 2 100\n", 2, "duplicate"),
    ],
)
def test_ion_errors_name_file_line_and_reason(text, where, reason):
    with pytest.raises(PlanFormatError) as exc:
        loads_ion(text, source="p.ionrc")
    assert exc.value.file == "p.ionrc" and exc.value.where == where
    assert reason in exc.value.reason
    assert str(exc.value).startswith(f"p.ionrc:{where}: ")


@pytest.mark.parametrize(
    "text, where, reason",
    [
        (
            '{"version": 1, "epoch_utc": "2026-01-03T00:00:00Z", "contacts": [{"from_node": 1}]}',
            "$.contacts[0]",
            "missing contact field 'to_node'",
        ),
        (
            '{"version": 1, "epoch_utc": "2026-01-03T00:00:00Z", "contacts": [{"from_node": 1, "to_node": 2, '
            '"start_s": 0, "end_s": 5, "rate_bits_per_s": 8}]}',
            "$.contacts[0].rate_bits_per_s",
            "unknown contact field",
        ),
        ('{"version": 2, "epoch_utc": "x"}', "$.version", "unsupported version"),
        ('{"version": 1, "epoch_utc": "yesterday"}', "$.epoch_utc", "invalid ISO 8601"),
        (
            '{"version": 1, "epoch_utc": "2026-01-03T00:00:00Z", "contacts": [{"from_node": 1, "to_node": 2, '
            '"start_s": NaN, "end_s": 5, "rate_bytes_per_s": 8}]}',
            "line 1 column",
            "NaN",
        ),
        ('{"version": 1,\n "epoch_utc": }', "line 2 column 15", "invalid JSON"),
        (
            '{"contacts": [{"source": 1, "dest": 2, "startTime": 0, "endTime": 5, "rate": 8}]}',
            "$.contacts[0].rate",
            "unknown contact field",
        ),
        ('{"contacts": [{"source": 1, "dest": 2, "startTime": 0, "endTime": 5}]}', "$.contacts[0]", "rateBitsPerSec"),
        (
            '{"contacts": [{"source": 1, "dest": 2, "startTime": 9, "endTime": 5, "rateBitsPerSec": 8}]}',
            "$.contacts[0]",
            "end time must be after",
        ),
        ('{"something": 1}', "$", "neither a spacedtn plan"),
    ],
)
def test_json_errors_name_path_and_reason(text, where, reason):
    with pytest.raises(PlanFormatError) as exc:
        loads_plan(text, source="p.json")
    assert exc.value.file == "p.json"
    assert str(exc.value.where).startswith(where)
    assert reason in str(exc.value)


def test_load_and_save_detect_formats(tmp_path):
    plan = ContactPlan(
        epoch=EPOCH,
        name="x",
        nodes=[Node(1, "a", NodeKind.GROUND), Node(100, "s")],
        contacts=[Contact(1, 100, 0.0, 60.0, 1000.0, 1.0), Contact(100, 1, 0.0, 60.0, 1000.0, 1.0)],
    )
    for fmt, name in (("json", "p.json"), ("ion", "p.ionrc"), ("hdtn", "p.hdtn.json")):
        save_plan(plan, tmp_path / name, fmt)
        _same(plan, load_plan(tmp_path / name))
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PlanFormatError, match="UTF-8"):
        load_plan(tmp_path / "bin")
    with pytest.raises(PlanError):
        dumps_plan(plan, "hdtn", absolute_times=True)
    with pytest.raises(PlanError):
        dumps_json(ContactPlan(contacts=[Contact(1, 2, 0, float("inf"), 1)]))


def test_ion_absolute_times_write_utc_dates():
    plan = ContactPlan(epoch=EPOCH, contacts=[Contact(1, 2, 0.5, 3600.0, 10.0, 0.2)])
    text = dumps_ion(plan, absolute_times=True)
    assert "a contact 2026/01/03-00:00:01 2026/01/03-01:00:00 1 2 10" in text
    assert "a range 2026/01/03-00:00:01 2026/01/03-01:00:00 1 2 1" in text
    assert loads_ion(text).contacts == [Contact(1, 2, 1.0, 3600.0, 10.0, 1.0)]
