"""The venue report's pictures: mean markouts per venue and horizon with 95% CIs, the markout curve
over horizons, and markouts by order size. Each venue has the same colour in every picture."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from engine.analysis.venue_report import (ALL_VENUES, Z_95, Markout, SizeBucket, VenueReport,  # noqa: E402
                                          horizon_label)
from engine.study.plots import venue_colours  # noqa: E402

FAVOUR = "positive = the price moved in our favour"
TOTAL_COLOUR = "black"


def write_report_plots(report: VenueReport, out: Path) -> list[Path]:
    """The pictures there is something to draw for (none without markouts); returns their paths."""
    if not report.has_markouts:
        return []
    out.mkdir(parents=True, exist_ok=True)
    colours = _colours(report)
    written = [out / "markouts_by_venue.png", out / "markout_curve.png"]
    plot_markouts_by_venue(written[0], report, colours)
    plot_markout_curve(written[1], report, colours)
    buckets = [b for b in report.buckets if any(row.markout(size_horizon(report)).fills for row in b.venues)]
    if buckets:
        written.append(out / "markouts_by_size.png")
        plot_markouts_by_size(written[-1], report, buckets, colours)
    return written


def size_horizon(report: VenueReport) -> float:
    """The horizon of the by-size picture: the largest at most 10 s, else the middle one."""
    short = [h for h in report.horizons if h <= 10.0]
    return short[-1] if short else report.horizons[len(report.horizons) // 2]


def plot_markouts_by_venue(path: Path, report: VenueReport, colours: dict[str, tuple]) -> None:
    """Grouped bars: venues (and all venues) on x, one bar per horizon, shaded lighter to darker as
    the horizon grows, 95% CI error bars."""
    rows = [*report.venues, report.total]
    count = len(report.horizons)
    width = 0.8 / count
    shades = np.linspace(0.35, 1.0, count)
    figure, axis = plt.subplots(figsize=(max(7.0, 1.3 * len(rows) * max(count, 2) / 2 + 2), 5))
    for k, (horizon, shade) in enumerate(zip(report.horizons, shades)):
        offsets = np.arange(len(rows)) - 0.4 + width * (k + 0.5)
        markouts = [row.markout(horizon) for row in rows]
        axis.bar(offsets, [_value(m.mean_bps) for m in markouts], width=width * 0.95,
                 color=[colours[row.venue] for row in rows], alpha=float(shade),
                 yerr=[_error(m) for m in markouts], capsize=3, ecolor="black", error_kw={"linewidth": 0.9})
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(np.arange(len(rows)), [row.venue for row in rows])
    axis.set_ylabel("mean markout (bps, share-weighted)")
    axis.set_title(f"Markout per venue and horizon, 95% CI ({FAVOUR})")
    legend = [Patch(facecolor="grey", alpha=float(shade), label=horizon_label(h))
              for h, shade in zip(report.horizons, shades)]
    axis.legend(handles=legend, title="horizon", loc="best")
    axis.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    _save(figure, path)


def plot_markout_curve(path: Path, report: VenueReport, colours: dict[str, tuple]) -> None:
    """x = horizon (log scale when every horizon is positive), y = mean markout; a line per venue
    with markers and its 95% CI as a band; all venues dashed."""
    horizons = np.array(report.horizons, dtype=float)
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for row in (*report.venues, report.total):
        means = np.array([_value(m.mean_bps) for m in row.markouts])
        if np.isnan(means).all():
            continue
        low = np.array([_value(m.ci_low_bps) for m in row.markouts])
        high = np.array([_value(m.ci_high_bps) for m in row.markouts])
        total = row.venue == ALL_VENUES
        axis.plot(horizons, means, marker="o", color=colours[row.venue], linestyle="--" if total else "-",
                  linewidth=1.6 if total else 1.3, label=row.venue)
        axis.fill_between(horizons, low, high, color=colours[row.venue], alpha=0.08 if total else 0.18,
                          linewidth=0, where=~np.isnan(low))
    axis.axhline(0.0, color="black", linewidth=0.8)
    if horizons.min() > 0 and len(horizons) > 1:
        axis.set_xscale("log")
    axis.set_xticks(horizons, [horizon_label(h) for h in horizons])
    axis.minorticks_off()
    axis.set_xlabel("horizon (seconds after the fill)")
    axis.set_ylabel("mean markout (bps, share-weighted)")
    axis.set_title(f"Markout curve per venue, 95% CI bands ({FAVOUR})")
    axis.grid(True, linewidth=0.4, alpha=0.5)
    axis.legend(loc="best", title="venue")
    _save(figure, path)


def plot_markouts_by_size(path: Path, report: VenueReport, buckets: list[SizeBucket],
                          colours: dict[str, tuple]) -> None:
    """One panel per size bucket: a bar per venue at :func:`size_horizon`, 95% CI."""
    horizon = size_horizon(report)
    figure, axes = plt.subplots(1, len(buckets), figsize=(max(6.0, 3.6 * len(buckets)), 4.8),
                                sharey=True, squeeze=False)
    for axis, bucket in zip(axes[0], buckets):
        rows = [*bucket.venues, bucket.total]
        markouts = [row.markout(horizon) for row in rows]
        axis.bar(np.arange(len(rows)), [_value(m.mean_bps) for m in markouts],
                 color=[colours[row.venue] for row in rows], yerr=[_error(m) for m in markouts],
                 capsize=3, ecolor="black", error_kw={"linewidth": 0.9})
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xticks(np.arange(len(rows)), [f"{row.venue}\nn={m.fills}" for row, m in zip(rows, markouts)],
                        rotation=45, ha="right", fontsize=8)
        axis.set_title(f"parents {bucket.name} shares")
        axis.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    axes[0, 0].set_ylabel(f"mean markout at {horizon_label(horizon)} (bps)")
    figure.suptitle(f"Markout at {horizon_label(horizon)} by order size, 95% CI ({FAVOUR})")
    _save(figure, path)


def _colours(report: VenueReport) -> dict[str, tuple]:
    names = [row.venue for row in report.venues]
    return dict(zip(names, venue_colours(len(names)))) | {ALL_VENUES: TOTAL_COLOUR}


def _value(x: float) -> float:
    return np.nan if math.isnan(x) else x


def _error(markout: Markout) -> float:
    """The CI half-width for an error bar (0, not drawn, when there is none)."""
    return 0.0 if math.isnan(markout.se_bps) else Z_95 * markout.se_bps


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
