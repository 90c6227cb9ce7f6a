"""HDTN contact plan JSON: a `contacts` list of objects

    {"contact": 0, "source": 10, "dest": 20, "startTime": 0, "endTime": 600, "rateBitsPerSec": 100000000, "owlt": 1}

`startTime`/`endTime` are seconds relative to the start of the plan, `rateBitsPerSec` is in BITS per second
(spacedtn's model holds bytes per second: bytes = bits / 8, exactly) and `owlt` is in seconds. HDTN parses these
fields as integers, so `dumps_hdtn(whole_seconds=True)` (the default) writes integers (window shrunk inward,
OWLT rounded up, rate rounded down); `whole_seconds=False` writes exact decimals for lossless round trips.

An optional `confidence` per contact and a top-level `spacedtn` object (plan `name`, `epoch_utc`, `nodes`) are
spacedtn extensions; HDTN ignores unknown keys, and spacedtn reads them back when present.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from contact_plans.formats._common import (
    WHOLE_TOLERANCE,
    check_plan_writable,
    contact_problem,
    epoch_text,
    finite_number,
    json_number,
    node_from_json,
    node_to_json,
    parse_epoch,
    quantize_contact,
    whole_int,
)
from contact_plans.formats.native import parse_json_text
from contact_plans.model import Contact, ContactPlan
from dtn.errors import PlanFormatError

BITS_PER_BYTE = 8
_FIELDS = {
    "contact",
    "source",
    "dest",
    "startTime",
    "endTime",
    "rateBitsPerSec",
    "owlt",
    "confidence",
    "finalDestination",
}
_REQUIRED = ("source", "dest", "startTime", "endTime", "rateBitsPerSec")


def is_hdtn(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("contacts"), list) and "version" not in obj


def dumps_hdtn(plan: ContactPlan, *, whole_seconds: bool = True) -> str:
    """The plan as HDTN contact-plan JSON, one contact per line."""
    check_plan_writable(plan)
    rows: list[dict[str, Any]] = []
    for c in plan.contacts:
        if whole_seconds:
            q = quantize_contact(c)
            if q is None:
                continue
            start, end, owlt, _rate_bytes = q
            rate_bits: int | float = max(1, math.floor(c.rate_bytes_per_s * BITS_PER_BYTE + WHOLE_TOLERANCE))
        else:
            start, end, owlt = json_number(c.start_s), json_number(c.end_s), json_number(c.owlt_s)
            rate_bits = json_number(c.rate_bytes_per_s * BITS_PER_BYTE)
        row: dict[str, Any] = {
            "contact": len(rows),
            "source": c.from_node,
            "dest": c.to_node,
            "startTime": start,
            "endTime": end,
            "rateBitsPerSec": rate_bits,
            "owlt": owlt,
        }
        if c.confidence != 1.0:
            row["confidence"] = json_number(c.confidence)
        rows.append(row)
    extension = {"name": plan.name, "epoch_utc": epoch_text(plan.epoch), "nodes": [node_to_json(n) for n in plan.nodes]}
    body = ",\n".join(f"    {json.dumps(r, allow_nan=False)}" for r in rows)
    return (
        "{\n"
        f'  "spacedtn": {json.dumps(extension, allow_nan=False)},\n'
        '  "contacts": [\n' + (body + "\n" if body else "") + "  ]\n}\n"
    )


def loads_hdtn(text: str, *, source: str | None = None, epoch: dt.datetime | None = None) -> ContactPlan:
    """Parse HDTN contact-plan JSON. The epoch is the `spacedtn.epoch_utc` extension, else `epoch`, else
    2000-01-01T00:00:00Z."""
    return plan_from_hdtn_obj(parse_json_text(text, source=source), source=source, epoch=epoch)


def plan_from_hdtn_obj(obj: Any, *, source: str | None = None, epoch: dt.datetime | None = None) -> ContactPlan:
    if not isinstance(obj, dict) or "contacts" not in obj:
        raise PlanFormatError("an HDTN plan is a JSON object with a 'contacts' list", source, "$")
    rows = obj["contacts"]
    if not isinstance(rows, list):
        raise PlanFormatError("'contacts' must be a list", source, "$.contacts")
    name = ""
    nodes = []
    ext = obj.get("spacedtn")
    if ext is not None:
        if not isinstance(ext, dict):
            raise PlanFormatError("'spacedtn' must be an object", source, "$.spacedtn")
        name = ext.get("name", "")
        if not isinstance(name, str):
            raise PlanFormatError("name must be a string", source, "$.spacedtn.name")
        if "epoch_utc" in ext:
            epoch = parse_epoch(ext["epoch_utc"], file=source, where="$.spacedtn.epoch_utc")
        ext_nodes = ext.get("nodes", [])
        if not isinstance(ext_nodes, list):
            raise PlanFormatError("nodes must be a list", source, "$.spacedtn.nodes")
        nodes = [node_from_json(n, file=source, where=f"$.spacedtn.nodes[{i}]") for i, n in enumerate(ext_nodes)]
    known = {n.number for n in nodes}
    if len(known) != len(nodes):
        raise PlanFormatError("a node number is defined twice", source, "$.spacedtn.nodes")
    contacts = []
    for i, row in enumerate(rows):
        where = f"$.contacts[{i}]"
        if not isinstance(row, dict):
            raise PlanFormatError("a contact must be an object", source, where)
        unknown = sorted(set(row) - _FIELDS)
        if unknown:
            raise PlanFormatError(f"unknown contact field {unknown[0]!r}", source, f"{where}.{unknown[0]}")
        for key in _REQUIRED:
            if key not in row:
                hint = " (HDTN rates are 'rateBitsPerSec', in bits per second)" if key == "rateBitsPerSec" else ""
                raise PlanFormatError(f"missing contact field {key!r}{hint}", source, where)
        source_node = whole_int(row["source"], file=source, where=f"{where}.source")
        dest_node = whole_int(row["dest"], file=source, where=f"{where}.dest")
        for key, number in (("source", source_node), ("dest", dest_node)):
            if known and number not in known:
                raise PlanFormatError(f"unknown node {number}", source, f"{where}.{key}")
        start = finite_number(row["startTime"], file=source, where=f"{where}.startTime")
        end = finite_number(row["endTime"], file=source, where=f"{where}.endTime")
        rate_bits = finite_number(row["rateBitsPerSec"], file=source, where=f"{where}.rateBitsPerSec")
        owlt = finite_number(row.get("owlt", 0), file=source, where=f"{where}.owlt")
        confidence = finite_number(row.get("confidence", 1.0), file=source, where=f"{where}.confidence")
        if "contact" in row:
            whole_int(row["contact"], file=source, where=f"{where}.contact")
        contact = Contact(source_node, dest_node, start, end, rate_bits / BITS_PER_BYTE, owlt, confidence)
        problem = contact_problem(contact)
        if problem:
            raise PlanFormatError(problem, source, where)
        contacts.append(contact)
    kwargs = {} if epoch is None else {"epoch": epoch}
    return ContactPlan(nodes=nodes, contacts=contacts, name=name, **kwargs).ensure_nodes()
