"""Compute messages: payloads of bundles between compute services (pure, CBOR).

Every message is one CBOR array `[1, type, ...]`:

| type | fields | meaning |
|---|---|---|
| 1 REQUEST | job_id, function, inputs, params, deadline_unix_s, reply_node, result_mode | run this job |
| 2 REPLY | job_id, state, reason, result, object_id, node, times | accepted / refused / done / failed / expired |

An input is `[0, bytes]` (inline) or `[1, object_id]` (an archive object, 64 hex digits). `params` is a map of
text keys to CBOR scalars, lists or maps (at most `MAX_PARAMS_BYTES` encoded). `result_mode` is `"inline"` or
`"archive"` (the result becomes an archive object named `compute/<job_id>` with its provenance as metadata).
`decode_message` checks every field and raises `DecodeError`: a message from the network is never trusted.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any, Union

import cbor2

from dtn.bpv7._cbor import check_text
from dtn.errors import DecodeError

VERSION = 1
COMPUTE_SERVICE = 65  # the well-known service number: the compute service of node N is ipn:N.65
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_INPUTS = 64
MAX_PARAMS_BYTES = 64 * 1024
RESULT_MODES = ("inline", "archive")
STATES = ("accepted", "refused", "done", "failed", "expired")
_JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_FUNCTION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_OID = re.compile(r"^[0-9a-f]{64}$")
REQUEST, REPLY = 1, 2


@dataclass(frozen=True, slots=True)
class JobRequest:
    job_id: str
    function: str
    inputs: tuple[tuple[str, Any], ...]  # ("inline", bytes) or ("object", object_id)
    params: dict[str, Any] = field(default_factory=dict)
    deadline_unix_s: float = math.inf
    reply_node: int = 0
    result_mode: str = "inline"

    def __post_init__(self) -> None:
        check_request(self)


@dataclass(frozen=True, slots=True)
class JobReply:
    job_id: str
    state: str
    reason: str = ""
    result: bytes | None = None
    object_id: str | None = None
    node: int = 0
    times: dict[str, float] = field(default_factory=dict)  # received/started/finished unix s, cpu_s ...


Message = Union[JobRequest, JobReply]


def check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise DecodeError(f"job id must be 1..128 characters of [A-Za-z0-9_.:-], got {job_id!r}", offset=0)
    return job_id


def check_function_name(name: Any) -> str:
    if not isinstance(name, str) or not _FUNCTION.match(name):
        raise DecodeError(f"function name must be 1..64 characters of [A-Za-z0-9_.-], got {name!r}", offset=0)
    return name


def check_request(req: JobRequest) -> None:
    check_job_id(req.job_id)
    check_function_name(req.function)
    if not isinstance(req.inputs, tuple) or len(req.inputs) > MAX_INPUTS:
        raise DecodeError(f"inputs must be a tuple of at most {MAX_INPUTS}", offset=0)
    for item in req.inputs:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise DecodeError('an input is ("inline", bytes) or ("object", object_id)', offset=0)
        kind, value = item
        if kind == "inline":
            if not isinstance(value, bytes):
                raise DecodeError("an inline input must be bytes", offset=0)
        elif kind == "object":
            if not isinstance(value, str) or not _OID.match(value):
                raise DecodeError(f"an object input must be 64 hex digits, got {value!r}", offset=0)
        else:
            raise DecodeError(f"unknown input kind {kind!r}", offset=0)
    if not isinstance(req.params, dict) or not all(isinstance(k, str) for k in req.params):
        raise DecodeError("params must be a map with text keys", offset=0)
    if len(cbor2.dumps(req.params)) > MAX_PARAMS_BYTES:
        raise DecodeError(f"params exceed {MAX_PARAMS_BYTES} bytes", offset=0)
    t = req.deadline_unix_s
    if isinstance(t, bool) or not isinstance(t, (int, float)) or math.isnan(t) or t <= 0:
        raise DecodeError(f"deadline must be a positive number of unix seconds, got {t!r}", offset=0)
    _node(req.reply_node, allow_zero=True)
    if req.result_mode not in RESULT_MODES:
        raise DecodeError(f"result mode must be one of {', '.join(RESULT_MODES)}", offset=0)


def encode_message(msg: Message) -> bytes:
    if isinstance(msg, JobRequest):
        inputs = [[0, v] if k == "inline" else [1, v] for k, v in msg.inputs]
        body = [
            REQUEST,
            msg.job_id,
            msg.function,
            inputs,
            msg.params,
            float(msg.deadline_unix_s),
            msg.reply_node,
            msg.result_mode,
        ]
    elif isinstance(msg, JobReply):
        body = [
            REPLY,
            msg.job_id,
            msg.state,
            msg.reason,
            msg.result,
            msg.object_id,
            msg.node,
            {k: float(v) for k, v in msg.times.items()},
        ]
    else:
        raise TypeError(f"not a compute message: {msg!r}")
    return cbor2.dumps([VERSION, *body])


def decode_message(data: bytes) -> Message:
    """Parse one compute message; DecodeError on anything malformed."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise DecodeError("empty compute message", offset=0)
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"compute message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}", offset=0)
    check_text(data)
    fp = io.BytesIO(bytes(data))
    try:
        item = cbor2.CBORDecoder(fp, read_size=1).decode()
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise DecodeError(f"compute message is not CBOR: {exc}", offset=fp.tell()) from None
    if fp.tell() != len(data):
        raise DecodeError("trailing bytes after the compute message", offset=fp.tell())
    if not isinstance(item, list) or len(item) < 2:
        raise DecodeError("compute message must be an array [version, type, ...]", offset=0)
    if isinstance(item[0], bool) or item[0] != VERSION:
        raise DecodeError(f"compute message version {item[0]!r} not supported (expected {VERSION})", offset=0)
    kind, fields = item[1], item[2:]
    if kind == REQUEST and not isinstance(kind, bool):
        if len(fields) != 7:
            raise DecodeError(f"REQUEST needs 7 fields, got {len(fields)}", offset=0)
        job_id, function, inputs, params, deadline, reply_node, mode = fields
        if not isinstance(inputs, list):
            raise DecodeError("inputs must be a list", offset=0)
        parsed = []
        for inp in inputs:
            if not (isinstance(inp, list) and len(inp) == 2 and inp[0] in (0, 1) and not isinstance(inp[0], bool)):
                raise DecodeError("an input must be [0, bytes] or [1, object_id]", offset=0)
            parsed.append(("inline" if inp[0] == 0 else "object", inp[1]))
        if not isinstance(params, dict):
            raise DecodeError("params must be a map", offset=0)
        return JobRequest(job_id, function, tuple(parsed), params, deadline, reply_node, mode)
    if kind == REPLY and not isinstance(kind, bool):
        if len(fields) != 7:
            raise DecodeError(f"REPLY needs 7 fields, got {len(fields)}", offset=0)
        job_id, state, reason, result, object_id, node, times = fields
        check_job_id(job_id)
        if state not in STATES:
            raise DecodeError(f"unknown job state {state!r}", offset=0)
        if not isinstance(reason, str) or len(reason) > 4096:
            raise DecodeError("reason must be text of at most 4096 characters", offset=0)
        if result is not None and not isinstance(result, bytes):
            raise DecodeError("result must be bytes or null", offset=0)
        if object_id is not None and (not isinstance(object_id, str) or not _OID.match(object_id)):
            raise DecodeError("object id must be 64 hex digits or null", offset=0)
        if (
            not isinstance(times, dict)
            or len(times) > 16
            or not all(isinstance(k, str) and isinstance(v, float) and math.isfinite(v) for k, v in times.items())
        ):
            raise DecodeError("times must be a map of at most 16 text keys to finite floats", offset=0)
        return JobReply(job_id, state, reason, result, object_id, _node(node, allow_zero=True), dict(times))
    raise DecodeError(f"unknown compute message type {kind!r}", offset=0)


def _node(value: Any, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1) or value >= 2**64:
        raise DecodeError(f"node number out of range: {value!r}", offset=0)
    return value
