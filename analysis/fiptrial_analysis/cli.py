"""Command line: ``python -m fiptrial_analysis report FILE [--json] [--html OUT]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .participants import read_participants, read_spells
from .pilot import pilot_participants, pilot_reproduction, write_csv
from .plan import read_plan_file
from .report import DEFAULT_COST_PER_BENEFIT_YEAR, build_report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fiptrial_analysis", description="Pooled analysis of the FIP trial."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="analyse a participant file")
    report.add_argument("file", help="participant CSV, one row per allocated participant")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--html", metavar="OUT", help="write a self-contained HTML report")
    report.add_argument(
        "--cost-per-benefit-year",
        type=float,
        default=DEFAULT_COST_PER_BENEFIT_YEAR,
        metavar="EUR",
        help="cost of one year on benefit (default %(default).0f)",
    )
    report.add_argument(
        "--consort",
        metavar="JSON",
        help="sidecar with CONSORT counts the file cannot hold (assessed, eligible, ...)",
    )
    report.add_argument(
        "--spells",
        metavar="CSV",
        help="the spells file (default: FILE's stem + _spells + suffix, when it exists)",
    )
    report.add_argument(
        "--plan",
        metavar="JSON",
        help="the trial's analysis plan (default: FILE's stem + .plan.json, when it exists)",
    )
    pilot = commands.add_parser(
        "pilot", help="print the pilot's participants rebuilt from Table 4.1"
    )
    pilot.add_argument(
        "--report",
        action="store_true",
        help="print the pilot report's own comparison and its sensitivity to the end reasons "
        "(JSON, from Table 4.1's counts; the pilot has no dates)",
    )
    return parser


def _plain(value: object) -> object:
    """Result objects as JSON values (the pilot report)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def _beside(source: Path, name: str) -> str | None:
    candidate = source.with_name(name)
    return str(candidate) if candidate.exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "pilot":
        if args.report:
            json.dump(_plain(pilot_reproduction()), sys.stdout, indent=1, allow_nan=False)
            sys.stdout.write("\n")
        else:
            write_csv(pilot_participants(), sys.stdout)
        return 0
    try:
        consort = None
        if args.consort:
            with open(args.consort, encoding="utf-8") as handle:
                consort = json.load(handle)
        source = Path(args.file)
        spells_file = args.spells or _beside(source, f"{source.stem}_spells{source.suffix}")
        plan_file = args.plan or _beside(source, f"{source.stem}.plan.json")
        report = build_report(
            read_participants(args.file),
            cost_per_benefit_year=args.cost_per_benefit_year,
            consort=consort,
            spells=read_spells(spells_file) if spells_file else None,
            plan=read_plan_file(plan_file) if plan_file else None,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in report["plan"]["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    if args.html:
        # matplotlib loads only when an HTML report is asked for.
        from .html import render_html

        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_html(report))
    if args.json or not args.html:
        json.dump(report, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    return 0
