"""Helpers shared by the plan format modules: number checks, epoch text, node (de)serialisation, quantising."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from contact_plans.model import Contact, ContactPlan, Node, NodeKind
from dtn.errors import PlanError, PlanFormatError

# A plan file larger than this is refused before it is read (bounded memory for hostile input).
MAX_PLAN_BYTES = 512 * 1024 * 1024

# Tolerance for deciding that a float is a whole number of seconds (floating-point noise from arithmetic).
WHOLE_TOLERANCE = 1e-6

NODE_KINDS = {k.value: k for k in NodeKind}


def epoch_text(epoch: dt.datetime) -> str:
    """ISO 8601 UTC with a trailing Z, microseconds only when present: '2026-01-03T00:00:00Z'."""
    text = epoch.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()
    return text + "Z"


def parse_epoch(text: Any, *, file: str | None, where: str) -> dt.datetime:
    if not isinstance(text, str):
        raise PlanFormatError("epoch must be an ISO 8601 UTC string such as 2026-01-03T00:00:00Z", file, where)
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise PlanFormatError(f"invalid ISO 8601 time {text!r}", file, where) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value: Any, *, file: str | None, where: str) -> float | int:
    if not is_number(value):
        raise PlanFormatError(f"expected a number, got {value!r}", file, where)
    if isinstance(value, float) and not math.isfinite(value):
        raise PlanFormatError(f"expected a finite number, got {value!r}", file, where)
    return value


def whole_int(value: Any, *, file: str | None, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise PlanFormatError(f"expected an integer, got {value!r}", file, where)
    return value


# Bounds beyond which a number in a plan is a mistake, not a link: node numbers are CBOR unsigned 64-bit
# integers (RFC 9171 ipn scheme); no radio or laser link carries a petabyte per second; a plan spans less than
# a few centuries of seconds either side of its epoch; no one-way light time in the solar system reaches a year.
MAX_NODE_NUMBER = 2**64 - 1
MAX_RATE_BYTES_PER_S = 1e15
MAX_ABS_TIME_S = 1e10
MAX_OWLT_S = 365.25 * 86400


def contact_problem(c: Contact) -> str | None:
    """The first thing wrong with one contact on its own (non-finite or absurd numbers included), or None."""
    for name in ("start_s", "end_s", "rate_bytes_per_s", "owlt_s", "confidence"):
        value = getattr(c, name)
        if not math.isfinite(value):
            return f"{name} is {value!r}; a plan holds finite numbers only"
    if abs(c.start_s) > MAX_ABS_TIME_S or abs(c.end_s) > MAX_ABS_TIME_S:
        return f"times must lie within {MAX_ABS_TIME_S:.0e} s of the epoch"
    if c.rate_bytes_per_s > MAX_RATE_BYTES_PER_S:
        return f"rate {c.rate_bytes_per_s:.3g} bytes/s is above {MAX_RATE_BYTES_PER_S:.0e} bytes/s (1 PB/s)"
    if c.owlt_s > MAX_OWLT_S:
        return f"OWLT {c.owlt_s:.3g} s is above one year"
    if c.from_node > MAX_NODE_NUMBER or c.to_node > MAX_NODE_NUMBER:
        return "node numbers must be below 2**64"
    if not (c.end_s > c.start_s):
        return "end time must be after start time"
    if not (c.rate_bytes_per_s > 0):
        return "rate must be positive"
    if not (c.owlt_s >= 0):
        return "OWLT must be >= 0"
    if not (0.0 < c.confidence <= 1.0):
        return "confidence must be in (0, 1]"
    if c.from_node == c.to_node:
        return "a contact must join two different nodes"
    if c.from_node < 0 or c.to_node < 0:
        return "node numbers must be >= 0"
    return None


def check_plan_writable(plan: ContactPlan) -> None:
    """Refuse to write a plan whose values no format can hold (NaN, infinities)."""
    for i, c in enumerate(plan.contacts):
        for name in ("start_s", "end_s", "rate_bytes_per_s", "owlt_s", "confidence"):
            value = getattr(c, name)
            if not math.isfinite(value):
                raise PlanError(f"contact {i}: {name} is {value!r}; plan files hold finite numbers only")


def node_to_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"number": node.number, "name": node.name, "kind": NodeKind(node.kind).value}
    if node.metadata:
        out["metadata"] = node.metadata
    return out


def node_from_json(obj: Any, *, file: str | None, where: str) -> Node:
    if not isinstance(obj, dict):
        raise PlanFormatError("a node must be an object", file, where)
    unknown = sorted(set(obj) - {"number", "name", "kind", "metadata"})
    if unknown:
        raise PlanFormatError(f"unknown node field {unknown[0]!r}", file, f"{where}.{unknown[0]}")
    if "number" not in obj:
        raise PlanFormatError("missing node field 'number'", file, where)
    number = whole_int(obj["number"], file=file, where=f"{where}.number")
    if number < 0 or number > MAX_NODE_NUMBER:
        raise PlanFormatError("node number must be in 0..2**64-1", file, f"{where}.number")
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise PlanFormatError("node name must be a string", file, f"{where}.name")
    kind_text = obj.get("kind", NodeKind.SATELLITE.value)
    if kind_text not in NODE_KINDS:
        raise PlanFormatError(
            f"unknown node kind {kind_text!r} (one of {', '.join(NODE_KINDS)})", file, f"{where}.kind"
        )
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise PlanFormatError("node metadata must be an object", file, f"{where}.metadata")
    return Node(number=number, name=name, kind=NODE_KINDS[kind_text], metadata=metadata)


def number_text(value: float) -> str:
    """Shortest exact text for a number: integers without a decimal point, other floats by repr."""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def json_number(value: float) -> int | float:
    """An int when the value is whole (so files stay integer where the peer expects integers)."""
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return float(value)


def quantize_contact(c: Contact) -> tuple[int, int, int, int] | None:
    """Whole-second, whole-byte values for peers that parse integers: the window shrinks inward (start up,
    end down), OWLT rounds up, rate rounds down (never below 1 byte/s). None if nothing is left."""
    start = math.ceil(c.start_s - WHOLE_TOLERANCE)
    end = math.floor(c.end_s + WHOLE_TOLERANCE)
    if end <= start:
        return None
    owlt = math.ceil(c.owlt_s - WHOLE_TOLERANCE)
    rate = max(1, math.floor(c.rate_bytes_per_s + WHOLE_TOLERANCE))
    return start, end, owlt, rate
