"""Allocation benchmarks: numba kernels against their NumPy twins, ExpGrad per round, a full study.

Every figure is a ratio against a reference measured in the same run (machines are shared and
noisy), except the study's wall time, which the goal states in seconds.
"""

from __future__ import annotations

import time

import numpy as np

from engine.allocation.censored import CensoredHistograms, kaplan_meier_kernel, kaplan_meier_reference
from engine.allocation.expgrad import (GRADIENT_POSITION, expgrad_desired_kernel, expgrad_desired_reference,
                                       expgrad_update_kernel, expgrad_update_reference)
from engine.allocation.grid import bucket_edges
from engine.allocation.liquidity import sample_liquidity, sample_liquidity_kernel, sample_liquidity_reference
from engine.allocation.profiles import LiquidityParams
from engine.allocation.registry import POLICY_NAMES
from engine.config import load_market
from engine.study.runner import run_study


def _best_of(function, repeats: int = 5, calls: int = 200) -> float:
    """Seconds per call: the best of several timed batches (least disturbed by other processes)."""
    function()  # compile / warm caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def kernel_ratios(report) -> None:
    market = load_market("config/markets/lse.yaml")
    params = LiquidityParams.of(market)
    venues = params.venue_count
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(venues), size=64)
    edges = bucket_edges(2_000_000, 64)
    scale, visits = np.full(64, 0.1), np.ones(64)
    out = np.empty(venues)
    sent = np.full(venues, 5_000.0)
    filled = np.where(rng.random(venues) < 0.5, sent, 1_000.0)
    zero, size = rng.random((256, venues)), rng.random((256, venues))
    liquidity = np.empty((256, venues))
    history = CensoredHistograms(venues)
    hidden = sample_liquidity(rng, params, 5_000)
    for t in range(5_000):
        history.record(sent, np.minimum(sent, hidden[t]))
    tails, cutoff = np.empty_like(history.exact), np.empty(venues, dtype=np.int64)
    pairs = {
        "allocation from weights": (
            lambda: expgrad_desired_kernel(weights, edges, 1_500_000.0, out),
            lambda: expgrad_desired_reference(weights, edges, 1_500_000.0)),
        "weight update": (
            lambda: expgrad_update_kernel(weights.copy(), edges, scale.copy(), visits.copy(), 1_500_000.0,
                                          sent, filled, 0.01, 0.01, 1e-4, GRADIENT_POSITION),
            lambda: expgrad_update_reference(weights.copy(), edges, scale.copy(), visits.copy(), 1_500_000.0,
                                             sent, filled, 0.01, 0.01, 1e-4, GRADIENT_POSITION)),
        "Kaplan-Meier tails": (
            lambda: kaplan_meier_kernel(history.totals, history.zeros, history.exact, history.censored,
                                        history.breakpoints, 20.0, tails, cutoff),
            lambda: kaplan_meier_reference(history.totals, history.zeros, history.exact, history.censored,
                                           history.breakpoints, 20.0)),
        "liquidity sampling (256 rounds)": (
            lambda: sample_liquidity_kernel(zero, size, *params.as_tuple(), liquidity),
            lambda: sample_liquidity_reference(zero, size, params)),
    }
    report(f"{'kernel (12 venues, 64 buckets)':<34} {'numba us':>9} {'numpy us':>9} {'speed-up':>9}")
    for name, (kernel, twin) in pairs.items():
        fast, slow = _best_of(kernel), _best_of(twin)
        report(f"{name:<34} {fast * 1e6:>9.2f} {slow * 1e6:>9.2f} {slow / fast:>8.1f}x")


def study_speed(report, rounds: int = 100_000) -> None:
    market = load_market("config/markets/lse.yaml")
    run_study(market, 2_000, 0, list(POLICY_NAMES))  # compile every kernel first
    start = time.perf_counter()
    result = run_study(market, rounds, 1, list(POLICY_NAMES))
    wall = time.perf_counter() - start
    report(f"\nstudy, lse.yaml, {rounds:,} rounds, all policies: {wall:.1f} s wall (goal < 30 s)")
    report(f"{'policy':<14} {'median us/round':>16} {'total s':>8}")
    for name, trace in result.traces.items():
        report(f"{name:<14} {trace.microseconds_per_round():>16.2f} {sum(trace.chunk_seconds):>8.2f}")
    report("(expgrad goal: at most 2 us per round, allocate + update, inside the study loop)")


def run(report=print) -> None:
    report("== allocation core ==")
    kernel_ratios(report)
    study_speed(report)
