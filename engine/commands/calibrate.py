"""``dark-agg calibrate``: venue liquidity profiles from trade prints and/or our child outcomes.

    dark-agg calibrate --prints prints.csv [--outcomes outcomes.csv] [--fill-probability V1=0.3 ...]
                       [--market config/markets/lse.yaml] [--out market.yaml]
    dark-agg calibrate --simulate-from config/markets/lse.yaml --rounds 20000 --seed 7 \\
                       --write-prints prints.csv --write-outcomes outcomes.csv

The edge around :mod:`engine.allocation.calibration`: reads and validates the CSVs (every error names
the file, the line and the value), prints the seed's Table 1, writes the market profile YAML through
:func:`engine.config.market_to_dict` only after it has loaded back cleanly, atomically.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import yaml

from engine.allocation import calibration
from engine.allocation.calibration import CalibrationError, OutcomeEstimate, PrintEstimate
from engine.allocation.profiles import MarketProfile, ProfileError, VenueProfile
from engine.config import ConfigError, load_market, market_from_dict, market_to_dict

PRINT_COLUMNS = ("venue", "size")
OUTCOME_COLUMNS = ("venue", "sent", "filled")
RULE_KEYS = ("lot_size", "min_order_size", "max_order_size")


class CalibrationInputError(ValueError):
    """Bad input to the command: the message names the file, the line and the value."""


@dataclass(frozen=True, kw_only=True)
class VenueRow:
    """One line of Table 1 and one venue of the written profile."""

    name: str
    fill_probability: float | None  # None: unknown (prints alone never show the zero bin)
    fill_probability_se: float | None
    tail_exponent: float
    tail_exponent_se: float
    min_size: int
    max_size: int
    average_size: float
    largest_size: int
    observations: int


def configure(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--prints", type=Path, metavar="CSV",
                      help="trade prints, header venue,size: tail exponent, scale, average and maximum size")
    data.add_argument("--outcomes", type=Path, metavar="CSV",
                      help="our child outcomes, header venue,sent,filled: fill probability and tail by "
                           "censored maximum likelihood")
    data.add_argument("--fill-probability", action="append", default=[], metavar="VENUE=Q",
                      help="fill probability of a venue (repeatable); overrides the outcomes' estimate")
    data.add_argument("--min-tail-points", type=int, default=calibration.DEFAULT_MIN_TAIL_POINTS,
                      metavar="N", help="fewest prints above a candidate scale x_min (default %(default)s)")
    out = parser.add_argument_group("market profile")
    out.add_argument("--out", type=Path, metavar="FILE", help="write the market profile YAML here")
    out.add_argument("--market", type=Path, metavar="FILE",
                     help="take market-level keys and venue rules (lot, order sizes) from this market file")
    out.add_argument("--name", help="market name (default: from --market, else from the data file)")
    out.add_argument("--currency", help="currency (default: from --market, else USD)")
    out.add_argument("--reference-price", type=float, metavar="PRICE",
                     help="reference price per share (default: from --market, else 1.0)")
    out.add_argument("--min-notional", type=float, metavar="AMOUNT",
                     help="smallest study order, in currency (default: from --market, else smallest scale)")
    out.add_argument("--max-notional", type=float, metavar="AMOUNT",
                     help="largest study order, in currency (default: from --market, else largest truncation)")
    sample = parser.add_argument_group("sample data (instead of calibrating)")
    sample.add_argument("--simulate-from", type=Path, metavar="MARKET",
                        help="draw prints and outcomes from this market profile")
    sample.add_argument("--rounds", type=int, default=20000, help="rounds to simulate (default %(default)s)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    sample.add_argument("--write-prints", type=Path, metavar="CSV")
    sample.add_argument("--write-outcomes", type=Path, metavar="CSV")


def run(args: argparse.Namespace) -> int:
    try:
        if args.simulate_from is not None:
            return _simulate(args)
        return _calibrate(args)
    except (CalibrationInputError, CalibrationError, ConfigError, ProfileError) as error:
        print(f"dark-agg calibrate: error: {error}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------- calibrate


def _calibrate(args: argparse.Namespace) -> int:
    if args.prints is None and args.outcomes is None:
        raise CalibrationInputError("give --prints and/or --outcomes (or --simulate-from to make sample data)")
    prints = calibration.estimate_from_prints(read_prints(args.prints), args.min_tail_points) \
        if args.prints is not None else {}
    outcomes = calibration.estimate_from_outcomes(read_outcomes(args.outcomes)) \
        if args.outcomes is not None else {}
    overrides = parse_fill_probabilities(args.fill_probability, set(prints) | set(outcomes))
    rows = combine(prints, outcomes, overrides)
    print(format_table(rows, _table_notes(args, prints, outcomes, overrides)))
    if args.out is not None:
        base = load_market(args.market) if args.market is not None else None
        market = build_market(rows, args, base, describe_source(args, prints, outcomes, overrides))
        write_market(market, args.out)
        print(f"\nwrote {args.out} ({len(market.venues)} venues)")
    return 0


def combine(prints: dict[str, PrintEstimate], outcomes: dict[str, OutcomeEstimate],
            overrides: dict[str, float]) -> list[VenueRow]:
    """Per venue: the tail and sizes from prints when there are any (uncensored), else from
    outcomes; the fill probability from an override, else from outcomes, else unknown."""
    rows = []
    for name in list(prints) + [n for n in outcomes if n not in prints]:
        printed, outcome = prints.get(name), outcomes.get(name)
        if printed is not None:
            tail = printed.tail
            row = VenueRow(name=name, fill_probability=None, fill_probability_se=None,
                           tail_exponent=tail.tail_exponent, tail_exponent_se=tail.tail_exponent_se,
                           min_size=tail.min_size, max_size=tail.max_size,
                           average_size=printed.average_size, largest_size=printed.largest_size,
                           observations=printed.observations)
        else:
            row = VenueRow(name=name, fill_probability=None, fill_probability_se=None,
                           tail_exponent=outcome.tail_exponent, tail_exponent_se=outcome.tail_exponent_se,
                           min_size=outcome.min_size, max_size=outcome.max_size,
                           average_size=outcome.mean_fill, largest_size=outcome.largest_fill,
                           observations=outcome.children)
        if name in overrides:
            row = replace(row, fill_probability=overrides[name])
        elif outcome is not None:
            row = replace(row, fill_probability=outcome.fill_probability,
                          fill_probability_se=outcome.fill_probability_se)
        rows.append(row)
    return rows


def format_table(rows: list[VenueRow], notes: list[str]) -> str:
    """The seed's Table 1: sorted by average size, descending."""
    header = ("venue", "fill probability", "tail exponent", "min size", "average size",
              "maximum size", "observations")
    lines = []
    for row in sorted(rows, key=lambda r: r.average_size, reverse=True):
        if row.fill_probability is None:
            fill = "unknown"
        elif row.fill_probability_se is None:
            fill = f"{100 * row.fill_probability:.2f}% (given)"
        else:
            fill = f"{100 * row.fill_probability:.2f}% ± {100 * row.fill_probability_se:.2f}%"
        lines.append((row.name, fill, f"{row.tail_exponent:.3f} ± {row.tail_exponent_se:.3f}",
                      f"{row.min_size:,}", f"{row.average_size:,.0f}", f"{row.largest_size:,}",
                      f"{row.observations:,}"))
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]
    render = lambda cells: "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                     for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()
    rule = "-" * len(render(header))
    return "\n".join([render(header), rule, *map(render, lines), rule, *notes])


def _table_notes(args, prints, outcomes, overrides) -> list[str]:
    notes = []
    if prints:
        notes.append(f"tail exponent, min size (x_min), sizes, observations: prints in {args.prints} "
                     "(truncated Pareto MLE above the KS-optimal x_min; ± standard error)")
    if outcomes:
        notes.append(f"fill probability: censored MLE of child outcomes in {args.outcomes} "
                     "(± binomial standard error)")
        if any(name not in prints for name in outcomes):
            notes.append("venues without prints: tail by censored MLE; average and maximum size are "
                         "of our positive fills, which our child sizes cap (a lower bound)")
    if overrides:
        notes.append("fill probability marked (given): from --fill-probability")
    if any(name not in outcomes and name not in overrides for name in prints):
        notes.append("fill probability unknown: prints only show trades that happened, never the "
                     "zero bin; give --outcomes or --fill-probability VENUE=Q")
    return notes


def parse_fill_probabilities(entries: list[str], venues: set[str]) -> dict[str, float]:
    parsed = {}
    for entry in entries:
        name, equals, text = entry.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not equals or not 0.0 < value <= 1.0:
            raise CalibrationInputError(
                f"--fill-probability {entry!r}: expected VENUE=Q with Q a probability in (0, 1]")
        if name not in venues:
            raise CalibrationInputError(
                f"--fill-probability {entry!r}: no venue {name!r} in the data; venues: {sorted(venues)}")
        parsed[name] = value
    return parsed


# ---------------------------------------------------------------- market profile


def build_market(rows: list[VenueRow], args: argparse.Namespace, base: MarketProfile | None,
                 source: str) -> MarketProfile:
    unknown = [row.name for row in rows if row.fill_probability is None]
    if unknown:
        raise CalibrationInputError(
            f"cannot write {args.out}: fill probability unknown for {unknown} (prints never show the "
            "zero bin); give --outcomes CSV or --fill-probability VENUE=Q")
    base_venues = {venue.name: venue for venue in base.venues} if base is not None else {}
    by_name = {row.name: row for row in rows}
    # The market file's venue order first (readers compare with it), then venues it does not have.
    order = [n for n in base_venues if n in by_name] + [r.name for r in rows if r.name not in base_venues]
    venues = tuple(
        VenueProfile(name=name, fill_probability=_significant(by_name[name].fill_probability),
                     tail_exponent=_significant(by_name[name].tail_exponent),
                     min_size=by_name[name].min_size, max_size=by_name[name].max_size,
                     **({key: getattr(base_venues[name], key) for key in RULE_KEYS}
                        if name in base_venues else {}))
        for name in order)
    price = _first(args.reference_price, base and base.reference_price, 1.0)
    pair = base.regime_switch_venues if base is not None else None
    market = MarketProfile(
        name=_first(args.name, base and base.name, f"calibrated from {_data_file(args).stem}"),
        currency=_first(args.currency, base and base.currency, "USD"),
        reference_price=price,
        min_notional=_first(args.min_notional, base and base.min_notional,
                            price * min(v.min_size for v in venues)),
        max_notional=_first(args.max_notional, base and base.max_notional,
                            price * max(v.max_size for v in venues)),
        venues=venues,
        regime_switch_venues=pair if pair is not None and all(n in by_name for n in pair) else None,
        source=source)
    # What load_market will see: fail here, before anything is written, if it would not load.
    return market_from_dict(market_to_dict(market))


def describe_source(args, prints, outcomes, overrides) -> str:
    parts = ["Calibrated by `dark-agg calibrate`."]
    if prints:
        parts.append(
            f"Trade prints {args.prints} ({sum(p.observations for p in prints.values())} prints, "
            f"{len(prints)} venues): tail_exponent is the maximum-likelihood estimate of a Pareto "
            "truncated at max_size (largest print + 1, its MLE) on whole-share sizes, min_size the "
            "scale x_min minimising the Kolmogorov-Smirnov distance (Clauset, Shalizi & Newman 2009) "
            f"with at least {args.min_tail_points} prints above.")
    if outcomes:
        parts.append(
            f"Child outcomes {args.outcomes} ({sum(o.children for o in outcomes.values())} children, "
            f"{len(outcomes)} venues): fill_probability = positive fills / children"
            + (" (censored MLE); venues without prints take tail_exponent, min_size and max_size from "
               "the censored MLE of zero bin + truncated Pareto (max_size = twice the largest size seen)"
               if any(n not in prints for n in outcomes) else "") + ".")
    if overrides:
        parts.append("Given on the command line: fill_probability of " + ", ".join(sorted(overrides)) + ".")
    if args.market is not None:
        parts.append(f"Market-level keys and venue rules from {args.market} unless given as options.")
    return " ".join(parts)


def write_market(market: MarketProfile, path: Path) -> None:
    text = "# Market profile written by `dark-agg calibrate`; see `source`.\n" + \
        yaml.safe_dump(market_to_dict(market), sort_keys=False, width=100)
    _write_atomically({path: lambda handle: handle.write(text)})


def _significant(value: float) -> float:
    return float(f"{value:.4g}")


def _first(*candidates):
    return next(c for c in candidates if c is not None and c is not False)


def _data_file(args) -> Path:
    return args.prints if args.prints is not None else args.outcomes


# ---------------------------------------------------------------- CSV input


def read_prints(path: Path) -> dict[str, np.ndarray]:
    sizes: dict[str, list[float]] = {}
    for line, venue, row in _rows(path, PRINT_COLUMNS):
        sizes.setdefault(venue, []).append(_shares(row["size"], "size", path, line, minimum=1))
    return {venue: np.array(values) for venue, values in sizes.items()}


def read_outcomes(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    columns: dict[str, tuple[list[float], list[float]]] = {}
    for line, venue, row in _rows(path, OUTCOME_COLUMNS):
        sent = _shares(row["sent"], "sent", path, line, minimum=1)
        filled = _shares(row["filled"], "filled", path, line, minimum=0)
        if filled > sent:
            raise CalibrationInputError(
                f"{path}, line {line}: filled = {row['filled']!r} is more than sent = {row['sent']!r}")
        sent_list, filled_list = columns.setdefault(venue, ([], []))
        sent_list.append(sent)
        filled_list.append(filled)
    return {venue: (np.array(s), np.array(f)) for venue, (s, f) in columns.items()}


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, str, dict]]:
    """(line number, venue, row) for each data row; extra columns are ignored."""
    try:
        handle = open(path, newline="")
    except FileNotFoundError:
        raise CalibrationInputError(f"{path}: no such file") from None
    except OSError as error:
        raise CalibrationInputError(f"{path}: cannot read ({error.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in required if name not in header]
        if missing:
            raise CalibrationInputError(
                f"{path}, line 1: missing column(s) {missing}; expected a header with {','.join(required)}")
        reader.fieldnames = header
        count = 0
        for row in reader:
            if None in row or any(row[name] is None for name in required):
                raise CalibrationInputError(
                    f"{path}, line {reader.line_num}: expected {len(header)} comma-separated fields "
                    f"({','.join(header)})")
            venue = row["venue"].strip()
            if not venue:
                raise CalibrationInputError(f"{path}, line {reader.line_num}: empty venue")
            count += 1
            yield reader.line_num, venue, row
        if count == 0:
            raise CalibrationInputError(f"{path}: no data rows after the header")


def _shares(text: str, column: str, path: Path, line: int, minimum: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value.is_integer() and value >= minimum):
        raise CalibrationInputError(
            f"{path}, line {line}: {column} = {text!r}, expected a whole number of shares >= {minimum}")
    return value


# ---------------------------------------------------------------- sample data


def _simulate(args: argparse.Namespace) -> int:
    if args.write_prints is None and args.write_outcomes is None:
        raise CalibrationInputError("--simulate-from needs --write-prints CSV and/or --write-outcomes CSV")
    if args.rounds < 1:
        raise CalibrationInputError(f"--rounds = {args.rounds}, expected a whole number >= 1")
    market = load_market(args.simulate_from)
    rng = np.random.default_rng(args.seed)
    writers: dict[Path, Callable] = {}
    if args.write_prints is not None:
        prints = calibration.simulate_prints(market, args.rounds, rng)
        writers[args.write_prints] = lambda handle: _write_rows(
            handle, PRINT_COLUMNS, ((venue, size) for venue, sizes in prints.items() for size in sizes))
    if args.write_outcomes is not None:
        outcomes = calibration.simulate_outcomes(market, args.rounds, rng)
        writers[args.write_outcomes] = lambda handle: _write_rows(
            handle, OUTCOME_COLUMNS, ((venue, s, f) for venue, (sent, filled) in outcomes.items()
                                      for s, f in zip(sent, filled)))
    _write_atomically(writers)
    fills = ", ".join(f"{v.name}={v.fill_probability:g}" for v in market.venues)
    print(f"wrote {', '.join(map(str, writers))} from {args.simulate_from} "
          f"({args.rounds} rounds, seed {args.seed}); true fill probabilities: {fills}")
    return 0


def _write_rows(handle, header: tuple[str, ...], rows) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    writer.writerows((row[0], *(int(x) for x in row[1:])) for row in rows)


def _write_atomically(writers: dict[Path, Callable]) -> None:
    """Write every file to a temporary sibling, then rename them all: no half-written outputs."""
    temporary: dict[Path, str] = {}
    try:
        for path, write in writers.items():
            descriptor, name = tempfile.mkstemp(dir=Path(path).parent or ".", prefix=f".{Path(path).name}.")
            temporary[path] = name
            with os.fdopen(descriptor, "w", newline="") as handle:
                write(handle)
            os.chmod(name, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs are ordinary files
        for path, name in temporary.items():
            os.replace(name, path)
    except OSError as error:
        raise CalibrationInputError(f"cannot write {error.filename or ''}: {error.strerror}") from None
    finally:
        for name in temporary.values():
            if os.path.exists(name):
                os.remove(name)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
