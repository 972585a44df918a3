"""`dark-agg report --journal FILE --out DIR`: the venue analysis from an engine journal.

Prints the table (fills, fill rate, mean fill size, markouts per horizon with 95% CIs, per venue and
by order size; definitions in :mod:`engine.analysis.venue_report`), writes ``report.json`` with
every figure and, when the journal has markouts, the plots, then prints the paths written.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", required=True, type=Path, metavar="FILE",
                        help="the engine's journal (SQLite; read only)")
    parser.add_argument("--out", default=Path("out/report"), type=Path, metavar="DIR",
                        help="directory for report.json and the plots (default: %(default)s)")
    parser.add_argument("--since", type=float, default=None, metavar="SECONDS-EPOCH",
                        help="only fills booked (and children sent) at or after this time, seconds since the epoch")
    parser.add_argument("--horizons", type=_horizons, default=None, metavar="SECONDS,...",
                        help="only these markout horizons, e.g. 1,10 (default: every horizon the journal has)")


def _horizons(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds separated by commas, e.g. 1,10") from None
    if not values or any(not value > 0 for value in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive seconds, e.g. 1,10")
    return values


def run(args: argparse.Namespace) -> int:
    from engine.analysis.venue_report import ReportError, format_table, venue_report

    if not args.journal.is_file():
        return _fail(f"no journal at {args.journal}" + (" (it is a directory)" if args.journal.is_dir() else ""))
    try:
        report = venue_report(args.journal, since=args.since, horizons=args.horizons)
    except (FileNotFoundError, ReportError) as error:
        return _fail(str(error))
    except sqlite3.DatabaseError as error:
        return _fail(f"{args.journal} is not a readable engine journal: {error}")
    print(format_table(report))

    try:
        written = write_report(report, args.out)
    except OSError as error:
        return _fail(f"cannot write to {args.out}: {error}")
    print()
    if not report.has_markouts:
        print("no markout plots: the journal has no markouts (run the engine with its market-data feed)")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def write_report(report, out: Path) -> list[Path]:
    """``report.json`` and, when the journal has markouts, the plots in ``out``; the paths written."""
    from engine.analysis.report_plots import write_report_plots

    out.mkdir(parents=True, exist_ok=True)
    document = out / "report.json"
    document.write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    return [document, *write_report_plots(report, out)]


def _fail(message: str) -> int:
    print(f"dark-agg report: {message}", file=sys.stderr)
    return 2
