"""`dtn archive put|get|ls|rm|lost|status`: the orbital archive through a running node's agent socket.

The node must run the archive service (`[archive]` in its config); docs/archive.md describes it.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

from dtn.cli.common import add_parser, parse_duration_s
from dtn.errors import ClientError, DtnError


def _node_arg(p) -> None:
    p.add_argument(
        "--node",
        default=os.environ.get("DTN_NODE"),
        metavar="SOCK",
        help="agent socket path or host:port (default: $DTN_NODE)",
    )
    p.add_argument(
        "--token-file",
        default=None,
        metavar="F",
        help="the node's agent token, for a host:port agent (docs/security.md)",
    )


def register(subparsers) -> None:
    top = add_parser(
        subparsers,
        "archive",
        help="the orbital archive: put, get, list and delete objects",
        example="dtn archive put products.tar --node /tmp/fucino.sock --replicas 3",
    )
    sub = top.add_subparsers(dest="archive_command", metavar="VERB")
    top.set_defaults(func=lambda args: (top.print_help(), 2)[1])

    p = add_parser(
        sub,
        "put",
        help="archive a file on k replicas",
        example="dtn archive put scene.tif --node /tmp/fucino.sock --name eo/scene-42 --wait all",
    )
    _node_arg(p)
    p.add_argument("file", metavar="FILE", help="the file to archive")
    p.add_argument("--name", metavar="N", help="object name (default: the file name)")
    p.add_argument("--replicas", type=int, default=None, metavar="K", help="replica count (default: the node's, 3)")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)")
    p.add_argument(
        "--wait",
        choices=("none", "first", "all"),
        default="none",
        help="wait for the first or every replica's acknowledgement (default: none)",
    )
    p.add_argument("--timeout", default="10m", metavar="DURATION", help="how long --wait waits (default 10m)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_put)

    p = add_parser(
        sub,
        "get",
        help="retrieve an object by name into a file",
        example="dtn archive get eo/scene-42 --node /tmp/malargue.sock -o scene.tif --timeout 1h",
    )
    _node_arg(p)
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the object")
    p.add_argument(
        "--timeout",
        default="10m",
        metavar="DURATION",
        help="how long to wait while it is fetched (default 10m; exit 1 if it has not arrived)",
    )
    p.set_defaults(func=cmd_get)

    p = add_parser(sub, "ls", help="list the archive catalogue", example="dtn archive ls --node /tmp/fucino.sock")
    _node_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ls)

    p = add_parser(
        sub,
        "rm",
        help="delete an object everywhere (a tombstone that replicates)",
        example="dtn archive rm eo/scene-42 --node /tmp/fucino.sock",
    )
    _node_arg(p)
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_rm)

    p = add_parser(
        sub,
        "lost",
        help="declare an archive node lost: its replicas are restored elsewhere",
        example="dtn archive lost 117 --node /tmp/fucino.sock",
    )
    _node_arg(p)
    p.add_argument("lost_node", type=int, metavar="NODE", help="node number")
    p.set_defaults(func=cmd_lost)

    p = add_parser(
        sub,
        "status",
        help="the archive service's state, or one object's replicas and acks",
        example="dtn archive status eo/scene-42 --node /tmp/fucino.sock",
    )
    _node_arg(p)
    p.add_argument("name", nargs="?", metavar="NAME")
    p.set_defaults(func=cmd_status)


def _client(args):
    from dtn.client import SyncClient

    if not args.node:
        raise ClientError("no node given: pass --node SOCK or set DTN_NODE")
    return SyncClient(args.node, token_file=args.token_file)


def _metadata(items: list[str]) -> dict[str, str] | None:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DtnError(f"--meta expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out or None


def cmd_put(args) -> int:
    path = pathlib.Path(args.file)
    if not path.is_file():
        raise DtnError(f"no such file: {args.file}")
    timeout_s = parse_duration_s(args.timeout)
    with _client(args) as client:
        result = client.archive_put(
            file=path,
            name=args.name,
            metadata=_metadata(args.meta),
            replicas=args.replicas,
            wait=args.wait,
            timeout_s=timeout_s,
        )
    if args.json:
        print(json.dumps(result))
        return 0
    state = "stored" if result["new"] else "already archived"
    print(
        f"{state} {result['name']} ({result['size_bytes']} bytes, {result['chunks']} chunks) "
        f"sha256 {result['object_id']}"
    )
    print(
        f"replicas {', '.join(map(str, result['replicas'])) or '-'}; acknowledged by "
        f"{', '.join(map(str, result['acked'])) or 'none yet'}"
    )
    if args.wait != "none":
        key = "first_replica_unix_s" if args.wait == "first" else "all_replicas_unix_s"
        if result[key] is None:
            print(f"dtn: not acknowledged by {args.wait} replica(s) within {args.timeout}", file=sys.stderr)
            return 1
    return 0


def cmd_get(args) -> int:
    with _client(args) as client:
        result = client.archive_get(args.name, timeout_s=parse_duration_s(args.timeout))
    if result.get("data") is None:
        print(
            f"dtn: {args.name} has not arrived within {args.timeout} "
            f"({result.get('have_chunks', 0)}/{result.get('chunks')} chunks)",
            file=sys.stderr,
        )
        return 1
    out = pathlib.Path(args.output)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(result["data"])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    print(f"{args.name}: {result['size_bytes']} bytes ({result['source']}), sha256 verified -> {out}")
    return 0


def cmd_ls(args) -> int:
    with _client(args) as client:
        objects = client.archive_ls()
    if args.json:
        print(json.dumps(objects))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="archive")
    for col in ("name", "size", "sha256", "origin", "replicas", "here"):
        table.add_column(col)
    for o in objects:
        table.add_row(
            o["name"],
            str(o["size_bytes"]),
            o["object_id"][:16],
            str(o["origin"]),
            ",".join(map(str, o["replicas"])),
            o["here"] or "",
        )
    Console().print(table)
    return 0


def cmd_rm(args) -> int:
    with _client(args) as client:
        result = client.archive_rm(args.name)
    print(f"deleted {result['name']} (sha256 {result['object_id']}); the tombstone replicates")
    return 0


def cmd_lost(args) -> int:
    with _client(args) as client:
        result = client.archive_lost(args.lost_node)
    print(f"node {result['node']} declared lost; repairs started here: {len(result['repairs_started'])}")
    return 0


def cmd_status(args) -> int:
    with _client(args) as client:
        print(json.dumps(client.archive_status(args.name), indent=2))
    return 0
