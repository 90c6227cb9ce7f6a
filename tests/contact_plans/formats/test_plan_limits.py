"""Plan readers refuse non-finite and absurd numbers, and every error names the format the file was read as."""

from __future__ import annotations

import json

import pytest

from contact_plans.formats import loads_plan
from dtn.errors import PlanFormatError

EPOCH = "2026-01-03T00:00:00Z"


def _native(**contact) -> str:
    base = {"from_node": 1, "to_node": 2, "start_s": 0, "end_s": 60, "rate_bytes_per_s": 1000}
    base.update(contact)
    nodes = sorted({base["from_node"], base["to_node"]})
    return json.dumps(
        {
            "format": "spacedtn-contact-plan",
            "version": 1,
            "epoch_utc": EPOCH,
            "nodes": [{"number": n} for n in nodes],
            "contacts": [base],
        }
    )


def _hdtn(**contact) -> str:
    base = {"contact": 0, "source": 1, "dest": 2, "startTime": 0, "endTime": 60, "rateBitsPerSec": 8000, "owlt": 0}
    base.update(contact)
    return json.dumps({"contacts": [base]})


@pytest.mark.parametrize(
    "text, words",
    [
        (_hdtn(rateBitsPerSec=1e300), ["rate", "HDTN JSON (detected from the content)"]),
        (_native(from_node=2**64), ["2**64", "spacedtn JSON"]),
        (_native(rate_bytes_per_s=1e16), ["1 PB/s", "spacedtn JSON"]),
        (_native(end_s=1e12), ["within", "spacedtn JSON"]),
        (_native(owlt_s=1e9), ["above one year", "spacedtn JSON"]),
        ("a contact +0 +60 1 2 1e300\n", ["rate", "ION commands (detected from the content)"]),
        ("a contact +0 +60 1 2 nan\n", ["ION commands"]),
        ("[]", ["neither a spacedtn plan", "HDTN", "detected JSON"]),
        ("[1, 2", ["JSON (detected from the first character)"]),
        ("42", ["ION commands"]),
    ],
)
def test_refused_with_the_format_named(text, words):
    with pytest.raises(PlanFormatError) as info:
        loads_plan(text, source="plan.txt")
    for word in words:
        assert word in str(info.value), str(info.value)


def test_format_given_is_named_as_asked():
    with pytest.raises(PlanFormatError, match=r"read as HDTN JSON \(as asked\)"):
        loads_plan(_hdtn(rateBitsPerSec=float("inf")).replace("Infinity", "1e999"), fmt="hdtn")


def test_sane_plans_still_load():
    assert len(loads_plan(_native()).contacts) == 1
    assert len(loads_plan(_hdtn()).contacts) == 1
