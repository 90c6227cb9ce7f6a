"""Contact plan file formats: native JSON, ION ionadmin commands, HDTN JSON.

    plan = load_plan("plan.json")                  # format detected from the content
    save_plan(plan, "plan.ionrc", fmt="ion")       # or "json" (native), "hdtn"

Detection: a JSON object with a `version` field is native spacedtn JSON; a JSON object with a `contacts` list
is HDTN JSON; other JSON (an array, a number) is refused as JSON; anything else is read as ION commands. Every
parser raises `dtn.errors.PlanFormatError` naming the file, the line (ION, JSON syntax) or JSON path (JSON
structure), the reason, and the format it read the file as (and whether that was detected or given).
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from typing import Literal

from contact_plans.formats._common import MAX_PLAN_BYTES
from contact_plans.formats.hdtn import dumps_hdtn, is_hdtn, loads_hdtn, plan_from_hdtn_obj  # noqa: F401 (public)
from contact_plans.formats.ion import dumps_ion, loads_ion
from contact_plans.formats.native import (  # noqa: F401 (public)
    dumps_json,
    is_native,
    loads_json,
    parse_json_text,
    plan_from_obj,
)
from contact_plans.model import ContactPlan
from dtn.errors import PlanError, PlanFormatError

FORMATS = ("json", "ion", "hdtn")
PlanFormat = Literal["json", "ion", "hdtn"]

# File name endings suggested for each format (used by `dtn plan convert` when no -o is given).
EXTENSIONS = {"json": ".json", "ion": ".ionrc", "hdtn": ".hdtn.json"}


def detect_format(text: str) -> PlanFormat:
    """'json', 'hdtn' or 'ion' from the content (see the module docstring)."""
    head = text.lstrip()
    if not head.startswith(("{", "[")):
        return "ion"
    try:
        obj = parse_json_text(text, source=None)
    except PlanFormatError:
        return "json"  # a broken JSON file: report JSON syntax errors, not ION ones
    if is_native(obj):
        return "json"
    if is_hdtn(obj):
        return "hdtn"
    return "json"


FORMAT_NAMES = {"json": "spacedtn JSON", "ion": "ION commands", "hdtn": "HDTN JSON"}


def loads_plan(
    text: str, *, source: str | None = None, fmt: PlanFormat | None = None, epoch: dt.datetime | None = None
) -> ContactPlan:
    """Parse plan text in `fmt` (detected when None). `epoch` is used by ION/HDTN text that carries none.
    An error says which format the text was read as, and whether that was detected or given."""
    detected = fmt is None
    if fmt is None:
        head = text.lstrip()
        if head.startswith(("{", "[")):
            try:
                obj = parse_json_text(text, source=source)
            except PlanFormatError as exc:
                raise _tried(exc, "JSON (detected from the first character)") from None
            if isinstance(obj, dict) and is_native(obj):
                fmt = "json"
            elif isinstance(obj, dict) and is_hdtn(obj):
                fmt = "hdtn"
            else:
                raise PlanFormatError(
                    "JSON that is neither a spacedtn plan (an object with 'version') nor an HDTN plan (an object "
                    "with a 'contacts' list); tried both, detected JSON from the first character",
                    source,
                    "$",
                )
        else:
            fmt = "ion"
    if fmt not in FORMATS:
        raise PlanError(f"unknown plan format {fmt!r} (one of {', '.join(FORMATS)})")
    how = "detected from the content" if detected else "as asked"
    try:
        if fmt == "json":
            return loads_json(text, source=source)
        if fmt == "hdtn":
            return loads_hdtn(text, source=source, epoch=epoch)
        return loads_ion(text, source=source, epoch=epoch)
    except PlanFormatError as exc:
        raise _tried(exc, f"{FORMAT_NAMES[fmt]} ({how})") from None


def _tried(exc: PlanFormatError, what: str) -> PlanFormatError:
    return PlanFormatError(f"{exc.reason} [read as {what}]", exc.file, exc.where)


def load_plan(
    path: str | os.PathLike, *, fmt: PlanFormat | None = None, epoch: dt.datetime | None = None
) -> ContactPlan:
    """Read a plan file in any supported format (detected from the content unless `fmt` is given)."""
    path = pathlib.Path(path)
    size = path.stat().st_size
    if size > MAX_PLAN_BYTES:
        raise PlanFormatError(f"file is {size} bytes; plan files are limited to {MAX_PLAN_BYTES}", str(path))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanFormatError("not UTF-8 text", str(path), line) from None
    if "\x00" in text:
        raise PlanFormatError(
            "binary data (NUL byte) in a plan file", str(path), text[: text.index("\x00")].count("\n") + 1
        )
    return loads_plan(text, source=str(path), fmt=fmt, epoch=epoch)


def dumps_plan(
    plan: ContactPlan, fmt: PlanFormat = "json", *, whole_seconds: bool = True, absolute_times: bool = False
) -> str:
    """Plan text in `fmt`. `whole_seconds`/`absolute_times` apply to the peer formats (ION, HDTN)."""
    if fmt == "json":
        return dumps_json(plan)
    if fmt == "ion":
        return dumps_ion(plan, whole_seconds=whole_seconds, absolute_times=absolute_times)
    if fmt == "hdtn":
        if absolute_times:
            raise PlanError("HDTN plans have relative times only")
        return dumps_hdtn(plan, whole_seconds=whole_seconds)
    raise PlanError(f"unknown plan format {fmt!r} (one of {', '.join(FORMATS)})")


def save_plan(
    plan: ContactPlan,
    path: str | os.PathLike,
    fmt: PlanFormat = "json",
    *,
    whole_seconds: bool = True,
    absolute_times: bool = False,
) -> None:
    """Write a plan file in `fmt` ('json', 'ion' or 'hdtn'); written to a temporary name, then renamed."""
    text = dumps_plan(plan, fmt, whole_seconds=whole_seconds, absolute_times=absolute_times)
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "FORMATS",
    "EXTENSIONS",
    "detect_format",
    "load_plan",
    "loads_plan",
    "save_plan",
    "dumps_plan",
    "loads_json",
    "dumps_json",
    "loads_ion",
    "dumps_ion",
    "loads_hdtn",
    "dumps_hdtn",
]
