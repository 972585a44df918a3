"""The venue report a desk reads every morning, computed from an engine journal (read only).

Per venue, overall and by order-size bucket:

- fills: the number of fill rows at the venue (booked or not); filled shares: the sum of their quantities.
- fill rate: sum(children.cum_qty) / sum(children.quantity) over the venue's children that were not
  rejected (a child the venue refused never had a chance to fill).
- mean fill size: filled shares / fills.
- markout at horizon h: the share-weighted mean of the bps over the venue's fills that have a markout
  at h, positive = the price moved in our favour (after a buy the midpoint rose). Its 95% confidence
  interval is mean +- 1.96 se with a share-weighted standard error: weights w = fill quantities,
  weighted variance sum(w (x - mean)^2) / (sum(w) - sum(w^2) / sum(w)) (unbiased for reliability
  weights; the sample variance when all fills are the same size), effective sample size
  n_eff = sum(w)^2 / sum(w^2), se = sqrt(variance / n_eff). n is the number of fills with a markout at h;
  with n < 2 the interval is NaN ("n/a").
- size buckets: by the parent's original quantity in shares, "<1k", "1k-10k", "10k-100k", "100k-1M",
  ">=1M" (a fill or child whose parent the journal lacks goes to "unknown"); only buckets with fills.
- the "all venues" row: the same figures over every venue's fills and children.
- attributed markouts (overall only): each venue's markout separated from its co-fillers' by a
  regression over sweeps, since the fills of a sweep share one midpoint (:mod:`engine.analysis.attributed`).

Venues are in their natural order (V1, V2, ..., V10).

The horizons are the ones present in the journal's markouts. ``since`` (seconds since the epoch)
keeps the fills booked at or after it and the children sent at or after it.
No printing and no plotting here: :func:`format_table` returns the text, the command prints it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.analysis.attributed import (DEFINITION as ATTRIBUTED, Z_95, Attribution, aligned, attribute,
                                       format_attributed, horizon_label, natural_key)
from engine.journal.tables import column_dicts, connect

ALL_VENUES = "all venues"
UNKNOWN_BUCKET = "unknown"
# (name, lowest original quantity, first quantity above the bucket)
SIZE_BUCKETS = (("<1k", 0, 1_000), ("1k-10k", 1_000, 10_000), ("10k-100k", 10_000, 100_000),
                ("100k-1M", 100_000, 1_000_000), (">=1M", 1_000_000, None))
JOURNAL_TABLES = ("parents", "children", "fills")
NAN = float("nan")


class ReportError(ValueError):
    """The journal cannot give a report (no markouts table, no fills, not a journal)."""


@dataclass(frozen=True)
class Markout:
    horizon_seconds: float
    fills: int          # n: fills with a markout at this horizon
    shares: int
    mean_bps: float     # share-weighted, positive = in our favour; NaN without fills
    se_bps: float       # share-weighted standard error; NaN with fewer than 2 fills

    @property
    def ci_low_bps(self) -> float:
        return self.mean_bps - Z_95 * self.se_bps

    @property
    def ci_high_bps(self) -> float:
        return self.mean_bps + Z_95 * self.se_bps

    def to_dict(self) -> dict:
        return {"horizon_seconds": self.horizon_seconds, "fills": self.fills, "shares": self.shares,
                "mean_bps": _number(self.mean_bps), "se_bps": _number(self.se_bps),
                "ci95_low_bps": _number(self.ci_low_bps), "ci95_high_bps": _number(self.ci_high_bps)}


@dataclass(frozen=True)
class VenueRow:
    venue: str
    fills: int
    filled_shares: int
    children: int              # not rejected
    child_shares: int          # their quantities
    child_filled_shares: int   # their cum_qty
    rejected_children: int
    markouts: tuple[Markout, ...]   # one per report horizon, in order

    @property
    def fill_rate(self) -> float:
        return self.child_filled_shares / self.child_shares if self.child_shares else NAN

    @property
    def mean_fill_size(self) -> float:
        return self.filled_shares / self.fills if self.fills else NAN

    def markout(self, horizon_seconds: float) -> Markout:
        return next(m for m in self.markouts if m.horizon_seconds == horizon_seconds)

    def to_dict(self) -> dict:
        return {"venue": self.venue, "fills": self.fills, "filled_shares": self.filled_shares,
                "mean_fill_size": _number(self.mean_fill_size), "fill_rate": _number(self.fill_rate),
                "children": self.children, "child_shares": self.child_shares,
                "child_filled_shares": self.child_filled_shares, "rejected_children": self.rejected_children,
                "markouts": [m.to_dict() for m in self.markouts]}


@dataclass(frozen=True)
class SizeBucket:
    name: str
    low: int | None            # original quantity, inclusive (None: unknown parent)
    high: int | None           # exclusive; None: no upper bound
    venues: tuple[VenueRow, ...]
    total: VenueRow

    def to_dict(self) -> dict:
        return {"bucket": self.name, "original_quantity_low": self.low, "original_quantity_high": self.high,
                "venues": [row.to_dict() for row in self.venues], "total": self.total.to_dict()}


@dataclass(frozen=True)
class VenueReport:
    journal: str
    since: float | None
    horizons: tuple[float, ...]
    venues: tuple[VenueRow, ...]
    total: VenueRow
    buckets: tuple[SizeBucket, ...]
    attributed: Attribution         # overall: the sweep regression has too few sweeps per bucket

    @property
    def has_markouts(self) -> bool:
        return bool(self.horizons)

    def to_dict(self) -> dict:
        return {"journal": self.journal, "since": self.since, "horizons_seconds": list(self.horizons),
                "definitions": DEFINITIONS, "venues": [row.to_dict() for row in self.venues],
                "total": self.total.to_dict(), "size_buckets": [bucket.to_dict() for bucket in self.buckets],
                "attributed": self.attributed.to_dict()}


DEFINITIONS = {
    "fills": "fill rows at the venue (booked or not); filled_shares: the sum of their quantities",
    "fill_rate": "sum(children.cum_qty) / sum(children.quantity) over the venue's children not rejected",
    "mean_fill_size": "filled_shares / fills",
    "markout": "share-weighted mean bps over the fills with a markout at the horizon; positive = the price moved "
               "in our favour (after a buy the midpoint rose)",
    "ci95": "mean +- 1.96 se; se = sqrt(weighted variance / n_eff), n_eff = (sum w)^2 / sum w^2, w = fill "
            "quantities; null with fewer than 2 fills",
    "size_bucket": "by the parent's original_quantity in shares",
    "attributed": ATTRIBUTED,
}


def weighted_markout(horizon_seconds: float, bps: np.ndarray, shares: np.ndarray) -> Markout:
    """The share-weighted mean of ``bps`` and its standard error (see the module's docstring)."""
    n = len(bps)
    if n == 0:
        return Markout(horizon_seconds, 0, 0, NAN, NAN)
    w = shares.astype(float)
    total = w.sum()
    mean = float((w * bps).sum() / total)
    se = NAN
    if n >= 2:
        squares = (w * w).sum()
        variance = float((w * (bps - mean) ** 2).sum() / (total - squares / total))
        se = math.sqrt(variance / (total * total / squares))
    return Markout(horizon_seconds, n, int(shares.sum()), mean, se)


def size_bucket(original_quantity: int | None) -> str:
    if original_quantity is None:
        return UNKNOWN_BUCKET
    for name, low, high in SIZE_BUCKETS:
        if original_quantity >= low and (high is None or original_quantity < high):
            return name
    return UNKNOWN_BUCKET  # negative: not a real parent


def venue_report(path: Path, since: float | None = None, horizons: tuple[float, ...] | None = None) -> VenueReport:
    """The report of the journal at ``path`` (at the given markout ``horizons`` only, or all the
    journal has). Raises FileNotFoundError without a journal there and :class:`ReportError` for a
    journal without the markouts table or without fills."""
    connection = connect(Path(path), read_only=True)
    try:
        fills, markouts, children = _read(connection, path, since)
    finally:
        connection.close()
    if not fills:
        window = f" at or after {_when(since)}" if since is not None else ""
        raise ReportError(f"{path}: no fills{window}: nothing to report")
    if horizons is not None:
        markouts = [m for m in markouts if any(abs(m["horizon_seconds"] - h) < 1e-9 for h in horizons)]
    horizons = tuple(sorted({m["horizon_seconds"] for m in markouts}))
    by_fill: dict[tuple[str, str], dict[float, float]] = defaultdict(dict)
    for m in markouts:
        by_fill[(m["venue"], m["exec_id"])][m["horizon_seconds"]] = m["bps"]
    for f in fills:
        f["bucket"] = size_bucket(f["original_quantity"])
        f["bps"] = by_fill.get((f["venue"], f["exec_id"]), {})
    for c in children:
        c["bucket"] = size_bucket(c["original_quantity"])
    venues, total = _rows(fills, children, horizons)
    names = [name for name, _, _ in SIZE_BUCKETS] + [UNKNOWN_BUCKET]
    bounds = {name: (low, high) for name, low, high in SIZE_BUCKETS} | {UNKNOWN_BUCKET: (None, None)}
    buckets = []
    for name in names:
        bucket_fills = [f for f in fills if f["bucket"] == name]
        if bucket_fills:
            rows, bucket_total = _rows(bucket_fills, [c for c in children if c["bucket"] == name], horizons)
            buckets.append(SizeBucket(name, *bounds[name], rows, bucket_total))
    attributed = attribute(fills, horizons, [row.venue for row in venues])
    return VenueReport(str(path), since, horizons, venues, total, tuple(buckets), attributed)


def _read(connection, path, since: float | None) -> tuple[list[dict], list[dict], list[dict]]:
    tables = {row["name"] for row in column_dicts(connection, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [name for name in JOURNAL_TABLES if name not in tables]
    if missing:
        raise ReportError(f"{path} is not an engine journal (no {', '.join(missing)} table)")
    if "markouts" not in tables:
        raise ReportError(f"{path} has no markouts table: it was written by an engine from before markouts "
                          "were journaled (open it with the current engine to add the table)")
    start = -math.inf if since is None else since
    fills = column_dicts(connection, "SELECT f.venue, f.exec_id, f.child_id, f.quantity, p.original_quantity "
                                     "FROM fills f "
                                     "LEFT JOIN parents p ON p.parent_id = f.parent_id "
                                     "WHERE f.at >= ? AND f.quantity > 0", (start,))
    markouts = column_dicts(connection, "SELECT m.venue, m.exec_id, m.horizon_seconds, m.bps FROM markouts m "
                                        "JOIN fills f ON f.venue = m.venue AND f.exec_id = m.exec_id "
                                        "WHERE f.at >= ? AND f.quantity > 0", (start,))
    children = column_dicts(connection, "SELECT c.venue, c.quantity, c.cum_qty, c.state, p.original_quantity "
                                        "FROM children c LEFT JOIN parents p ON p.parent_id = c.parent_id "
                                        "WHERE c.sent_at >= ?", (start,))
    return fills, markouts, children


def _rows(fills: list[dict], children: list[dict], horizons: tuple[float, ...]) -> tuple[tuple[VenueRow, ...], VenueRow]:
    names = sorted({f["venue"] for f in fills} | {c["venue"] for c in children}, key=natural_key)
    rows = tuple(_row(name, [f for f in fills if f["venue"] == name], [c for c in children if c["venue"] == name],
                      horizons) for name in names)
    return rows, _row(ALL_VENUES, fills, children, horizons)


def _row(venue: str, fills: list[dict], children: list[dict], horizons: tuple[float, ...]) -> VenueRow:
    live = [c for c in children if c["state"] != "rejected"]
    markouts = []
    for h in horizons:
        marked = [f for f in fills if h in f["bps"]]
        markouts.append(weighted_markout(h, np.array([f["bps"][h] for f in marked], dtype=float),
                                         np.array([f["quantity"] for f in marked], dtype=float)))
    return VenueRow(venue=venue, fills=len(fills), filled_shares=sum(f["quantity"] for f in fills),
                    children=len(live), child_shares=sum(c["quantity"] for c in live),
                    child_filled_shares=sum(c["cum_qty"] for c in live),
                    rejected_children=len(children) - len(live), markouts=tuple(markouts))


# -- the printed table --------------------------------------------------------------------------

def format_markout(markout: Markout) -> str:
    if markout.fills == 0:
        return "-"
    half = "n/a" if math.isnan(markout.se_bps) else f"{Z_95 * markout.se_bps:.2f}"
    return f"{markout.mean_bps:+.2f} ± {half} ({markout.fills})"


def format_table(report: VenueReport) -> str:
    window = f"fills at or after {_when(report.since)}" if report.since is not None else "all fills"
    lines = [f"venue report: {report.journal} ({window})",
             "fills = fill rows at the venue (booked or not); filled = shares filled; mean size = filled / fills;",
             "fill rate = children's filled shares / their shares, rejected children excluded.",
             ]
    if report.has_markouts:
        lines += ["markout at h = share-weighted mean bps of the fills with a markout at h, positive = the price",
                  "moved in our favour (after a buy the midpoint rose); ± = 95% CI half-width (1.96 x share-weighted",
                  "se, n_eff = (sum w)^2 / sum w^2); (n) = fills with a markout at h; n/a with n < 2."]
    else:
        lines += ["no markouts in this journal: markouts need the engine's market-data feed (fills.midpoint"
                  " and the markouts table are filled only with a live feed)."]
    lines += ["", *_table(report, report.venues, report.total)]
    if report.has_markouts:
        lines += ["", *format_attributed(report.attributed)]
    for bucket in report.buckets:
        lines += ["", f"parents of {bucket.name} shares (original quantity):",
                  *_table(report, bucket.venues, bucket.total)]
    return "\n".join(lines)


def _table(report: VenueReport, rows: tuple[VenueRow, ...], total: VenueRow) -> list[str]:
    header = ["venue", "fills", "filled", "mean size", "fill rate"] + [f"{horizon_label(h)} bps ± CI (n)"
                                                                      for h in report.horizons]
    body = [[row.venue, f"{row.fills:,}", f"{row.filled_shares:,}", _fixed(row.mean_fill_size, 0),
             _fixed(row.fill_rate, 3)] + [format_markout(m) for m in row.markouts] for row in (*rows, total)]
    return aligned(header, body[:-1], body[-1:])


def _fixed(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)) + f" ({epoch:g})"
