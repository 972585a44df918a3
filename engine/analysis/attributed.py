"""Each venue's markout attributed from whole sweeps, the way the engine's learner sees it.

The engine's fills share one primary midpoint: when a toxic venue's informed contra fills one
child of a sweep, the midpoint moves against us for every child of that sweep. A clean venue that
often fills beside the toxic one then shows the same poor mean markout, and the per-venue mean of
the main table blames it. So, per horizon, each sweep (the children sharing ``parent.run.sweep``,
:func:`engine.domain.ids.sweep_key`) whose fills have a markout at that horizon is one observation:
its share-weighted mean markout, explained by which venues filled in it,

    y = common + sum_i move_i x_i + noise,      x_i = 1 if venue i filled in the sweep,

fitted by ordinary least squares (:class:`~engine.allocation.attribution.SweepAttribution` without
its prior: a report shows what the data say, the learner's shrinkage is the learner's). ``move_i`` is
what venue i's filling adds to the sweep's markout whoever fills beside it; ``common`` is the move
every sweep shows whichever venues fill (our own earlier fills moving the price, the market's
drift). The report's sign: positive = in our favour (the learner fits the adverse move, -bps, and
its coefficients are negated here). The 95% CI is +- 1.96 se, the classic least-squares standard
error over sweeps; NaN when a venue never filled or there are no more sweeps than columns.

A move the sweeps cannot tell apart from others (a venue that fills in every sweep is the common
move; two venues that always fill together are one column twice) is NaN with its standard error:
the fit has no ridge to pick a split, and the classic standard error of an arbitrary split would
look narrow.

Also here, because the venue report builds on this module (and not the other way round): the
report's 1.96, horizon labels, the natural order of venue names and the aligned table layout.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.allocation.attribution import SweepAttribution, sweep_rows
from engine.domain.ids import sweep_key

Z_95 = 1.96
COMMON = "common"
NAN = float("nan")
TITLE = ("attributed markout per venue (sweep regression: each sweep's fills share one midpoint, so a venue's "
         "own effect is separated from its co-fillers'; common = the move every sweep shows)")
DEFINITION = ("per horizon, one observation per sweep (children sharing parent.run.sweep) with fills marked out "
              "at it: the sweep's share-weighted mean markout = common + sum of the moves of the venues that "
              "filled in it, ordinary least squares; bps positive = in our favour; ci95 = +- 1.96 se (classic "
              "least-squares se over sweeps), null when the venue never filled or sweeps <= fitted columns; bps "
              "and ci95 null for a venue the sweeps cannot tell apart from common or another venue; "
              "sweeps = the sweeps the venue filled in (with a markout at the horizon)")


def natural_key(name: str) -> tuple:
    """Venue names in the order a desk counts them: V1, V2, ..., V10 (not V1, V10, V2); digit runs
    compare as numbers, the rest as text, the name itself breaks ties (V01 against V1)."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(part) if k % 2 else part for k, part in enumerate(parts)), name


def horizon_label(horizon_seconds: float) -> str:
    return f"{horizon_seconds:g}s"


def aligned(header: list[str], body: list[list[str]], footer: list[list[str]]) -> list[str]:
    """A text table: the first column left-aligned, the others right-aligned, rules under the header
    and above the footer rows."""
    widths = [max(len(cells[i]) for cells in [header, *body, *footer]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(header))
    return [line(header), rule, *(line(cells) for cells in body), rule, *(line(cells) for cells in footer)]


@dataclass(frozen=True)
class AttributedMove:
    horizon_seconds: float
    sweeps: int         # the sweeps the venue filled in with a markout at this horizon (common: all)
    bps: float          # positive = in our favour; NaN without sweeps
    se_bps: float       # NaN without sweeps or with no more sweeps than columns

    @property
    def ci_low_bps(self) -> float:
        return self.bps - Z_95 * self.se_bps

    @property
    def ci_high_bps(self) -> float:
        return self.bps + Z_95 * self.se_bps

    def to_dict(self) -> dict:
        return {"horizon_seconds": self.horizon_seconds, "sweeps": self.sweeps, "bps": _number(self.bps),
                "se_bps": _number(self.se_bps), "ci95_low_bps": _number(self.ci_low_bps),
                "ci95_high_bps": _number(self.ci_high_bps)}


@dataclass(frozen=True)
class AttributedRow:
    venue: str                          # or COMMON
    sweeps: int                         # the sweeps it filled in, at any horizon (common: all sweeps)
    moves: tuple[AttributedMove, ...]   # one per horizon, in order

    def move(self, horizon_seconds: float) -> AttributedMove:
        return next(m for m in self.moves if m.horizon_seconds == horizon_seconds)

    def to_dict(self) -> dict:
        return {"venue": self.venue, "sweeps": self.sweeps, "markouts": [m.to_dict() for m in self.moves]}


@dataclass(frozen=True)
class Attribution:
    horizons: tuple[float, ...]
    venues: tuple[AttributedRow, ...]   # the venues with a marked-out fill, in the order given
    common: AttributedRow

    def row(self, venue: str) -> AttributedRow:
        return next(row for row in self.venues if row.venue == venue)

    def to_dict(self) -> dict:
        return {"definition": DEFINITION, "venues": [row.to_dict() for row in self.venues],
                "common": self.common.to_dict()}


def attribute(fills: Sequence[dict], horizons: Sequence[float], venues: Sequence[str]) -> Attribution:
    """The attribution of ``fills`` (dicts with venue, child_id, quantity and bps: {horizon: bps} of
    the markouts it has) over ``venues`` (their order is kept; a venue without a marked-out fill is
    left out)."""
    index = {venue: i for i, venue in enumerate(venues)}
    marked = [f for f in fills if f["bps"] and f["venue"] in index]
    filled_in: dict[str, set[str]] = defaultdict(set)
    for f in marked:
        filled_in[f["venue"]].add(sweep_key(f["child_id"]))
    fits = [_fit(marked, h, index) for h in horizons]
    rows = tuple(AttributedRow(venue, len(filled_in[venue]),
                               tuple(AttributedMove(h, int(counts[i + 1]), float(theta[i + 1]),
                                                    float(se[i + 1]))
                                     for h, (theta, se, counts) in zip(horizons, fits)))
                 for venue, i in index.items() if filled_in[venue])
    every = len({sweep_key(f["child_id"]) for f in marked})
    common = AttributedRow(COMMON, every, tuple(AttributedMove(h, int(counts[0]), float(theta[0]), float(se[0]))
                                                for h, (theta, se, counts) in zip(horizons, fits)))
    return Attribution(tuple(horizons), rows, common)


def _fit(fills: list[dict], horizon: float, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the moves (common first, in our favour), their standard errors, the sweeps per column) at
    one horizon; NaN moves for the venues that filled in no sweep."""
    marked = [f for f in fills if horizon in f["bps"]]
    shares, adverse = sweep_rows(((sweep_key(f["child_id"]), index[f["venue"]], f["quantity"], -f["bps"][horizon])
                                  for f in marked), len(index))
    happened = shares > 0.0
    sweeps = len(shares)
    fit = SweepAttribution(len(index), prior_fills=0.0)
    fit.record(shares, adverse)
    counts = np.concatenate([[sweeps], happened.sum(axis=0)])
    known = (counts > 0) & ~_unidentified(fit.gram, counts > 0)
    return np.where(known, -fit.coefficients(), np.nan), np.where(known, fit.standard_errors(), np.nan), counts


def _unidentified(gram: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The columns (of those observed) in a direction the sweeps do not see: the null space of the
    observed part of the gram matrix."""
    unidentified = np.zeros(len(gram), dtype=bool)
    if not observed.any() or gram[0, 0] == 0.0:
        return unidentified
    values, vectors = np.linalg.eigh(gram[np.ix_(observed, observed)])
    null = vectors[:, values <= 1e-9 * values.max()]
    unidentified[observed] = (np.abs(null) > 1e-6).any(axis=1)
    return unidentified


def format_move(move: AttributedMove) -> str:
    if move.sweeps == 0:
        return "-"
    if math.isnan(move.bps):
        return "n/a"  # not separable from the other columns
    half = "n/a" if math.isnan(move.se_bps) else f"{Z_95 * move.se_bps:.2f}"
    return f"{move.bps:+.2f} ± {half}"


def format_attributed(attribution: Attribution) -> list[str]:
    """The attributed table's lines (a title, what it means, the venues and the common row)."""
    lines = [*textwrap.wrap(TITLE + ":", width=100),
             "a venue's bps = what its filling adds to its sweep's share-weighted markout whoever fills beside it",
             "(least squares over sweeps; positive = in our favour); ± = 95% CI half-width (1.96 se); sweeps = the",
             "sweeps it filled in; n/a with no more sweeps than fitted columns, or for a venue the sweeps cannot",
             "tell apart from the common move or another venue (e.g. one that fills in every sweep).", ""]
    header = ["venue", "sweeps"] + [f"{horizon_label(h)} bps ± CI" for h in attribution.horizons]

    def cells(row: AttributedRow) -> list[str]:
        return [row.venue, f"{row.sweeps:,}"] + [format_move(m) for m in row.moves]

    return lines + aligned(header, [cells(row) for row in attribution.venues], [cells(attribution.common)])


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
