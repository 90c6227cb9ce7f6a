"""`dtn bundle sign|verify|encrypt|decrypt`: BPSec (RFC 9172, RFC 9173 contexts) on bundle files.

A thin shell over `dtn.bpsec`: read the bundle and the key file, call the library, write the bundle, report what
was done on stderr. A failed check is a `SecurityError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import fnmatch

from rich.console import Console

from dtn.bpsec import AesVariant, ShaVariant, decrypt, encrypt, security_operations, sign, verify
from dtn.bpsec.constants import PAYLOAD_BLOCK_NUMBER, PRIMARY_BLOCK_NUMBER, ReasonCode
from dtn.bpsec.keys import load_key_file
from dtn.bpv7.codec import decode, encode_parts
from dtn.bpv7.eid import parse_eid
from dtn.cli.common import add_parser, read_input, write_output
from dtn.errors import DtnError, SecurityError

_SHA = {"256": ShaVariant.HMAC_256_256, "384": ShaVariant.HMAC_384_384, "512": ShaVariant.HMAC_512_512}
_AES = {"128": AesVariant.A128GCM, "256": AesVariant.A256GCM}
_KEY_HELP = "key file: hex text or 16/24/32/48/64 raw bytes (the key-encryption key with --wrap)"


def register(verbs) -> None:
    """Add the four BPSec verbs to the `dtn bundle` sub-parsers."""
    p = add_parser(
        verbs,
        "sign",
        help="add BIBs (BIB-HMAC-SHA2, one per target block) to a bundle",
        example="dtn bundle sign b.bin --key-file hmac.key --target primary --target payload -o signed.bin",
    )
    _common(p, output_required=True)
    _targets(p)
    p.add_argument("--sha", choices=sorted(_SHA), default="384", help="HMAC-SHA2 variant (default 384)")
    p.add_argument("--scope", type=_scope, default=7, help="integrity scope flags 0..7 (default 7: all)")
    p.add_argument("--source", default=None, help="security source EID (default: the bundle source's node ID)")
    p.add_argument("--wrap", action="store_true", help="use a fresh HMAC key, AES-wrapped with the key file's key")
    p.set_defaults(func=cmd_sign)

    p = add_parser(
        verbs,
        "verify",
        help="verify a bundle's BIBs (exit 2 if any check fails)",
        example="dtn bundle verify signed.bin --key-file hmac.key",
    )
    _common(p, output_required=False)
    p.add_argument("--source", default="*", help="only BIBs whose security source matches this pattern (default *)")
    p.add_argument("--accept", action="store_true", help="act as acceptor: remove the verified operations (needs -o)")
    p.set_defaults(func=cmd_verify)

    p = add_parser(
        verbs,
        "encrypt",
        help="encrypt blocks of a bundle and add BCB(s) (BCB-AES-GCM)",
        example="dtn bundle encrypt b.bin --key-file aes256.key -o encrypted.bin",
    )
    _common(p, output_required=True)
    _targets(p)
    p.add_argument("--aes", choices=sorted(_AES), default="256", help="AES-GCM variant (default 256)")
    p.add_argument("--scope", type=_scope, default=7, help="AAD scope flags 0..7 (default 7: all)")
    p.add_argument("--source", default=None, help="security source EID (default: the bundle source's node ID)")
    p.add_argument("--wrap", action="store_true", help="use a fresh content key, AES-wrapped with the key file's key")
    p.set_defaults(func=cmd_encrypt)

    p = add_parser(
        verbs,
        "decrypt",
        help="decrypt a bundle's BCBs and remove them",
        example="dtn bundle decrypt encrypted.bin --key-file aes256.key -o b.bin",
    )
    _common(p, output_required=True)
    p.add_argument("--source", default="*", help="only BCBs whose security source matches this pattern (default *)")
    p.set_defaults(func=cmd_decrypt)


def _common(p: argparse.ArgumentParser, *, output_required: bool) -> None:
    p.add_argument("file", help="bundle file ('-' for stdin)")
    p.add_argument("--key-file", required=True, help=_KEY_HELP)
    p.add_argument("-o", "--output", required=output_required, default=None, help="output bundle file ('-' for stdout)")


def _targets(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="BLOCK",
        help="block to protect: payload, primary or a block number (repeatable; default payload)",
    )


def _scope(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid scope {text!r} (0..7)") from None
    if not 0 <= value <= 7:
        raise argparse.ArgumentTypeError(f"invalid scope {text!r} (0..7)")
    return value


def _parse_targets(values: list[str] | None) -> list[int]:
    targets = []
    for value in values or ["payload"]:
        if value == "payload":
            targets.append(PAYLOAD_BLOCK_NUMBER)
        elif value == "primary":
            targets.append(PRIMARY_BLOCK_NUMBER)
        else:
            try:
                targets.append(int(value))
            except ValueError:
                raise DtnError(f"invalid target {value!r} (payload, primary or a block number)") from None
    return targets


def _write(path: str, bundle) -> None:
    write_output(path, encode_parts(bundle))


def _console() -> Console:
    return Console(stderr=True, highlight=False)


def _security_source(args, bundle):
    return parse_eid(args.source) if args.source else bundle.primary.source.node_id()


def _by_source(pattern: str, key: bytes):
    return lambda asb: key if fnmatch.fnmatchcase(str(asb.source), pattern) else None


def cmd_sign(args: argparse.Namespace) -> int:
    bundle = decode(read_input(args.file))
    key = load_key_file(args.key_file)
    targets = _parse_targets(args.target)
    source = _security_source(args, bundle)
    # One BIB per target (as the node policy does): a later BCB over some targets then encrypts whole BIBs.
    signed = bundle
    for target in targets:
        signed = sign(
            signed,
            key=key,
            security_source=source,
            targets=[target],
            sha_variant=_SHA[args.sha],
            scope_flags=args.scope,
            wrap=args.wrap,
        )
    _write(args.output, signed)
    _console().print(f"signed blocks {targets} as {source} (HMAC {args.sha}, scope {args.scope})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.accept and not args.output:
        raise DtnError("--accept removes the verified operations: give -o OUTPUT")
    bundle = decode(read_input(args.file))
    key = load_key_file(args.key_file)
    checked = [
        op
        for op in security_operations(bundle)
        if op.service == "integrity" and fnmatch.fnmatchcase(str(op.source), args.source)
    ]
    encrypted = {op.target for op in security_operations(bundle) if op.service == "confidentiality"}
    checked = [op for op in checked if op.target not in encrypted]
    if not checked:
        raise SecurityError(
            f"no BIB operation from {args.source} to verify", reason_code=ReasonCode.MISSING_SECURITY_OPERATION
        )
    result = verify(bundle, _by_source(args.source, key), accept=args.accept)
    console = _console()
    for op in checked:
        console.print(f"ok  block {op.target}: BIB {op.block_number} from {op.source}")
    if args.output:
        _write(args.output, result)
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    bundle = decode(read_input(args.file))
    key = load_key_file(args.key_file)
    targets = _parse_targets(args.target)
    source = _security_source(args, bundle)
    encrypted = encrypt(
        bundle,
        key=key,
        security_source=source,
        targets=targets,
        aes_variant=_AES[args.aes],
        scope_flags=args.scope,
        wrap=args.wrap,
    )
    _write(args.output, encrypted)
    done = sorted(op.target for op in security_operations(encrypted) if op.service == "confidentiality")
    _console().print(f"encrypted blocks {done} as {source} (A{args.aes}GCM, scope {args.scope})")
    return 0


def cmd_decrypt(args: argparse.Namespace) -> int:
    bundle = decode(read_input(args.file))
    key = load_key_file(args.key_file)
    before = [
        op
        for op in security_operations(bundle)
        if op.service == "confidentiality" and fnmatch.fnmatchcase(str(op.source), args.source)
    ]
    if not before:
        raise SecurityError(f"no BCB from {args.source} to decrypt", reason_code=ReasonCode.MISSING_SECURITY_OPERATION)
    result = decrypt(bundle, _by_source(args.source, key))
    _write(args.output, result)
    _console().print(f"decrypted blocks {sorted(op.target for op in before)}")
    return 0
