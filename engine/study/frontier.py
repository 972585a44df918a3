"""The fill / adverse-selection frontier: filled share against markout cost as the fill value varies.

For each fill value X the study is replayed on the same draws (sizes, liquidity, markouts) with the
default policy learning the net objective and the net-value oracle; each point is one run:

- filled share = sum of fills / sum of order sizes over the run (shares over shares);
- markout cost = sum of the fills' expected markout costs (the venue's true m_i x shares) / sum of
  fills, in bps per filled share (the realised markouts' mean beside it in the JSON: the same plus
  the markout noise, which at 5 bps moves it by about +-0.1 bps over 100,000 rounds).

A small X buys less fill and less adverse selection (toxic venues are dropped first); infinite X is
the fill-only objective.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

import numpy as np

from engine.allocation.profiles import MarketProfile
from engine.study.runner import run_study
from engine.study.toxicity import NetStudy


def run_frontier(market: MarketProfile, rounds: int, seed: int, names: list[str], fill_values: list[float],
                 net: NetStudy, regime_switch: int | None = None,
                 progress: Callable[[int], None] | None = None) -> dict:
    """{"fill_values_bps": [X or None for infinite], "policies": {name: {"filled_share": [...],
    "expected_markout_cost_bps": [...], "markout_cost_bps": [...] (realised), "net_ratio": [...]
    (realised net value over the net-value oracle's expected, None at infinite X)}}}."""
    keys = ("filled_share", "expected_markout_cost_bps", "markout_cost_bps", "net_ratio")
    points = {name: {key: [] for key in keys} for name in names}
    for value in fill_values:
        result = run_study(market, rounds, seed, names, regime_switch, progress=progress,
                           net=replace(net, fill_value_bps=value, twins=False))
        for name in names:
            trace = result.traces[name]
            filled = float(trace.filled.sum())
            cost = float(trace.markout_cost.sum()) if trace.markout_cost is not None else math.nan
            expected = float(trace.expected_cost.sum()) if trace.expected_cost is not None else math.nan
            points[name]["filled_share"].append(filled / float(result.sizes.sum()))
            points[name]["expected_markout_cost_bps"].append(expected / max(filled, 1e-300))
            points[name]["markout_cost_bps"].append(cost / max(filled, 1e-300))
            if result.oracle_expected_net is None:
                points[name]["net_ratio"].append(None)
            else:
                points[name]["net_ratio"].append(float((value * filled - cost) / max(result.oracle_expected_net.sum(), 1e-300)))
    return {"fill_values_bps": [None if math.isinf(v) else float(v) for v in fill_values], "policies": points}


def parse_fill_values(text: str) -> list[float]:
    """'5,10,20,inf' -> [5.0, 10.0, 20.0, inf]; 'none' or '' -> []."""
    if text.strip().lower() in ("", "none"):
        return []
    values = [float(part) for part in text.split(",") if part.strip()]
    if any(np.isnan(v) or v == -math.inf for v in values):
        raise ValueError(f"--frontier {text!r}: expected numbers of bps or inf")
    return values
