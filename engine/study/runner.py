"""The offline study: every policy plays the same rounds against the same hidden liquidity.

Each round draws an order size log-uniformly over the market's range and fresh liquidity per venue
(from one seeded generator, so every policy sees the same draws). Rounds are played in chunks; after
each chunk we record each policy's fills, its time per round, and its allocation at three reference
sizes (the weights' evolution). With a regime switch the two named venues exchange liquidity
profiles at the given round, and the oracle follows the new truth at once.

With a finite fill value (``NetStudy``, toxicity.py) the policies play the net-of-toxicity objective,
the oracle being the net-value oracle, and their fill-only twins play beside them on the same draws;
every trace then also records the markout cost of its fills.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine.allocation.certificate import no_regret_possible
from engine.allocation.liquidity import expected_fill, sample_liquidity
from engine.allocation.netvalue import expected_net_value
from engine.allocation.oracle import oracle_allocation
from engine.allocation.profiles import LiquidityParams, MarketProfile
from engine.allocation.registry import make_policy
from engine.allocation.rules import VenueRules
from engine.study.toxicity import (MarkoutFeed, NetStudy, has_toxicity, learning_feed, play_with_markouts,
                                   simulate_markouts, true_values)

EVALUATION_SIZES = 32
CURVE_POINTS = 400
ADAPTATION_EVERY = 1_000  # rounds between adaptation checkpoints (fewer in short runs)
RECOVERY_LEVEL = 0.95


@dataclass
class PolicyTrace:
    name: str
    filled: np.ndarray                  # total fill per round
    certified: np.ndarray               # hindsight certificate per round
    chunk_seconds: list[float] = field(default_factory=list)
    chunk_rounds: list[int] = field(default_factory=list)
    evolution: list[np.ndarray] = field(default_factory=list)  # (3 sizes, venues) per chunk
    final_allocations: np.ndarray | None = None                # (sizes, venues)
    adaptation: list[float] = field(default_factory=list)      # expected-fill ratio per checkpoint
    markout_cost: np.ndarray | None = None                     # per round sum_i markout_i x filled_i (bps x shares)
    expected_cost: np.ndarray | None = None                    # per round sum_i m_i x filled_i, true m_i
    moves_bps: np.ndarray | None = None                        # the m_i it played with at the end (learned or true)

    def microseconds_per_round(self) -> float:
        """Median over chunks after the first (which carries the JIT compilation)."""
        per_round = [s / n for s, n in zip(self.chunk_seconds[1:], self.chunk_rounds[1:])]
        return 1e6 * float(np.median(per_round)) if per_round else float("nan")

    def compile_seconds(self) -> float:
        if not self.chunk_seconds:
            return 0.0
        return max(0.0, self.chunk_seconds[0] - self.microseconds_per_round() * 1e-6 * self.chunk_rounds[0])


@dataclass
class StudyResult:
    market: MarketProfile
    final_market: MarketProfile
    rounds: int
    seed: int
    regime_switch: int | None
    sizes: np.ndarray                 # order size per round
    oracle_expected: np.ndarray       # oracle's expected fill per round (the truth of that round)
    evaluation_sizes: np.ndarray
    oracle_allocations: np.ndarray    # (evaluation sizes, venues) under the final truth
    reference_sizes: np.ndarray       # small, medium, large: the evolution plot's sizes
    chunk_ends: list[int]
    traces: dict[str, PolicyTrace]
    policies: dict = field(default_factory=dict)  # the trained policies, for maps at any size
    checkpoints: list[int] = field(default_factory=list)  # rounds played at each adaptation checkpoint
    net: NetStudy = field(default_factory=NetStudy)
    markouts: np.ndarray | None = None           # (rounds, venues) bps; None without toxicity or fill value
    values: np.ndarray | None = None             # true X - m_i per venue with a finite fill value
    oracle_expected_net: np.ndarray | None = None  # the net-value oracle's expected net value per round
    net_oracle_allocations: np.ndarray | None = None  # (evaluation sizes, venues)
    fill_only: dict[str, PolicyTrace] = field(default_factory=dict)  # the fill-only twins' traces
    fill_only_policies: dict = field(default_factory=dict)

    def rounds_to_recover(self, name: str, level: float = RECOVERY_LEVEL) -> int | None:
        """Rounds after the switch until the policy's expected-fill ratio is at or above ``level`` at
        every later checkpoint (0: it never fell below); None if it never stays there."""
        if self.regime_switch is None:
            return None
        ratios = np.array(self.traces[name].adaptation)
        after = np.flatnonzero(np.array(self.checkpoints) >= self.regime_switch)
        below = [k for k in after if ratios[k] < level]
        if not below:
            return 0
        if below[-1] == len(ratios) - 1:
            return None
        return int(self.checkpoints[below[-1] + 1] - self.regime_switch)


def run_study(market: MarketProfile, rounds: int, seed: int, policy_names: list[str],
              regime_switch: int | None = None, chunk: int | None = None,
              progress: Callable[[int], None] | None = None, net: NetStudy | None = None) -> StudyResult:
    net = net or NetStudy()
    if rounds < 1:
        raise ValueError(f"rounds = {rounds}, expected at least 1")
    if regime_switch is not None:
        if market.regime_switch_venues is None:
            raise ValueError(f"market {market.name!r} names no regime_switch_venues to swap")
        if not 0 < regime_switch < rounds:
            raise ValueError(f"regime switch round {regime_switch} must lie inside 1..{rounds - 1}")
    rng = np.random.default_rng(seed)
    low, high = market.order_size_range()
    sizes = np.floor(np.exp(rng.uniform(np.log(low), np.log(high + 1), rounds)))
    sizes = np.clip(sizes, low, high)
    after = market.with_venues_swapped(*market.regime_switch_venues) if regime_switch else market
    liquidity = _liquidity(rng, market, after, rounds, regime_switch)
    rules = VenueRules.of(market)
    oracle_expected = _oracle_expected(market, after, sizes, regime_switch)
    markouts = simulate_markouts(market, rounds, seed, net) if net.net or has_toxicity(market) else None
    values = true_values(market, net) if net.net else None
    moves = market.expected_moves_bps(net.horizon_seconds)

    chunk = chunk or max(100, rounds // 200)
    every = ADAPTATION_EVERY if rounds >= 20 * ADAPTATION_EVERY else max(chunk, rounds // 20)
    checkpoints = sorted(set(range(every, rounds + 1, every)) | ({regime_switch} if regime_switch else set()))
    ends = _chunk_ends(rounds, chunk, regime_switch, checkpoints)
    evaluation = evaluation_sizes(market)
    truths = (LiquidityParams.of(market), LiquidityParams.of(after))
    best_fills = [np.array([expected_fill(oracle_allocation(int(v), truth), truth) for v in evaluation])
                  for truth in truths]
    reference = np.round(np.geomspace(low, high, 5)[[1, 2, 3]]).astype(np.int64)
    policies = {name: make_policy(name, market, seed) for name in policy_names}
    twins = ({name: make_policy(name, market, seed) for name in policy_names}
             if values is not None and net.twins else {})
    feeds: dict[str, MarkoutFeed] = {}
    if values is not None:  # the oracle knows the true m_i; learners estimate them (or are told)
        for name, policy in policies.items():
            if name == "oracle" or net.true_moves:
                policy.set_net_values(values)
            else:
                feeds[name] = learning_feed(market, net, markouts)
    groups = [(policies, _traces(policy_names, rounds, markouts))]
    if twins:
        groups.append((twins, _traces(policy_names, rounds, markouts)))
    everywhere = np.ones(len(market.venues), dtype=np.bool_)

    start = 0
    for end in ends:
        for group, traces in groups:
            for name, policy in group.items():
                began = time.perf_counter()
                feed = feeds.get(name) if group is policies else None
                if feed is None:
                    sent, filled = policy.run_rounds(sizes[start:end], liquidity[start:end], rules)
                else:
                    sent, filled = play_with_markouts(policy, feed, sizes[start:end], liquidity[start:end], rules,
                                                      start, net.batch())
                trace = traces[name]
                trace.chunk_seconds.append(time.perf_counter() - began)
                trace.chunk_rounds.append(end - start)
                trace.filled[start:end] = filled.sum(axis=1)
                trace.certified[start:end] = no_regret_possible(sizes[start:end], sent, filled)
                if markouts is not None:
                    trace.markout_cost[start:end] = (markouts[start:end] * filled).sum(axis=1)
                    trace.expected_cost[start:end] = filled @ moves
                trace.evolution.append(np.array([policy.desired_allocation(int(v), rules, everywhere)
                                                 for v in reference]))
                if end == regime_switch and name == "oracle":
                    policy.truth = LiquidityParams.of(after)  # the oracle knows the new truth at once
                if end in checkpoints:  # under the truth of the rounds to come: the switch shows at once
                    now = 1 if regime_switch is not None and end >= regime_switch else 0
                    mine = [expected_fill(policy_allocation(policy, int(v), rules, everywhere), truths[now])
                            for v in evaluation]
                    trace.adaptation.append(float(np.mean(np.array(mine) / best_fills[now])))
                if progress:
                    progress(end - start)
        start = end
    result = StudyResult(market, after, rounds, seed, regime_switch, sizes, oracle_expected, evaluation,
                         np.empty(0), reference, ends, groups[0][1], policies, checkpoints, net, markouts, values)
    if twins:
        result.fill_only, result.fill_only_policies = groups[1][1], twins
    if values is not None:
        for name in feeds:
            result.traces[name].moves_bps = feeds[name].net.moves_bps()
        for name in policies:
            if name not in feeds:
                result.traces[name].moves_bps = moves
        result.oracle_expected_net = _oracle_expected(market, after, sizes, regime_switch, values)
        result.net_oracle_allocations = final_allocations(result, "oracle", evaluation)
        result.oracle_allocations = final_allocations(result, "oracle", evaluation, fill_only=True)
    else:
        result.oracle_allocations = final_allocations(result, "oracle", evaluation)
    for name in policies:
        result.traces[name].final_allocations = final_allocations(result, name, evaluation)
    for name in twins:
        result.fill_only[name].final_allocations = final_allocations(result, name, evaluation, fill_only=True)
    return result


def _traces(names: list[str], rounds: int, markouts: np.ndarray | None) -> dict[str, PolicyTrace]:
    costs = (lambda: None) if markouts is None else (lambda: np.zeros(rounds))
    return {name: PolicyTrace(name, np.zeros(rounds), np.zeros(rounds, dtype=bool), markout_cost=costs(),
                              expected_cost=costs()) for name in names}


def evaluation_sizes(market: MarketProfile) -> np.ndarray:
    """The order sizes (shares) study.json reports allocations at: log-spaced over the market's range."""
    low, high = market.order_size_range()
    return np.unique(np.round(np.geomspace(low, high, EVALUATION_SIZES)).astype(np.int64))


def final_allocations(result: StudyResult, name: str, sizes: np.ndarray, fill_only: bool = False) -> np.ndarray:
    """(sizes, venues): what policy ``name`` would send at the end of the run (its fill-only twin's
    with ``fill_only``); the oracle's under the final truth even when the oracle did not play."""
    rules = VenueRules.of(result.market)
    everywhere = np.ones(len(result.market.venues), dtype=np.bool_)
    policies = result.fill_only_policies if fill_only else result.policies
    if name == "oracle" and name not in policies:
        truth = LiquidityParams.of(result.final_market)
        values = None if fill_only else result.values
        return np.array([oracle_allocation(int(v), truth, values=values) for v in sizes])
    policy = policies[name]
    return np.array([policy_allocation(policy, int(v), rules, everywhere) for v in sizes])


def expected_net_ratios(result: StudyResult, allocations: np.ndarray) -> np.ndarray:
    """Expected net value of each allocation over the net-value oracle's, at the evaluation sizes."""
    truth = LiquidityParams.of(result.final_market)
    return np.array([expected_net_value(mine, truth, result.values)
                     / max(expected_net_value(best, truth, result.values), 1e-300)
                     for mine, best in zip(allocations, result.net_oracle_allocations)])


def expected_fill_ratios(result: StudyResult, allocations: np.ndarray) -> np.ndarray:
    """Expected fill of each allocation over the oracle's, at the evaluation sizes (final truth)."""
    truth = LiquidityParams.of(result.final_market)
    return np.array([expected_fill(mine, truth) / max(expected_fill(best, truth), 1e-300)
                     for mine, best in zip(allocations, result.oracle_allocations)])


def policy_allocation(policy, quantity: int, rules: VenueRules, everywhere: np.ndarray) -> np.ndarray:
    """What the policy would send now: its expected allocation if it randomises, else its children."""
    if policy.randomises_rounding:
        return policy.desired_allocation(quantity, rules, everywhere)
    return policy.allocate(quantity, rules, everywhere).children.astype(np.float64)


def _liquidity(rng, before: MarketProfile, after: MarketProfile, rounds: int, switch: int | None) -> np.ndarray:
    liquidity = sample_liquidity(rng, LiquidityParams.of(before), rounds)
    if switch is not None:  # from the switch on, liquidity comes from the swapped profiles
        liquidity[switch:] = sample_liquidity(rng, LiquidityParams.of(after), rounds - switch)
    return liquidity


def _oracle_expected(before: MarketProfile, after: MarketProfile, sizes: np.ndarray, switch: int | None,
                     values: np.ndarray | None = None) -> np.ndarray:
    """Oracle expected fill per round (with ``values``: the net-value oracle's expected net value),
    interpolated on a fine log grid (concave, smooth in log size)."""
    expected = _oracle_curve(before, sizes, values)
    if switch is not None:
        expected[switch:] = _oracle_curve(after, sizes[switch:], values)
    return expected


def _oracle_curve(market: MarketProfile, sizes: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    truth = LiquidityParams.of(market)
    low, high = market.order_size_range()
    grid = np.unique(np.round(np.geomspace(low, high, CURVE_POINTS)))
    if values is None:
        curve = np.array([expected_fill(oracle_allocation(int(v), truth), truth) for v in grid])
    else:
        curve = np.array([expected_net_value(oracle_allocation(int(v), truth, values=values), truth, values)
                          for v in grid])
    return np.interp(np.log(sizes), np.log(grid), curve)


def _chunk_ends(rounds: int, chunk: int, switch: int | None, checkpoints: list[int]) -> list[int]:
    ends = set(range(chunk, rounds, chunk)) | {rounds} | set(checkpoints)
    if switch is not None:
        ends.add(switch)
    return sorted(ends)
