"""What the journal says about a run: sweep and parent figures, and the learned weights as the
study's ``study.json`` with its weight map. Shared by `dark-agg weights`, the demo and the
benchmark, so the three report the same numbers the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.allocation.liquidity import expected_fill
from engine.allocation.oracle import oracle_allocation
from engine.allocation.profiles import LiquidityParams, MarketProfile
from engine.allocation.rules import VenueRules
from engine.app import build_weights
from engine.config import EngineConfig, market_to_dict
from engine.manager.weights import MARKET_KEY
from engine.analysis.venue_report import VenueReport
from engine.journal import SweepRow, latest_weights, parents_since, sweeps

@dataclass(frozen=True)
class RunSummary:
    parents: int
    parents_done: int
    filled_share: float        # shares filled over shares ordered, all parents
    sweeps: int
    learned_sweeps: int
    fill_over_oracle: float    # realised fill over the market model's oracle expected fill, same sweep sizes
    expected_filled_share: float  # what the sweeps sent was expected to fill (market model), over shares ordered
    certified_share: float     # sweeps where no other split could have filled more
    latency_p50_ms: float
    latency_p99_ms: float
    sweeps_per_second: float   # over the run: latencies above include the queueing this load causes

    def lines(self) -> list[str]:
        return [f"parents: {self.parents} ({self.parents_done} done), filled share {self.filled_share:.3f}",
                f"sweeps: {self.sweeps} ({self.learned_sweeps} taught the weights)",
                f"fill / oracle expected fill for the same sweep sizes: {self.fill_over_oracle:.3f}",
                f"certified no-regret share: {self.certified_share:.3f}",
                f"sweep latency: p50 {self.latency_p50_ms:.2f} ms, p99 {self.latency_p99_ms:.2f} ms "
                f"(at {self.sweeps_per_second:.0f} sweeps/s; `make bench` measures it unloaded)"]


@dataclass(frozen=True)
class MarkoutSummary:
    """A run's fills against their markouts at one horizon."""

    horizon_seconds: float
    filled_shares: int            # every fill of the run
    marked_shares: int            # those with a markout at the horizon
    cost_bps: float               # share-weighted mean adverse move per filled share (-markout), bps
    toxic_share: float            # of the filled shares, the share filled at venues the market file makes toxic


def summarise_markouts(report: VenueReport, horizon_seconds: float, toxic: set[str]) -> MarkoutSummary:
    """Markout cost per filled share (positive: the price moved against us) from the venue report
    of the run's journal (:mod:`engine.analysis.venue_report`: the same figures `dark-agg report`
    prints); ``toxic``: the venues the market file makes toxic."""
    total = report.total
    marked = total.markout(horizon_seconds) if horizon_seconds in report.horizons else None
    at_toxic = sum(row.filled_shares for row in report.venues if row.venue in toxic)
    return MarkoutSummary(horizon_seconds, total.filled_shares, marked.shares if marked else 0,
                          -marked.mean_bps if marked else float("nan"),
                          at_toxic / total.filled_shares if total.filled_shares else float("nan"))


def engine_market(config: EngineConfig) -> MarketProfile:
    """The market file restricted to the configured venues, in config order (the weights' columns)."""
    return config.venue_market


def summarise(config: EngineConfig, since: float = 0.0) -> RunSummary:
    rows = sweeps(config.journal, since)
    parents = parents_since(config.journal, since)
    ordered = sum(p["quantity"] for p in parents)
    done = [p for p in parents if p["state"] in ("filled", "canceled", "expired", "rejected")]
    latencies = np.array([r.latency_ms for r in rows if not any(r.timed_out)] or [np.nan])
    return RunSummary(
        parents=len(parents), parents_done=len(done),
        filled_share=sum(p["cum_qty"] for p in parents) / ordered if ordered else float("nan"),
        sweeps=len(rows), learned_sweeps=sum(r.learned for r in rows),
        fill_over_oracle=fill_over_oracle(rows, engine_market(config)),
        expected_filled_share=expected_fill_of(rows, engine_market(config)) / ordered if ordered else float("nan"),
        certified_share=float(np.mean([r.certified for r in rows])) if rows else float("nan"),
        latency_p50_ms=float(np.nanpercentile(latencies, 50)), latency_p99_ms=float(np.nanpercentile(latencies, 99)),
        sweeps_per_second=_rate([r.started_at for r in rows]))


def _rate(times: list[float]) -> float:
    span = max(times) - min(times) if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span > 0 else float("nan")


def expected_fill_of(rows: list[SweepRow], market: MarketProfile) -> float:
    """Shares the sweeps' children were expected to fill under the market file's liquidity model
    (the truth, with the simulated venues of that file). The realised fill is this plus the draws'
    noise, which the power-law tails make heavy: one block fill can be a tenth of a run's shares."""
    truth = LiquidityParams.of(market)
    return float(sum(expected_fill(np.asarray(r.sent, dtype=np.float64), truth) for r in rows))


def fill_over_oracle(rows: list[SweepRow], market: MarketProfile) -> float:
    """Realised fill of the sweeps over what the oracle expects for the same sizes under the market
    file's liquidity model (the truth, when the venues are the simulated ones of that file)."""
    if not rows:
        return float("nan")
    truth = LiquidityParams.of(market)
    caps = VenueRules.of(market).max_order_size
    expected = sum(expected_fill(oracle_allocation(r.quantity, truth, caps), truth) for r in rows)
    return sum(sum(r.filled) for r in rows) / expected if expected else float("nan")


def export_weights(config: EngineConfig, out: Path, symbol: str | None = None) -> dict:
    """The live weights (newest journal snapshot) as study.json and weights_map.png in ``out``."""
    from engine.study.plots import plot_weight_maps
    from engine.study.report import allocation_rows
    from engine.study.runner import evaluation_sizes, policy_allocation

    snapshots = latest_weights(config.journal)
    key = symbol or MARKET_KEY
    if key not in snapshots:
        known = ", ".join(sorted(k for k in snapshots if k != MARKET_KEY)) or "none"
        raise LookupError(f"no weight snapshot for {'the market' if key == MARKET_KEY else key} in {config.journal} "
                          f"(symbols with their own weights: {known})")
    policy_name, learned, snapshot = snapshots[key]
    if policy_name != config.policy:
        raise LookupError(f"the journal's weights are {policy_name}'s but the config names {config.policy}")
    policy = build_weights(config).market
    policy.restore(snapshot)
    market = engine_market(config)
    sizes = evaluation_sizes(market)
    rules = VenueRules.of(market)
    everywhere = np.ones(len(market.venues), dtype=np.bool_)
    mine = np.array([policy_allocation(policy, int(v), rules, everywhere) for v in sizes])
    truth = LiquidityParams.of(market)
    oracle = np.array([oracle_allocation(int(v), truth, rules.max_order_size) for v in sizes])
    rows = [r for r in sweeps(config.journal) if symbol is None or r.symbol == symbol]
    ratios = [expected_fill(a, truth) / max(expected_fill(o, truth), 1e-300) for a, o in zip(mine, oracle)]
    document = {
        "market": market_to_dict(market),
        "rounds": int(learned),
        "seed": config.seed,
        "sizes": [int(v) for v in sizes],
        "policies": {policy_name: {
            "allocations": allocation_rows(mine),
            "fill_ratio_last_10pct": fill_over_oracle(rows[int(len(rows) * 0.9):], market),
            "certified_no_regret": float(np.mean([r.certified for r in rows])) if rows else float("nan"),
            "us_per_round": None,  # live weights: timing is the benchmark's business
            "expected_fill_ratio_mean": float(np.mean(ratios)),
            "expected_fill_ratio_min": float(np.min(ratios)),
            "symbol": symbol or "market",
        }},
        "oracle": {"allocations": allocation_rows(oracle)},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(document, indent=1))
    plot_weight_maps(out / "weights_map.png", [(f"live {policy_name} weights ({symbol or 'market'})", mine),
                                               ("oracle on the market file", oracle)],
                     sizes.astype(np.float64), market.venue_names, market.reference_price, market.currency,
                     f"{market.name}: learned weights after {learned} sweeps")
    return document
