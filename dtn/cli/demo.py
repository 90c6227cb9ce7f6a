"""`dtn demo`: the first thing a new user runs."""

from __future__ import annotations

from dtn.cli.common import add_parser


def register(subparsers) -> None:
    p = add_parser(subparsers, "demo", help="run the space cloud demo scenario", example="dtn demo")
    p.add_argument("--scenario", default="milsca", help="scenario name (default: milsca)")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from dtn.sim import demo  # the digital-twin demo, once it exists
    except ModuleNotFoundError:
        demo = None
    if demo is not None:
        return demo.main(args)
    print("The full demo (the milsca scenario in the digital twin) is not built yet. Available now:")
    print("  dtn --help          every command")
    print("  dtn bundle --help   create, show, validate, encode and decode BPv7 bundles")
    print("  dtn plan --help     generate contact plans from orbits, convert, show, plot")
    print("  dtn route --help    contact graph routing over a plan")
    return 0
