"""The study's pictures: the seed's weight maps, the weights over rounds, convergence to the oracle."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.study.runner import RECOVERY_LEVEL, StudyResult  # noqa: E402


def venue_colours(count: int) -> list:
    palette = plt.get_cmap("tab20" if count > 10 else "tab10")
    return [palette(i % palette.N) for i in range(count)]


def plot_weight_maps(path: Path, panels: list[tuple[str, np.ndarray]], sizes: np.ndarray,
                     venue_names: tuple[str, ...], price: float, currency: str, title: str) -> None:
    """The seed's Figures 1 and 2: stacked weights (child / order size) against order size, in
    currency; upper row linear x, lower row log x; one column per allocation source."""
    notional = sizes * price
    colours = venue_colours(len(venue_names))
    figure, axes = plt.subplots(2, len(panels), figsize=(7 * len(panels), 8), squeeze=False, sharey=True)
    for column, (label, allocations) in enumerate(panels):
        weights = allocations / np.maximum(allocations.sum(axis=1, keepdims=True), 1e-12)
        for row, scale in enumerate(("linear", "log")):
            axis = axes[row, column]
            axis.stackplot(notional, weights.T, labels=venue_names, colors=colours, linewidth=0)
            axis.set_xscale(scale)
            axis.set_xlim(notional[0], notional[-1])
            axis.set_ylim(0, 1)
            axis.set_title(f"{label} ({scale} order size)")
            axis.set_xlabel(f"order size ({currency})")
            axis.set_ylabel("weight = child / order")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center right", title="venue")
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0, 0.93, 0.96))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_weights_evolution(path: Path, result: StudyResult, policy: str) -> None:
    trace = result.traces[policy]
    evolution = np.array(trace.evolution)  # (chunks, 3 sizes, venues)
    names = result.market.venue_names
    colours = venue_colours(len(names))
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.5), sharey=True)
    for k, axis in enumerate(axes):
        size = result.reference_sizes[k]
        weights = evolution[:, k, :] / np.maximum(evolution[:, k, :].sum(axis=1, keepdims=True), 1e-12)
        axis.stackplot(result.chunk_ends, weights.T, labels=names, colors=colours, linewidth=0)
        axis.set_title(f"{policy}: order of {size:,} shares "
                       f"({size * result.market.reference_price:,.0f} {result.market.currency})")
        axis.set_xlabel("round")
        axis.set_ylim(0, 1)
        if result.regime_switch:
            axis.axvline(result.regime_switch, color="black", linestyle="--", linewidth=1)
    axes[0].set_ylabel("weight")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center right", title="venue")
    figure.tight_layout(rect=(0, 0, 0.94, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_convergence(path: Path, result: StudyResult) -> None:
    window = max(200, result.rounds // 50)
    kernel = np.ones(window)
    # with the oracle in the run, divide by its realised fill on the same draws: the heavy-tailed
    # liquidity noise then cancels and only the policies' differences remain
    reference = result.traces["oracle"].filled if "oracle" in result.traces else result.oracle_expected
    expected = np.convolve(reference, kernel, mode="valid")
    rounds = np.arange(window, result.rounds + 1)
    figure, axis = plt.subplots(figsize=(10, 5))
    for name, trace in result.traces.items():
        ratio = np.convolve(trace.filled, kernel, mode="valid") / np.maximum(expected, 1e-300)
        style = {"linestyle": "--", "color": "grey"} if name == "uniform" else {}
        axis.plot(rounds, ratio, label=name, linewidth=1.2, **style)
    axis.axhline(1.0, color="black", linewidth=0.8)
    if result.regime_switch:
        axis.axvline(result.regime_switch, color="black", linestyle=":", label="regime switch")
    axis.set_xlabel("round")
    denominator = "oracle's realised fill" if "oracle" in result.traces else "oracle's expected fill"
    axis.set_ylabel(f"realised fill / {denominator} (rolling {window} rounds)")
    axis.set_title(f"{result.market.name}: convergence to the oracle")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_adaptation(path: Path, result: StudyResult) -> None:
    """Per policy, the expected fill of its current allocations over the oracle's under the truth in
    force (mean over the evaluation sizes), at every checkpoint."""
    figure, axis = plt.subplots(figsize=(10, 5))
    for name, trace in result.traces.items():
        style = {"linestyle": "--", "color": "grey"} if name == "uniform" else {}
        axis.plot(result.checkpoints, trace.adaptation, label=name, linewidth=1.2, marker=".", markersize=3, **style)
    axis.axhline(RECOVERY_LEVEL, color="black", linewidth=0.8, linestyle=":", label=f"{RECOVERY_LEVEL:.2f}")
    if result.regime_switch:
        axis.axvline(result.regime_switch, color="black", linestyle="--", linewidth=1, label="regime switch")
    axis.set_xlabel("round")
    axis.set_ylabel("E[fill] of current allocations / oracle's (mean over sizes)")
    axis.set_ylim(max(0.0, min(min(t.adaptation) for t in result.traces.values()) - 0.02), 1.005)
    axis.set_title(f"{result.market.name}: expected fill under the current truth")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_frontier(path: Path, frontier: dict, title: str) -> None:
    """Filled share against markout cost per filled share, one point per fill value, per policy."""
    figure, axis = plt.subplots(figsize=(9, 5.5))
    labels = ["inf" if v is None else f"{v:g}" for v in frontier["fill_values_bps"]]
    for (name, points), marker in zip(frontier["policies"].items(), "os^D"):
        cost, share = points["expected_markout_cost_bps"], points["filled_share"]
        axis.plot(cost, share, marker=marker, linewidth=1.2, label=name)
        for x, y, label in zip(cost, share, labels):
            axis.annotate(label, (x, y), textcoords="offset points", xytext=(5, -10), fontsize=8)
    axis.set_xlabel("expected markout cost per filled share (bps; the venues' true m_i x the fills)")
    axis.set_ylabel("filled share (shares filled / shares ordered)")
    axis.set_title(f"{title}\n(labels: fill value in bps)")
    axis.grid(True, linewidth=0.4, alpha=0.5)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
