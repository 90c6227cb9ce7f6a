"""`dtn compute submit|status|result|ls`: jobs next to the data through a running node's agent socket.

The node must run the compute service (`[compute]` in its config); docs/compute.md describes it.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys

from dtn.cli.archive import _client, _node_arg
from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import DtnError

_OID = re.compile(r"^[0-9a-f]{64}$")


def register(subparsers) -> None:
    top = add_parser(
        subparsers,
        "compute",
        help="compute next to the data: submit jobs, follow them, get results",
        example="dtn compute submit band_stats --object SHA256 --node /tmp/user.sock --on 117",
    )
    sub = top.add_subparsers(dest="compute_command", metavar="VERB")
    top.set_defaults(func=lambda args: (top.print_help(), 2)[1])

    p = add_parser(
        sub,
        "submit",
        help="submit a job (runs at --on, or where its result is predicted first)",
        example="dtn compute submit thumbnail --object SHA256 --param factor=8 --candidates 117,118 "
        "--node /tmp/user.sock",
    )
    _node_arg(p)
    p.add_argument("function", metavar="FUNCTION", help="a function the executing node registered")
    p.add_argument("--file", action="append", default=[], metavar="FILE", help="an inline input (repeatable)")
    p.add_argument(
        "--object", action="append", default=[], metavar="SHA256", help="an archive object input (repeatable)"
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter; VALUE is read as JSON when it parses, else as text (repeatable)",
    )
    p.add_argument("--on", type=int, default=None, metavar="NODE", help="run the job at this node")
    p.add_argument(
        "--candidates",
        default=None,
        metavar="N[:SPEED],...",
        help="place the job among these nodes (by predicted completion)",
    )
    p.add_argument("--fallback", type=int, default=None, metavar="NODE", help="where to run it if refused")
    p.add_argument("--deadline", default="1h", metavar="DURATION", help="the job's deadline (default 1h)")
    p.add_argument(
        "--archive-result",
        action="store_true",
        help="keep the result as an archive object compute/<job> instead of inline",
    )
    p.add_argument("--job-id", default=None, metavar="ID")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_submit)

    p = add_parser(sub, "status", help="the service's state, or one job's", example="dtn compute status JOB --node S")
    _node_arg(p)
    p.add_argument("job_id", nargs="?", metavar="JOB")
    p.set_defaults(func=cmd_status)

    p = add_parser(
        sub,
        "result",
        help="wait for a job's result and write it to a file",
        example="dtn compute result JOB --node /tmp/user.sock -o stats.cbor --timeout 1h",
    )
    _node_arg(p)
    p.add_argument("job_id", metavar="JOB")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="where to write an inline result")
    p.add_argument("--timeout", default="0s", metavar="DURATION", help="how long to wait (default: do not wait)")
    p.set_defaults(func=cmd_result)

    p = add_parser(
        sub,
        "ls",
        help="jobs submitted from this node and jobs run here",
        example="dtn compute ls --node /tmp/user.sock",
    )
    _node_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ls)


def _params(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DtnError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _candidates(text: str | None) -> list | None:
    if text is None:
        return None
    out = []
    for part in text.split(","):
        node, _, speed = part.partition(":")
        try:
            out.append([int(node), float(speed)] if speed else int(node))
        except ValueError:
            raise DtnError(f"--candidates expects N[:SPEED],..., got {text!r}") from None
    return out


def cmd_submit(args) -> int:
    inputs: list = []
    for f in args.file:
        try:
            inputs.append(pathlib.Path(f).read_bytes())
        except OSError as exc:
            raise DtnError(f"cannot read {f}: {exc.strerror or exc}") from None
    for oid in args.object:
        if not _OID.match(oid):
            raise DtnError(f"--object expects a sha256 object ID (64 hex digits), got {oid!r}")
        inputs.append(oid)
    candidates = _candidates(args.candidates)
    if args.on is None and not candidates:
        raise DtnError("give --on NODE or --candidates N,...")
    with _client(args) as client:
        result = client.compute_submit(
            args.function,
            inputs,
            params=_params(args.param),
            node=args.on,
            fallback=args.fallback,
            candidates=candidates,
            deadline_s=parse_duration_s(args.deadline),
            result_mode="archive" if args.archive_result else "inline",
            job_id=args.job_id,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"job {result['job_id']} sent to node {result['node']}"
            + (f" (fallback {result['fallback']})" if result.get("fallback") else "")
        )
    return 0


def cmd_status(args) -> int:
    with _client(args) as client:
        print(json.dumps(client.compute_status(args.job_id), indent=2))
    return 0


def cmd_result(args) -> int:
    with _client(args) as client:
        job = client.compute_result(args.job_id, timeout_s=parse_duration_s(args.timeout))
    state = job["state"]
    if state not in ("done", "failed", "expired", "refused"):
        print(f"dtn: job {args.job_id} is {state}: no result yet", file=sys.stderr)
        return 1
    if state != "done":
        print(f"dtn: job {args.job_id} {state}: {job['reason']}", file=sys.stderr)
        return 1
    if job.get("object_id"):
        print(
            f"job {args.job_id} done at node {job['ran_at']}: result archived as compute/{args.job_id} "
            f"(sha256 {job['object_id']})"
        )
        return 0
    if args.output:
        out = pathlib.Path(args.output)
        tmp = out.with_name(out.name + ".part")
        with open(tmp, "wb") as fh:
            fh.write(job["result"])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        print(f"job {args.job_id} done at node {job['ran_at']}: {len(job['result'])} bytes -> {out}")
    else:
        print(f"job {args.job_id} done at node {job['ran_at']}: {len(job['result'])} bytes (use -o FILE)")
    return 0


def cmd_ls(args) -> int:
    with _client(args) as client:
        listing = client.compute_ls()
    if args.json:
        print(json.dumps(listing))
        return 0
    for title, rows in (("submitted from here", listing["submitted"]), ("run here", listing["jobs"])):
        print(f"{title}:")
        for r in rows:
            where = r.get("ran_at") or r.get("node") or r.get("source")
            print(f"  {r['job_id']}  {r['state']:<9} node {where}  {r.get('reason') or ''}".rstrip())
    return 0
