"""`dtn bundle`: create, show, validate, decode and encode BPv7 bundles (RFC 9171). See docs/bundle.md."""

from __future__ import annotations

import argparse
import importlib
import json
import time

from dtn.bpv7 import BlockType, Bundle, BundleFlag, CrcType, decode, encode_parts, parse_eid
from dtn.bpv7.time import dtn_ms_to_unix, unix_to_dtn_ms
from dtn.cli.common import add_parser, parse_duration_s, read_input, write_output
from dtn.errors import DecodeError, DtnError

_CRC_CHOICES = {"0": CrcType.NONE, "16": CrcType.CRC16, "32": CrcType.CRC32C}
_FLAG_ALIASES = {
    "fragment": BundleFlag.IS_FRAGMENT,
    "admin": BundleFlag.IS_ADMIN_RECORD,
    "no-fragment": BundleFlag.MUST_NOT_FRAGMENT,
    "ack": BundleFlag.ACK_REQUESTED,
    "status-time": BundleFlag.STATUS_TIME_REQUESTED,
    "report-reception": BundleFlag.REPORT_RECEPTION,
    "report-forwarding": BundleFlag.REPORT_FORWARDING,
    "report-delivery": BundleFlag.REPORT_DELIVERY,
    "report-deletion": BundleFlag.REPORT_DELETION,
}


def parse_flags(text: str) -> BundleFlag:
    """'report-delivery,status-time' or 'REPORT_DELIVERY|0x40' or '0x20040' -> BundleFlag."""
    flags = BundleFlag(0)
    for word in text.replace("|", ",").split(","):
        word = word.strip()
        if not word:
            continue
        key = word.lower().replace("_", "-")
        if key in _FLAG_ALIASES:
            flags |= _FLAG_ALIASES[key]
        elif word.upper().replace("-", "_") in BundleFlag.__members__:
            flags |= BundleFlag[word.upper().replace("-", "_")]
        else:
            try:
                flags |= BundleFlag(int(word, 0))
            except ValueError:
                names = ", ".join(_FLAG_ALIASES)
                raise DtnError(f"unknown bundle flag {word!r} (known: {names}, or a number)") from None
    return flags


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "bundle",
        help="create, show, validate, decode and encode BPv7 bundles",
        example="dtn bundle create --src ipn:1.1 --dst ipn:2.1 --payload-file msg.txt -o b.bin",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    p = add_parser(
        verbs,
        "create",
        help="create a bundle from a payload file",
        example="dtn bundle create --src ipn:1.1 --dst ipn:2.1 --payload-file msg.txt --crc 32 --lifetime 1h -o b.bin",
    )
    p.add_argument("--src", required=True, help="source EID, e.g. ipn:1.1 or dtn://node/app")
    p.add_argument("--dst", required=True, help="destination EID")
    p.add_argument("--payload-file", required=True, help="file whose bytes become the payload ('-' for stdin)")
    p.add_argument("--report-to", default=None, help="report-to EID (default dtn:none)")
    p.add_argument(
        "--crc", choices=sorted(_CRC_CHOICES), default="32", help="CRC on every block: 0, 16 or 32 (default 32)"
    )
    p.add_argument("--lifetime", default="1h", help="lifetime, e.g. 90, 30s, 5m, 1h, 1d (default 1h)")
    p.add_argument(
        "--flags", default="", help="bundle flags, e.g. report-delivery,status-time (or RFC names / a number)"
    )
    p.add_argument("--hop-limit", type=int, default=None, help="add a Hop Count block with this limit (1..255)")
    p.add_argument("--creation-time-ms", type=int, default=None, help="DTN time in ms (default: now; 0 = no clock)")
    p.add_argument("--sequence", type=int, default=0, help="creation timestamp sequence number (default 0)")
    p.add_argument("-o", "--output", required=True, help="output file ('-' for stdout)")
    p.set_defaults(func=cmd_create)

    p = add_parser(
        verbs, "show", help="show a bundle's blocks in a human-readable form", example="dtn bundle show b.bin"
    )
    p.add_argument("file", help="bundle file ('-' for stdin)")
    p.set_defaults(func=cmd_show)

    p = add_parser(
        verbs,
        "validate",
        help="list every RFC 9171 problem of a bundle (exit 1 if any)",
        example="dtn bundle validate b.bin",
    )
    p.add_argument("file", help="bundle file ('-' for stdin)")
    p.set_defaults(func=cmd_validate)

    p = add_parser(verbs, "decode", help="decode a bundle to JSON", example="dtn bundle decode b.bin --json > b.json")
    p.add_argument("file", help="bundle file ('-' for stdin)")
    p.add_argument("--json", action="store_true", default=True, help="JSON output (the only form; kept for clarity)")
    p.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    p.set_defaults(func=cmd_decode)

    p = add_parser(
        verbs, "encode", help="encode a bundle from its JSON form", example="dtn bundle encode b.json -o b.bin"
    )
    p.add_argument("file", help="JSON file ('-' for stdin)")
    p.add_argument("-o", "--output", required=True, help="output file ('-' for stdout)")
    p.set_defaults(func=cmd_encode)

    # The BPSec verbs (sign|verify|encrypt|decrypt) live in their own module. `from dtn.cli import X` raises a
    # plain ImportError when X is missing, so import by name to get ModuleNotFoundError, and re-raise unless it
    # is that very module that is missing (a broken import inside it must not be hidden).
    try:
        bundle_security = importlib.import_module("dtn.cli.bundle_security")
    except ModuleNotFoundError as exc:
        if exc.name != "dtn.cli.bundle_security":
            raise
        bundle_security = None
    if bundle_security:
        bundle_security.register(verbs)


def cmd_create(args: argparse.Namespace) -> int:
    lifetime_ms = int(round(parse_duration_s(args.lifetime) * 1000))
    creation_time_ms = args.creation_time_ms if args.creation_time_ms is not None else unix_to_dtn_ms(time.time())
    bundle = Bundle.create(
        parse_eid(args.src),
        parse_eid(args.dst),
        read_input(args.payload_file),
        creation_time_ms=creation_time_ms,
        sequence=args.sequence,
        lifetime_ms=lifetime_ms,
        report_to=parse_eid(args.report_to) if args.report_to else None,
        flags=parse_flags(args.flags),
        crc_type=_CRC_CHOICES[args.crc],
        hop_limit=args.hop_limit,
    )
    write_output(args.output, encode_parts(bundle))
    return 0


def _dtn_time_text(dtn_ms: int) -> str:
    if dtn_ms == 0:
        return "0 (no clock)"
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(dtn_ms_to_unix(dtn_ms)))
    except (OverflowError, OSError, ValueError):
        return str(dtn_ms)
    return f"{dtn_ms} ({stamp}.{dtn_ms % 1000:03d}Z)"


def cmd_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    data = read_input(args.file)
    bundle = decode(data)
    p = bundle.primary
    console = Console()
    table = Table(title=f"bundle {bundle.id.key()} ({len(data)} bytes)", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    flag_names = "|".join(f.name for f in BundleFlag if f in p.flags) or "none"
    rows = [
        ("version", str(p.version)),
        ("flags", f"{int(p.flags):#x} ({flag_names})"),
        ("crc type", CrcType(p.crc_type).name),
        ("destination", str(p.destination)),
        ("source", str(p.source)),
        ("report-to", str(p.report_to)),
        ("creation time", _dtn_time_text(p.creation_time_ms)),
        ("sequence", str(p.sequence)),
        ("lifetime", f"{p.lifetime_ms} ms"),
    ]
    if p.is_fragment:
        rows += [("fragment offset", str(p.fragment_offset)), ("total ADU length", str(p.total_adu_length))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    blocks = Table(title="canonical blocks")
    for column in ("number", "type", "flags", "crc", "length", "content"):
        blocks.add_column(column)
    for block in bundle.blocks:
        kind = block.type.name if isinstance(block.type, BlockType) else f"unknown ({block.type})"
        blocks.add_row(
            str(block.number),
            kind,
            f"{int(block.flags):#x}",
            CrcType(block.crc_type).name,
            str(len(block.data)),
            _content(bundle, block),
        )
    console.print(blocks)
    return 0


def _content(bundle: Bundle, block) -> str:
    try:
        if block.type == BlockType.HOP_COUNT:
            limit, count = bundle.hop_count or (0, 0)
            return f"limit {limit}, count {count}"
        if block.type == BlockType.BUNDLE_AGE:
            return f"{bundle.bundle_age_ms} ms"
        if block.type == BlockType.PREVIOUS_NODE:
            return str(bundle.previous_node)
        if block.type == BlockType.PAYLOAD and bundle.is_admin_record:
            from dtn.bpv7.admin import decode_admin_record

            return repr(decode_admin_record(block.data))
    except DecodeError as exc:
        return f"unreadable: {exc.reason}"
    preview = bytes(block.data[:32])
    text = preview.decode("ascii", "replace") if all(32 <= c < 127 for c in preview) else preview.hex()
    return text + ("…" if len(block.data) > 32 else "")


def cmd_validate(args: argparse.Namespace) -> int:
    bundle = decode(read_input(args.file))
    problems = bundle.validate()
    if not problems:
        print(f"{args.file}: valid")
        return 0
    for problem in problems:
        print(f"{args.file}: {problem}")
    return 1


def cmd_decode(args: argparse.Namespace) -> int:
    from dtn.bpv7.jsonform import to_json

    text = json.dumps(to_json(decode(read_input(args.file))), indent=2) + "\n"
    write_output(args.output, [text.encode()])
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from dtn.bpv7.jsonform import from_json

    try:
        obj = json.loads(read_input(args.file))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"{args.file}: not valid JSON ({exc})") from None
    write_output(args.output, encode_parts(from_json(obj)))
    return 0
