"""The venue report's pictures: mean markouts per venue and horizon with 95% CIs, the same attributed
from whole sweeps (:mod:`engine.analysis.attributed`), the markout curve over horizons, and markouts
by order size. Each venue has the same colour in every picture."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from engine.analysis.attributed import COMMON, AttributedMove  # noqa: E402
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
    if report.attributed.venues:
        written.append(out / "attributed_markouts.png")
        plot_attributed_markouts(written[-1], report, colours)
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
    figure, axis = _bar_figure(len(rows), len(report.horizons))
    _grouped_bars(axis, report.horizons, [colours[row.venue] for row in rows],
                  [[(_value(m.mean_bps), _error(m)) for m in (row.markout(h) for row in rows)]
                   for h in report.horizons])
    axis.set_xticks(np.arange(len(rows)), [row.venue for row in rows])
    axis.set_ylabel("mean markout (bps, share-weighted)")
    axis.set_title(f"Markout per venue and horizon, 95% CI ({FAVOUR})")
    _save(figure, path)


def plot_attributed_markouts(path: Path, report: VenueReport, colours: dict[str, tuple]) -> None:
    """Grouped bars like :func:`plot_markouts_by_venue`, of the moves attributed from whole sweeps,
    each venue labelled with the sweeps it filled in; the common move (every sweep's, whichever
    venues fill) as a last black group, set apart by a dotted line."""
    attributed = report.attributed
    rows = [*attributed.venues, attributed.common]
    figure, axis = _bar_figure(len(rows), len(report.horizons))
    _grouped_bars(axis, report.horizons, [TOTAL_COLOUR if row.venue == COMMON else colours[row.venue] for row in rows],
                  [[(_value(m.bps), _move_error(m)) for m in (row.move(h) for row in rows)]
                   for h in report.horizons])
    axis.axvline(len(rows) - 1.5, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xticks(np.arange(len(rows)), [f"{row.venue}\n{row.sweeps:,} sw." for row in rows], fontsize=9)
    axis.set_ylabel("attributed markout (bps per sweep)")
    axis.set_title("Markout attributed per venue from whole sweeps (what its filling adds to a sweep's "
                   f"markout), 95% CI\n({FAVOUR}; common = the move every sweep shows)", fontsize=10, wrap=True)
    _save(figure, path)


def _bar_figure(groups: int, horizons: int):
    return plt.subplots(figsize=(max(7.0, 0.5 * groups * max(horizons, 2) + 2.5), 5))


def _grouped_bars(axis, horizons: tuple[float, ...], colours: list, values: list[list[tuple[float, float]]]) -> None:
    """A bar per group and horizon, shaded lighter to darker as the horizon grows, 95% CI error bars;
    ``values[k][g]`` = (bar, CI half-width) of group g at horizon k; a legend of the shades."""
    count = len(horizons)
    width = 0.8 / count
    shades = np.linspace(0.35, 1.0, count)
    for k, (bars, shade) in enumerate(zip(values, shades)):
        offsets = np.arange(len(bars)) - 0.4 + width * (k + 0.5)
        # the shade on the face only: the edge keeps the venue's full colour, so a pale bar still shows
        axis.bar(offsets, [value for value, _ in bars], width=width * 0.95,
                 color=[to_rgba(colour, float(shade)) for colour in colours], edgecolor=colours, linewidth=0.8,
                 yerr=[error for _, error in bars], capsize=3, ecolor="black", error_kw={"linewidth": 0.9})
    axis.axhline(0.0, color="black", linewidth=0.8)
    legend = [Patch(facecolor=to_rgba("grey", float(shade)), edgecolor="grey", label=horizon_label(h))
              for h, shade in zip(horizons, shades)]
    axis.legend(handles=legend, title="horizon", loc="best")
    axis.grid(True, axis="y", linewidth=0.4, alpha=0.5)


def plot_markout_curve(path: Path, report: VenueReport, colours: dict[str, tuple]) -> None:
    """Small multiples, a panel per venue (a dozen overlaid lines and bands read as one blur): x =
    horizon (log scale when every horizon is positive), y = mean markout, shared by every panel; the
    venue's line with markers and its 95% CI as a light band, all venues dashed black in every panel
    as the reference."""
    horizons = np.array(report.horizons, dtype=float)
    rows = [row for row in report.venues if not all(math.isnan(m.mean_bps) for m in row.markouts)]
    columns = max(1, min(4, len(rows)))
    lines = max(1, math.ceil(len(rows) / columns))
    figure, axes = plt.subplots(lines, columns, figsize=(3.1 * columns + 0.8, 2.5 * lines + 1.0),
                                sharex=True, sharey=True, squeeze=False)
    for axis, row in zip(axes.flat, rows):
        _curve(axis, horizons, report.total, TOTAL_COLOUR, total=True)
        _curve(axis, horizons, row, colours[row.venue], total=False)
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_title(row.venue, fontsize=10, color=colours[row.venue], fontweight="bold")
        axis.grid(True, linewidth=0.4, alpha=0.5)
    for axis in axes.flat[len(rows):]:
        axis.set_visible(False)
    if horizons.min() > 0 and len(horizons) > 1:
        axes[0, 0].set_xscale("log")
    axes[0, 0].set_xticks(horizons, [horizon_label(h) for h in horizons])
    for axis in axes.flat:
        axis.minorticks_off()
    for axis in axes[:, 0]:
        axis.set_ylabel("mean markout (bps)")
    for axis in axes[-1]:
        axis.set_xlabel("horizon after the fill")
    figure.suptitle(f"Markout curve per venue, share-weighted, 95% CI bands ({FAVOUR});\n"
                    f"dashed black: {ALL_VENUES}", fontsize=11)
    _save(figure, path)


def _curve(axis, horizons: np.ndarray, row, colour, total: bool) -> None:
    means = np.array([_value(m.mean_bps) for m in row.markouts])
    low = np.array([_value(m.ci_low_bps) for m in row.markouts])
    high = np.array([_value(m.ci_high_bps) for m in row.markouts])
    axis.plot(horizons, means, marker="o", markersize=3.5 if total else 4.5, color=colour,
              linestyle="--" if total else "-", linewidth=1.1 if total else 1.5, zorder=3 if total else 4)
    axis.fill_between(horizons, low, high, color=colour, alpha=0.06 if total else 0.12, linewidth=0,
                      where=~np.isnan(low))


def plot_markouts_by_size(path: Path, report: VenueReport, buckets: list[SizeBucket],
                          colours: dict[str, tuple]) -> None:
    """One panel per size bucket: a bar per venue at :func:`size_horizon`, 95% CI."""
    horizon = size_horizon(report)
    bars = max(len(bucket.venues) + 1 for bucket in buckets)
    figure, axes = plt.subplots(1, len(buckets), figsize=(max(6.0, max(3.6, 0.28 * bars + 0.6) * len(buckets)), 4.8),
                                sharey=True, squeeze=False)
    for axis, bucket in zip(axes[0], buckets):
        rows = [*bucket.venues, bucket.total]
        markouts = [row.markout(horizon) for row in rows]
        axis.bar(np.arange(len(rows)), [_value(m.mean_bps) for m in markouts],
                 color=[colours[row.venue] for row in rows], yerr=[_error(m) for m in markouts],
                 capsize=3, ecolor="black", error_kw={"linewidth": 0.9})
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xticks(np.arange(len(rows)), [f"{row.venue} (n={m.fills})" for row, m in zip(rows, markouts)],
                        rotation=90, fontsize=8)
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


def _move_error(move: AttributedMove) -> float:
    return 0.0 if math.isnan(move.se_bps) else Z_95 * move.se_bps


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
