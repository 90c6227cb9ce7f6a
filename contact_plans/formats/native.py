"""Native spacedtn contact plan JSON (format "spacedtn-contact-plan", version 1).

Schema (every unit is in the field name; times are seconds relative to `epoch_utc`)::

    {
      "format": "spacedtn-contact-plan",
      "version": 1,
      "name": "milsca",
      "epoch_utc": "2026-01-03T00:00:00Z",
      "nodes": [{"number": 1, "name": "Fucino", "kind": "ground", "metadata": {"lat_deg": 41.9777}}],
      "contacts": [{"from_node": 1, "to_node": 100, "start_s": 12.5, "end_s": 530.25,
                    "rate_bytes_per_s": 12500000, "owlt_s": 0.0093, "confidence": 1.0}]
    }

`owlt_s` defaults to 0 and `confidence` to 1 when absent. Unknown fields are errors (a misspelt unit such as
`rate_bits_per_s` must not be silently ignored). Numbers are written with Python's shortest exact repr, so a
plan round-trips bit for bit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from contact_plans.formats._common import (
    check_plan_writable,
    contact_problem,
    epoch_text,
    finite_number,
    json_number,
    node_from_json,
    node_to_json,
    parse_epoch,
    whole_int,
)
from contact_plans.model import Contact, ContactPlan
from dtn.errors import PlanFormatError

FORMAT_NAME = "spacedtn-contact-plan"
VERSION = 1

_CONTACT_FIELDS = ("from_node", "to_node", "start_s", "end_s", "rate_bytes_per_s", "owlt_s", "confidence")
_REQUIRED = ("from_node", "to_node", "start_s", "end_s", "rate_bytes_per_s")
_TOP_FIELDS = {"format", "version", "name", "epoch_utc", "nodes", "contacts"}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_text(text: str, *, source: str | None) -> Any:
    """json.loads with errors as PlanFormatError (line and column) and NaN/Infinity refused."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PlanFormatError(f"invalid JSON: {exc.msg}", source, f"line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        where = "$"
        match = re.search(r"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])", text)
        if match:  # point at the offending constant
            line = text.count("\n", 0, match.start()) + 1
            where = f"line {line} column {match.start() - (text.rfind(chr(10), 0, match.start()) + 1) + 1}"
        raise PlanFormatError(f"invalid JSON: {exc}", source, where) from None


def is_native(obj: Any) -> bool:
    return isinstance(obj, dict) and "version" in obj and obj.get("format", FORMAT_NAME) == FORMAT_NAME


def dumps_json(plan: ContactPlan, *, indent: int | None = None) -> str:
    """The plan as native JSON text. One contact per line unless `indent` is given."""
    check_plan_writable(plan)
    head = {
        "format": FORMAT_NAME,
        "version": VERSION,
        "name": plan.name,
        "epoch_utc": epoch_text(plan.epoch),
        "nodes": [node_to_json(n) for n in plan.nodes],
    }
    contacts = [
        {
            "from_node": c.from_node,
            "to_node": c.to_node,
            "start_s": json_number(c.start_s),
            "end_s": json_number(c.end_s),
            "rate_bytes_per_s": json_number(c.rate_bytes_per_s),
            "owlt_s": json_number(c.owlt_s),
            "confidence": json_number(c.confidence),
        }
        for c in plan.contacts
    ]
    if indent is not None:
        return json.dumps({**head, "contacts": contacts}, indent=indent, allow_nan=False) + "\n"
    # Compact but diff-friendly: the header on its own lines, then one contact per line.
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)},")
    lines.append('  "contacts": [')
    body = [f"    {json.dumps(c, allow_nan=False)}" for c in contacts]
    if body:
        lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def loads_json(text: str, *, source: str | None = None) -> ContactPlan:
    """Parse native JSON text. Errors name `source`, the JSON path and the reason."""
    return plan_from_obj(parse_json_text(text, source=source), source=source)


def plan_from_obj(obj: Any, *, source: str | None = None) -> ContactPlan:
    if not isinstance(obj, dict):
        raise PlanFormatError("a spacedtn plan must be a JSON object", source, "$")
    fmt = obj.get("format", FORMAT_NAME)
    if fmt != FORMAT_NAME:
        raise PlanFormatError(f"unknown format {fmt!r} (expected {FORMAT_NAME!r})", source, "$.format")
    if "version" not in obj:
        raise PlanFormatError("missing 'version'", source, "$")
    version = obj["version"]
    if version != VERSION or isinstance(version, bool):
        raise PlanFormatError(f"unsupported version {version!r} (this reader knows {VERSION})", source, "$.version")
    unknown = sorted(set(obj) - _TOP_FIELDS)
    if unknown:
        raise PlanFormatError(f"unknown field {unknown[0]!r}", source, f"$.{unknown[0]}")
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise PlanFormatError("name must be a string", source, "$.name")
    if "epoch_utc" not in obj:
        raise PlanFormatError("missing 'epoch_utc'", source, "$")
    epoch = parse_epoch(obj["epoch_utc"], file=source, where="$.epoch_utc")
    nodes_obj = obj.get("nodes", [])
    if not isinstance(nodes_obj, list):
        raise PlanFormatError("nodes must be a list", source, "$.nodes")
    nodes = [node_from_json(n, file=source, where=f"$.nodes[{i}]") for i, n in enumerate(nodes_obj)]
    seen: dict[int, int] = {}
    for i, node in enumerate(nodes):
        if node.number in seen:
            raise PlanFormatError(
                f"node {node.number} is defined twice (also at $.nodes[{seen[node.number]}])",
                source,
                f"$.nodes[{i}].number",
            )
        seen[node.number] = i
    contacts_obj = obj.get("contacts", [])
    if not isinstance(contacts_obj, list):
        raise PlanFormatError("contacts must be a list", source, "$.contacts")
    contacts = [
        contact_from_obj(c, source=source, where=f"$.contacts[{i}]", known=seen) for i, c in enumerate(contacts_obj)
    ]
    return ContactPlan(epoch=epoch, nodes=nodes, contacts=contacts, name=name)


def contact_from_obj(obj: Any, *, source: str | None, where: str, known: dict[int, int]) -> Contact:
    if not isinstance(obj, dict):
        raise PlanFormatError("a contact must be an object", source, where)
    unknown = sorted(set(obj) - set(_CONTACT_FIELDS))
    if unknown:
        raise PlanFormatError(f"unknown contact field {unknown[0]!r}", source, f"{where}.{unknown[0]}")
    for key in _REQUIRED:
        if key not in obj:
            raise PlanFormatError(f"missing contact field {key!r}", source, where)
    values: dict[str, Any] = {}
    for key in ("from_node", "to_node"):
        values[key] = whole_int(obj[key], file=source, where=f"{where}.{key}")
        if known and values[key] not in known:
            raise PlanFormatError(f"unknown node {values[key]}", source, f"{where}.{key}")
    for key in ("start_s", "end_s", "rate_bytes_per_s", "owlt_s", "confidence"):
        if key in obj:
            values[key] = finite_number(obj[key], file=source, where=f"{where}.{key}")
    contact = Contact(**values)
    problem = contact_problem(contact)
    if problem:
        raise PlanFormatError(problem, source, where)
    return contact
