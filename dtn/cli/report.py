"""`dtn report DIR`: print a run's report and write its plots and HTML page."""

from __future__ import annotations

import json
import pathlib

from dtn.cli.common import add_parser


def register(subparsers) -> None:
    p = add_parser(
        subparsers,
        "report",
        help="print the report of a replay/simulation run directory and write plots + index.html",
        example="dtn report ./dtn-demo",
    )
    p.add_argument("run_dir", help="directory written by dtn simulate / dtn replay / dtn demo")
    p.add_argument("--no-plots", action="store_true", help="print the tables only")
    p.add_argument(
        "--map-at",
        metavar="DURATION",
        default=None,
        help="plan time the world map shows (e.g. 5h; default: the middle of the outage)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from dtn.twin.report import load_report

    report = load_report(args.run_dir)
    if args.json:
        print(json.dumps(report.summary(), indent=2))
        return 0
    from dtn.cli.reportview import render_report

    render_report(report)
    if not args.no_plots:
        from dtn.twin.plots import write_html, write_plots

        out = pathlib.Path(args.run_dir)
        from dtn.cli.common import parse_duration_s

        map_at_s = parse_duration_s(args.map_at) if args.map_at else None
        plots = write_plots(report, out, map_at_s=map_at_s)
        page = write_html(report, out, plots)
        print(f"plots and {page} written")
    return 0
