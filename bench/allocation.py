"""Allocation benchmarks: numba kernels against their NumPy twins, ExpGrad per round, a full study.

Every figure is a ratio against a reference measured in the same run (machines are shared and
noisy), except the study's wall time, which the goal states in seconds. Kernel timings are the best
of several batches (least disturbed by other processes); per-round study figures are medians over
chunks, with the plain mean (total time / rounds, refits included) beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from engine.allocation.censored import CensoredHistograms, kaplan_meier_kernel, kaplan_meier_reference
from engine.allocation.expgrad import (GRADIENT_POSITION, expgrad_desired_kernel, expgrad_desired_reference,
                                       expgrad_update_kernel, expgrad_update_reference)
from engine.allocation.grid import bucket_edges
from engine.allocation.liquidity import sample_liquidity, sample_liquidity_kernel, sample_liquidity_reference
from engine.allocation.profiles import LiquidityParams
from engine.allocation.registry import POLICY_NAMES, make_policy
from engine.allocation.rules import VenueRules, systematic_round_kernel, systematic_round_reference
from engine.config import load_market
from engine.study.runner import run_study

MARKET = "config/markets/lse.yaml"
GOAL_KERNELS = ("allocation from weights", "rounding (systematic)", "weight update", "Kaplan-Meier tails")


def _best_of(function, repeats: int = 7, calls: int = 200) -> float:
    """Seconds per call: the best of several timed batches."""
    function()  # compile / warm caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _trained_expgrad(market, rounds: int = 20_000):
    """A mid-run ExpGrad state (weights, prior, step sizes) to time one step from."""
    policy = make_policy("expgrad", market, seed=0)
    rng = np.random.default_rng(0)
    low, high = market.order_size_range()
    sizes = np.floor(np.exp(rng.uniform(np.log(low), np.log(high), rounds)))
    policy.run_rounds(sizes, sample_liquidity(rng, LiquidityParams.of(market), rounds), VenueRules.of(market))
    return policy


def kernel_ratios(report) -> dict[str, float]:
    market = load_market(MARKET)
    params = LiquidityParams.of(market)
    venues = params.venue_count
    rng = np.random.default_rng(0)
    policy = _trained_expgrad(market)
    state = [policy.weights, policy.played, policy.prior, policy.edges, policy.scale, policy.visits,
             policy.events, policy.steps]
    quantity = 1_500_000.0
    desired = np.empty(venues)
    expgrad_desired_kernel(policy.played, policy.edges, quantity, desired)
    sent = np.floor(desired)
    hidden = sample_liquidity(rng, params, 1)[0]
    filled = np.minimum(sent, hidden)

    def update(step):
        copies = [x.copy() for x in state]
        return lambda: step(*copies[:3], policy.edges, *copies[4:], quantity, sent, filled, 0.01, 0.01, 1e-3,
                            1e4, GRADIENT_POSITION)

    lots, rounded = np.ones(venues), np.empty(venues)
    zero, size = rng.random((256, venues)), rng.random((256, venues))
    liquidity = np.empty((256, venues))
    history = CensoredHistograms(venues)
    outcomes = sample_liquidity(rng, params, 5_000)
    for t in range(5_000):
        history.record(desired, np.minimum(desired, outcomes[t]))
    tails, cutoff = np.empty_like(history.exact), np.empty(venues, dtype=np.int64)
    pairs = {
        "allocation from weights": (
            lambda: expgrad_desired_kernel(policy.played, policy.edges, quantity, desired),
            lambda: expgrad_desired_reference(policy.played, policy.edges, quantity)),
        "rounding (systematic)": (
            lambda: systematic_round_kernel(desired, lots, 0.37, rounded),
            lambda: systematic_round_reference(desired, lots, 0.37)),
        "weight update": (update(expgrad_update_kernel), update(expgrad_update_reference)),
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
    ratios = {}
    for name, (kernel, twin) in pairs.items():
        fast, slow = _best_of(kernel), _best_of(twin)
        ratios[name] = slow / fast
        goal = " (goal >= 10x)" if name in GOAL_KERNELS else " (reported, not a goal)"
        report(f"{name:<34} {fast * 1e6:>9.2f} {slow * 1e6:>9.2f} {slow / fast:>8.1f}x{goal}")
    report("(both sides timed from Python: the numba figures include the call's argument checks, 0.2-2 us with\n"
           " this many arguments; inside the study's compiled loops the same kernels cost less)")
    return ratios


def compile_seconds() -> float:
    """JIT compile time of every kernel the study uses: a short study in a fresh process with an empty
    numba cache, minus the same study once compiled."""
    code = ("import time; t = time.perf_counter(); from engine.config import load_market; "
            "from engine.study.runner import run_study; from engine.allocation.registry import POLICY_NAMES; "
            f"m = load_market({MARKET!r}); run_study(m, 400, 0, list(POLICY_NAMES)); "
            "a = time.perf_counter() - t; t = time.perf_counter(); run_study(m, 400, 0, list(POLICY_NAMES)); "
            "print(a - (time.perf_counter() - t))")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def study_speed(report, rounds: int = 100_000) -> None:
    market = load_market(MARKET)
    report(f"\nJIT compile, every kernel of the study (fresh process, empty numba cache): {compile_seconds():.1f} s")
    run_study(market, 2_000, 0, list(POLICY_NAMES))  # load every compiled kernel first
    start = time.perf_counter()
    result = run_study(market, rounds, 1, list(POLICY_NAMES))
    wall = time.perf_counter() - start
    report(f"study, lse.yaml, {rounds:,} rounds, all policies, compiled: {wall:.1f} s wall on one core (goal < 30 s)")
    report(f"{'policy':<14} {'median us/round':>16} {'mean us/round':>14} {'total s':>8}")
    for name, trace in result.traces.items():
        total = sum(trace.chunk_seconds)
        report(f"{name:<14} {trace.microseconds_per_round():>16.2f} {1e6 * total / rounds:>14.2f} {total:>8.2f}")
    report("(expgrad goal: at most 2 us median per round, allocate + update, inside the study loop)")


def run(report=print) -> None:
    report("== allocation core ==")
    kernel_ratios(report)
    study_speed(report)
