"""`dtn store ls|show|purge|check PATH`: look into a node's bundle store, and clean it."""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
import sys
import time

from dtn.cli.common import add_parser
from dtn.errors import DtnError, StoreError

# `show` decodes a bundle only up to this size (decoding holds it in memory); larger ones are summarized.
_DECODE_LIMIT_BYTES = 64 * 1024 * 1024


def register(subparsers) -> None:
    parser = add_parser(
        subparsers, "store", help="inspect and clean a node's bundle store", example="dtn store ls node.db"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda args: _usage(parser))

    ls = add_parser(
        verbs,
        "ls",
        help="summary (counts, sizes, oldest, per destination) and the stored bundles",
        example="dtn store ls node.db --destination 'ipn:5.*' --limit 20",
    )
    ls.add_argument("path", metavar="PATH", help="the store's database file")
    ls.add_argument("--destination", metavar="EID", help="only bundles for this EID, or prefix ending in * / .")
    ls.add_argument("--next-hop", type=int, metavar="NODE", help="only bundles assigned to this next hop")
    ls.add_argument("--unassigned", action="store_true", help="only bundles with no next hop")
    ls.add_argument("--expired", action="store_true", help="only bundles expired at --now")
    ls.add_argument("--now", type=float, metavar="UNIX_S", help="the time for --expired (default: now)")
    ls.add_argument("--limit", type=int, default=50, metavar="N", help="bundles to list (default 50; 0: all)")
    ls.add_argument("--json", action="store_true", help="print JSON (stats and records) instead of tables")
    ls.set_defaults(func=run_ls)

    show = add_parser(
        verbs,
        "show",
        help="one bundle: its record, and the decoded bundle when it decodes",
        example="dtn store show node.db 'ipn:1.0 764000000000 0'",
    )
    show.add_argument("path", metavar="PATH", help="the store's database file")
    show.add_argument("key", metavar="KEY", help="the bundle key (as 'dtn store ls' prints it)")
    show.add_argument("--out", metavar="FILE", help="also write the encoded bundle bytes to FILE ('-': stdout)")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.set_defaults(func=run_show)

    purge = add_parser(
        verbs,
        "purge",
        help="delete bundles: expired ones, by key, by destination, or all",
        example="dtn store purge node.db --expired",
    )
    purge.add_argument("path", metavar="PATH", help="the store's database file")
    purge.add_argument("--expired", action="store_true", help="delete bundles expired at --now")
    purge.add_argument("--now", type=float, metavar="UNIX_S", help="the time for --expired (default: now)")
    purge.add_argument("--key", action="append", default=[], metavar="KEY", help="delete this bundle (repeatable)")
    purge.add_argument("--destination", metavar="EID", help="delete bundles for this EID or prefix")
    purge.add_argument("--all", action="store_true", help="delete every bundle")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    purge.set_defaults(func=run_purge)

    check = add_parser(
        verbs,
        "check",
        help="verify the database and every payload; --repair moves damaged bundles aside",
        example="dtn store check node.db --full",
    )
    check.add_argument("path", metavar="PATH", help="the store's database file")
    check.add_argument("--full", action="store_true", help="also check every payload's CRC-32C (reads all)")
    check.add_argument(
        "--repair", action="store_true", help="move damaged bundles to PATH.payloads/damaged/ and keep the rest"
    )
    check.set_defaults(func=run_check)


def _usage(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _open(path: str, **options):
    from dtn.store import SqliteStore

    return SqliteStore(path, create=False, **options)


def _console():
    from rich.console import Console

    # Piped output is not wrapped at 80 columns: keys must stay whole for grep and copy-paste.
    if sys.stdout.isatty():
        return Console(width=max(100, shutil.get_terminal_size((120, 24)).columns))
    return Console(width=200)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    try:
        return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{unix_s:.0f} (Unix s)"


def _record_dict(record) -> dict:
    out = dataclasses.asdict(record)
    out["retention"] = _retention(record.retention)
    return out


def _retention(retention) -> str:
    names = [flag.name for flag in type(retention) if flag and retention & flag and flag.name != "NONE"]
    return "|".join(names) if names else "NONE"


def run_ls(args) -> int:
    if args.limit < 0:
        raise DtnError("--limit must be >= 0")
    filters = [args.destination is not None, args.next_hop is not None, args.unassigned, args.expired]
    if sum(filters) > 1:
        raise DtnError("use at most one of --destination, --next-hop, --unassigned, --expired")
    now_s = time.time() if args.now is None else args.now
    with _open(args.path, readonly=True, check="none") as store:
        stats = store.stats()
        if args.destination is not None:
            selected = store.for_destination(args.destination)
        elif args.next_hop is not None:
            selected = store.for_next_hop(args.next_hop)
        elif args.unassigned:
            selected = store.unassigned()
        elif args.expired:
            selected = store.expired(now_s)
        else:
            selected = None
        listed = []
        for record in iter(selected) if selected is not None else store.entries():
            if args.limit and len(listed) >= args.limit:
                break
            listed.append(record)
        matching = len(selected) if selected is not None else stats["count"]
    if args.json:
        stats = dict(stats, by_next_hop={str(k): v for k, v in stats["by_next_hop"].items()})
        json.dump(
            {"stats": stats, "matching": matching, "bundles": [_record_dict(r) for r in listed]},
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
        return 0
    _render_ls(stats, listed, matching, now_s)
    return 0


def _render_ls(stats: dict, listed: list, matching: int, now_s: float) -> None:
    from rich.table import Table

    console = _console()
    summary = Table(title=f"bundle store {stats['path']}", show_header=False)
    summary.add_column("what", style="bold")
    summary.add_column("value")
    quota_b = f" of {_size(stats['max_bytes'])}" if stats.get("max_bytes") is not None else ""
    summary.add_row("bundles", f"{stats['count']}  ({stats['inline_count']} inline, {stats['file_count']} in files)")
    summary.add_row("stored bytes", f"{_size(stats['total_bytes'])}{quota_b}")
    summary.add_row("database on disk", _size(stats["database_bytes"]))
    summary.add_row("oldest received", _when(stats["oldest_received_s"]))
    summary.add_row("earliest expiry", _when(stats["earliest_expiry_s"]))
    summary.add_row("unassigned", str(stats["unassigned"]))
    summary.add_row(
        "retention", ", ".join(f"{k}={v}" for k, v in stats["by_retention"].items()) + f", none={stats['no_retention']}"
    )
    console.print(summary)
    if stats["by_destination"]:
        per_dest = Table(title="per destination")
        per_dest.add_column("destination")
        per_dest.add_column("bundles", justify="right")
        per_dest.add_column("bytes", justify="right")
        for destination, d in stats["by_destination"].items():
            per_dest.add_row(destination, str(d["count"]), _size(d["bytes"]))
        console.print(per_dest)
    if not listed:
        console.print("no matching bundles" if stats["count"] else "the store is empty")
        return
    bundles = Table(title=f"bundles ({len(listed)} of {matching} shown)")
    bundles.add_column("key", no_wrap=True, overflow="fold")
    for column in ("destination", "size", "received", "expires", "retention", "next hop"):
        bundles.add_column(column, justify="right" if column == "size" else "left")
    for r in listed:
        expires = _when(r.expiry_s) + (" (expired)" if r.expiry_s <= now_s else "")
        bundles.add_row(
            r.key,
            r.destination,
            _size(r.size_bytes),
            _when(r.received_s),
            expires,
            _retention(r.retention),
            "-" if r.next_hop is None else str(r.next_hop),
        )
    console.print(bundles)


def run_show(args) -> int:
    with _open(args.path, readonly=True, check="none") as store:
        record = store.get(args.key)
        if record is None:
            raise StoreError(f"no bundle {args.key!r} in {args.path}")
        if args.out:
            _copy_out(store, args.key, args.out)
        data = store.read(args.key) if record.size_bytes <= _DECODE_LIMIT_BYTES else None
    if args.out == "-":
        return 0
    if args.json:
        json.dump(_record_dict(record), sys.stdout, indent=2, default=str)
        print()
        return 0
    _render_show(record, data)
    return 0


def _copy_out(store, key: str, out: str) -> None:
    with store.open_read(key) as stream:
        if out == "-":
            shutil.copyfileobj(stream, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        with open(out, "wb") as handle:
            shutil.copyfileobj(stream, handle)


def _render_show(record, data: bytes | None) -> None:
    from rich.table import Table

    console = _console()
    table = Table(title=f"stored bundle {record.key}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in _record_dict(record).items():
        if name in ("expiry_s", "received_s"):
            value = f"{value} ({_when(value)})"
        elif name == "size_bytes":
            value = f"{value} ({_size(value)})"
        table.add_row(name, str(value))
    console.print(table)
    if data is None:
        console.print(f"bundle is larger than {_size(_DECODE_LIMIT_BYTES)}: not decoded (use --out FILE)")
        return
    decoded, problem = _decode(data)
    if decoded is None:
        console.print(f"[yellow]not decoded as BPv7[/yellow]: {problem}")
        console.print(f"first bytes: {data[:32].hex()}")
        return
    bundle_table = Table(title=f"decoded BPv7 bundle ({type(decoded).__name__})", show_header=False)
    bundle_table.add_column("field", style="bold")
    bundle_table.add_column("value", overflow="fold")
    if dataclasses.is_dataclass(decoded):
        for field in dataclasses.fields(decoded):
            bundle_table.add_row(field.name, _short(getattr(decoded, field.name)))
    else:
        bundle_table.add_row("bundle", _short(decoded))
    validate = getattr(decoded, "validate", None)
    if callable(validate):
        try:
            problems = validate()
        except DtnError as exc:
            problems = [str(exc)]
        bundle_table.add_row("validate()", "valid" if not problems else "; ".join(map(str, problems)))
    console.print(bundle_table)


def _decode(data: bytes):
    """Decode with dtn.bpv7 (imported here only: the store itself never depends on the codec)."""
    try:
        from dtn.bpv7 import decode
    except ImportError as exc:
        return None, f"the BPv7 codec is not available ({exc})"
    try:
        return decode(data), None
    except DtnError as exc:
        return None, str(exc)
    except Exception as exc:  # the record is still shown whatever the codec thinks of these bytes
        return None, f"{type(exc).__name__}: {exc}"


def _short(value, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def run_purge(args) -> int:
    chosen = [bool(args.expired), bool(args.key), args.destination is not None, bool(args.all)]
    if sum(chosen) != 1:
        raise DtnError("say what to purge: exactly one of --expired, --key, --destination, --all")
    now_s = time.time() if args.now is None else args.now
    with _open(args.path) as store:
        if args.expired:
            victims = store.expired(now_s)
        elif args.key:
            victims = [r for r in (store.get(k) for k in args.key) if r is not None]
            missing = [k for k in args.key if not store.contains(k)]
            for key in missing:
                print(f"dtn: note: no bundle {key!r}", file=sys.stderr)
        elif args.destination is not None:
            victims = store.for_destination(args.destination)
        else:
            victims = list(store.entries())
        size = sum(r.size_bytes for r in victims)
        if args.dry_run:
            print(f"would delete {len(victims)} bundle(s), {_size(size)}")
            for r in victims[:50]:
                print(f"  {r.key}  {r.destination}  {_size(r.size_bytes)}")
            return 0
        if args.expired:
            deleted = len(store.expire(now_s))
        else:
            deleted = store.delete_many(r.key for r in victims)
        print(f"deleted {deleted} bundle(s), {_size(size)}; {store.count()} left ({_size(store.total_bytes())})")
    return 0


def run_check(args) -> int:
    from dtn.store import SqliteStore

    # Open without the built-in check, so that a damaged payload is reported here rather than refused.
    with SqliteStore(args.path, create=False, check="none", readonly=not args.repair) as store:
        problems = store.check_database()
        if problems:
            raise StoreError(
                f"{args.path}: database is damaged: {'; '.join(problems[:3])} (try: sqlite3 PATH .recover)"
            )
        damage = store.verify(full=args.full)
        count = store.count()
    kind = "full (CRC-32C of every payload)" if args.full else "quick (structure, payload files and sizes)"
    if not damage:
        print(f"{args.path}: ok, {count} bundle(s); check: {kind}")
        return 0
    for key, reason in damage:
        print(f"damaged: {key}: {reason}")
    if not args.repair:
        print(
            f"{args.path}: {len(damage)} damaged bundle(s) of {count}; run with --repair to move them aside",
            file=sys.stderr,
        )
        return 1
    with SqliteStore(args.path, create=False, check="full" if args.full else "quick", repair=True) as store:
        moved = len(store.damaged)
        left = store.count()
    print(f"{args.path}: moved {moved} damaged bundle(s) to {args.path}.payloads/damaged/; {left} left intact")
    return 0
