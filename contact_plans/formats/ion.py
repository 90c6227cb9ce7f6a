"""ION contact plans: the `a contact` / `a range` commands of ionadmin (ionrc(5)).

    a contact <from time> <until time> <from node> <to node> <rate, bytes/s> [<confidence>]
    a range   <from time> <until time> <from node> <to node> <OWLT, whole light seconds>

Times are relative (`+ss`, seconds after the reference time) or absolute (`yyyy/mm/dd-hh:mm:ss`, UTC). The
`@ <time>` command moves the reference time; without one, relative times count from the plan epoch (ION counts
them from the moment ionadmin starts). A range applies in both directions unless a reverse range is given, so a
contact takes its OWLT from the range of its own direction, else from the reverse one, else 0.

ION itself parses times, rates and OWLTs as integers. `dumps_ion(whole_seconds=True)` (the default) writes
integers, shrinking each window inward (start rounded up, end down), OWLT rounded up and rate rounded down;
`whole_seconds=False` writes exact decimals (`+12.25`) that only spacedtn reads back, for lossless round trips.

Other ionadmin commands that do not change the plan (`1`, `s`, `x`, `m ...`, `e`, `v`, `^`, `l`, `i`, `h`, `?`,
`q`, `w`, `r`) are accepted and ignored; hypothetical (`0`) and registration (`-1`) contacts are ignored; `c`
and `d` (change, delete) are refused. spacedtn writes the plan epoch, name and nodes as `# spacedtn-plan` and
`# spacedtn-node` comment lines (ION ignores comments), and reads them back when present.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import re
from dataclasses import dataclass

from contact_plans.formats._common import (
    check_plan_writable,
    contact_problem,
    epoch_text,
    node_from_json,
    node_to_json,
    number_text,
    parse_epoch,
    quantize_contact,
)
from contact_plans.model import Contact, ContactPlan, Node
from dtn.errors import PlanError, PlanFormatError

_ABSOLUTE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})-(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_RELATIVE = re.compile(r"^\+((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)$")
_DECIMAL = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_IGNORED = {"1", "s", "x", "m", "e", "v", "^", "l", "i", "h", "?", "q", "w", "r"}
_DEFAULT_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_PLAN_TAG = "# spacedtn-plan "
_NODE_TAG = "# spacedtn-node "


@dataclass(frozen=True, slots=True)
class _Range:
    start_s: float
    end_s: float
    owlt_s: float
    line: int


def _absolute(token: str) -> dt.datetime | None:
    match = _ABSOLUTE.match(token)
    if not match:
        return None
    y, mo, d, h, mi = (int(match.group(i)) for i in range(1, 6))
    sec = float(match.group(6))
    try:
        base = dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    if sec >= 61:
        return None
    return base + dt.timedelta(seconds=sec)


def loads_ion(text: str, *, source: str | None = None, epoch: dt.datetime | None = None) -> ContactPlan:
    """Parse ionadmin contact-plan commands. The plan epoch is, in order: a `# spacedtn-plan` comment, the
    `epoch` argument, the first absolute `@` time, the earliest absolute contact/range time, 2000-01-01."""
    lines: list[tuple[int, list[str]]] = []
    header: dict | None = None
    nodes: list[Node] = []
    node_lines: dict[int, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if raw.startswith(_PLAN_TAG) or raw.startswith(_NODE_TAG):
                tag = _PLAN_TAG if raw.startswith(_PLAN_TAG) else _NODE_TAG
                try:
                    obj = json.loads(raw[len(tag) :])
                except ValueError as exc:
                    raise PlanFormatError(f"invalid JSON in {tag.strip()!r} comment: {exc}", source, lineno) from None
                if tag == _PLAN_TAG:
                    if not isinstance(obj, dict):
                        raise PlanFormatError("spacedtn-plan comment must hold a JSON object", source, lineno)
                    header = obj
                    header["_line"] = lineno
                else:
                    node = node_from_json(obj, file=source, where=f"line {lineno}")
                    if node.number in node_lines:
                        raise PlanFormatError(
                            f"node {node.number} is defined twice (also on line {node_lines[node.number]})",
                            source,
                            lineno,
                        )
                    node_lines[node.number] = lineno
                    nodes.append(node)
            continue
        lines.append((lineno, line.split()))

    name = ""
    if header is not None:
        name = header.get("name", "")
        if not isinstance(name, str):
            raise PlanFormatError("plan name must be a string", source, header["_line"])
        if "epoch_utc" in header:
            epoch = parse_epoch(header["epoch_utc"], file=source, where=f"line {header['_line']}")
    if epoch is None:
        epoch = _find_epoch(lines)
    epoch = epoch.astimezone(dt.timezone.utc) if epoch.tzinfo else epoch.replace(tzinfo=dt.timezone.utc)

    reference_s = 0.0  # the `@` reference time, in plan seconds

    def plan_time(token: str, lineno: int, what: str) -> float:
        rel = _RELATIVE.match(token)
        if rel:
            return reference_s + float(rel.group(1))
        absolute = _absolute(token)
        if absolute is not None:
            return (absolute - epoch).total_seconds()
        raise PlanFormatError(f"invalid {what} {token!r} (expected +seconds or yyyy/mm/dd-hh:mm:ss)", source, lineno)

    def node_number(token: str, lineno: int, what: str) -> int:
        if not token.isdigit() or int(token) <= 0:
            raise PlanFormatError(f"invalid {what} node number {token!r} (a positive integer)", source, lineno)
        return int(token)

    def decimal(token: str, lineno: int, what: str) -> float:
        if not _DECIMAL.match(token):
            raise PlanFormatError(f"invalid {what} {token!r} (a non-negative number)", source, lineno)
        value = float(token)
        if not math.isfinite(value):
            raise PlanFormatError(f"invalid {what} {token!r}", source, lineno)
        return value

    contacts: list[tuple[Contact, int]] = []
    ranges: dict[tuple[int, int], list[_Range]] = {}
    for lineno, tokens in lines:
        command = tokens[0]
        if command == "@":
            if len(tokens) != 2:
                raise PlanFormatError("'@' takes one time argument", source, lineno)
            reference_s = 0.0 if tokens[1] == "0" else plan_time(tokens[1], lineno, "reference time")
            continue
        if command in _IGNORED:
            continue
        if command in ("c", "d"):
            raise PlanFormatError(
                f"command {command!r} (change/delete) is not supported in a plan file; write the final plan",
                source,
                lineno,
            )
        if command != "a":
            raise PlanFormatError(f"unknown ionadmin command {command!r}", source, lineno)
        if len(tokens) < 2 or tokens[1] not in ("contact", "range"):
            raise PlanFormatError("expected 'a contact ...' or 'a range ...'", source, lineno)
        kind = tokens[1]
        if kind == "contact" and len(tokens) not in (7, 8):
            raise PlanFormatError(
                f"'a contact' takes 5 or 6 arguments (from until from_node to_node rate [confidence]), "
                f"got {len(tokens) - 2}",
                source,
                lineno,
            )
        if kind == "range" and len(tokens) != 7:
            raise PlanFormatError(
                f"'a range' takes 5 arguments (from until from_node to_node owlt), got {len(tokens) - 2}",
                source,
                lineno,
            )
        if kind == "contact" and (tokens[2] == "-1" or tokens[2].startswith("0")):
            continue  # hypothetical or registration contact: not a scheduled link
        start_s = plan_time(tokens[2], lineno, "start time")
        end_s = plan_time(tokens[3], lineno, "end time")
        from_node = node_number(tokens[4], lineno, "from")
        to_node = node_number(tokens[5], lineno, "to")
        if not end_s > start_s:
            raise PlanFormatError("end time must be after start time", source, lineno)
        if kind == "range":
            owlt_s = decimal(tokens[6], lineno, "OWLT")
            ranges.setdefault((from_node, to_node), []).append(_Range(start_s, end_s, owlt_s, lineno))
            continue
        rate = decimal(tokens[6], lineno, "rate")
        confidence = decimal(tokens[7], lineno, "confidence") if len(tokens) == 8 else 1.0
        contact = Contact(from_node, to_node, start_s, end_s, rate, 0.0, confidence)
        problem = contact_problem(contact)
        if problem:
            raise PlanFormatError(problem, source, lineno)
        if node_lines and (from_node not in node_lines or to_node not in node_lines):
            missing = from_node if from_node not in node_lines else to_node
            raise PlanFormatError(f"node {missing} has no spacedtn-node line", source, lineno)
        contacts.append((contact, lineno))

    exact: dict[tuple[int, int, float, float], float] = {}
    starts: dict[tuple[int, int], list[float]] = {}
    for pair, items in ranges.items():
        items.sort(key=lambda r: (r.start_s, r.end_s))
        starts[pair] = [r.start_s for r in items]
        for r in items:
            exact.setdefault((pair[0], pair[1], r.start_s, r.end_s), r.owlt_s)

    def covering(pair: tuple[int, int], t_s: float) -> float | None:
        items = ranges.get(pair)
        if not items:
            return None
        i = bisect.bisect_right(starts[pair], t_s) - 1
        while i >= 0:
            if items[i].end_s > t_s:
                return items[i].owlt_s
            i -= 1
        return None

    out: list[Contact] = []
    seen: dict[tuple[int, int, float, float], int] = {}
    for contact, lineno in contacts:
        f, t, s, e = contact.from_node, contact.to_node, contact.start_s, contact.end_s
        key = (f, t, s, e)
        if key in seen:
            raise PlanFormatError(f"duplicate contact (first on line {seen[key]})", source, lineno)
        seen[key] = lineno
        owlt = exact.get(key)
        if owlt is None:
            owlt = exact.get((t, f, s, e))
        if owlt is None:
            owlt = covering((f, t), s)
        if owlt is None:
            owlt = covering((t, f), s)
        out.append(Contact(f, t, s, e, contact.rate_bytes_per_s, owlt or 0.0, contact.confidence))
    plan = ContactPlan(epoch=epoch, nodes=nodes, contacts=out, name=name)
    return plan.ensure_nodes()


def _find_epoch(lines: list[tuple[int, list[str]]]) -> dt.datetime:
    earliest: dt.datetime | None = None
    for _lineno, tokens in lines:
        if tokens[0] == "@" and len(tokens) == 2:
            absolute = _absolute(tokens[1])
            if absolute is not None:
                return absolute
        if tokens[0] == "a" and len(tokens) >= 4:
            for token in tokens[2:4]:
                absolute = _absolute(token)
                if absolute is not None and (earliest is None or absolute < earliest):
                    earliest = absolute
    return earliest if earliest is not None else _DEFAULT_EPOCH


def dumps_ion(plan: ContactPlan, *, whole_seconds: bool = True, absolute_times: bool = False) -> str:
    """The plan as ionadmin commands: one `a contact` per contact, each followed by its `a range` (a range is
    written once for a pair of reverse contacts with equal windows and OWLT, since ION applies it both ways).
    `absolute_times` writes yyyy/mm/dd-hh:mm:ss instead of +seconds (requires `whole_seconds`)."""
    check_plan_writable(plan)
    if absolute_times and not whole_seconds:
        raise PlanError("absolute ION times are whole seconds: use whole_seconds=True with absolute_times")
    epoch_unix_s = (plan.epoch - _UNIX_EPOCH).total_seconds()
    out = [
        f"# spacedtn contact plan {plan.name!r} as ionadmin commands (ionrc): rates in bytes/s, OWLT in seconds.",
        f"# Relative times (+s) count from the plan epoch {epoch_text(plan.epoch)}; ionadmin counts them from",
        "# its start unless an '@ yyyy/mm/dd-hh:mm:ss' command sets the reference time.",
        _PLAN_TAG + json.dumps({"name": plan.name, "epoch_utc": epoch_text(plan.epoch)}),
    ]
    out.extend(_NODE_TAG + json.dumps(node_to_json(n), sort_keys=False) for n in plan.nodes)
    written_ranges: set[tuple[int, int, str, str, str]] = set()
    for c in plan.contacts:
        if whole_seconds:
            shift = epoch_unix_s if absolute_times else 0.0
            q = quantize_contact(
                Contact(
                    c.from_node,
                    c.to_node,
                    c.start_s + shift,
                    c.end_s + shift,
                    c.rate_bytes_per_s,
                    c.owlt_s,
                    c.confidence,
                )
            )
            if q is None:
                continue
            start, end, owlt, rate = q
            if absolute_times:
                start_text = f"{dt.datetime.fromtimestamp(start, dt.timezone.utc):%Y/%m/%d-%H:%M:%S}"
                end_text = f"{dt.datetime.fromtimestamp(end, dt.timezone.utc):%Y/%m/%d-%H:%M:%S}"
            else:
                start_text, end_text = f"+{start}", f"+{end}"
            owlt_text, rate_text = str(owlt), str(rate)
        else:
            if c.start_s < 0:
                raise PlanError("ION relative times cannot be negative: shift the plan (start_s < 0)")
            start_text, end_text = f"+{number_text(c.start_s)}", f"+{number_text(c.end_s)}"
            owlt_text, rate_text = number_text(c.owlt_s), number_text(c.rate_bytes_per_s)
        if start_text.startswith("+-"):
            raise PlanError("ION relative times cannot be negative: shift the plan (start_s < 0)")
        line = f"a contact {start_text} {end_text} {c.from_node} {c.to_node} {rate_text}"
        if c.confidence != 1.0:
            line += f" {number_text(c.confidence)}"
        out.append(line)
        key = (c.from_node, c.to_node, start_text, end_text, owlt_text)
        reverse = (c.to_node, c.from_node, start_text, end_text, owlt_text)
        if key not in written_ranges and reverse not in written_ranges:
            out.append(f"a range {start_text} {end_text} {c.from_node} {c.to_node} {owlt_text}")
            written_ranges.add(key)
    return "\n".join(out) + "\n"


__all__ = ["loads_ion", "dumps_ion"]
