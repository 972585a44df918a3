"""The study's adverse selection: simulated markouts, their late arrival, net-value scoring.

With a finite ``fill_value_bps`` X every policy is given the net objective (engine/allocation/
netvalue.py): a share filled at venue i is worth X - m_i. The oracle is told the true m_i (the
net-value oracle); the learning policies estimate m_i from the markouts of their own fills, which
reach them ``delay_rounds`` after the round that filled (or the true m_i with ``true_moves``, to
measure what learning costs). Beside them the same policies run fill-only, as they do without
this option, and are scored on the same net value.

Markouts, per (round, venue), one draw shared by every policy that fills there in that round: with
the venue's toxicity probability the fill met an informed contra and the midpoint moves move_bps x
min(1, h / horizon) against us by the markout horizon h, else 0; plus zero-mean normal noise of
``markout_noise_bps`` (the midpoint's own volatility over h). A fill of r shares costs r x its
markout. Realised net value of a round = sum_i (X - markout_i) x filled_i, in bps x shares.
The draws come from their own generator, so liquidity and sizes (and every fill-only result) are
exactly those of a study without markouts.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.allocation.netvalue import MarkoutEstimator, NetValue
from engine.allocation.profiles import MarketProfile
from engine.allocation.rules import VenueRules

MARKOUT_STREAM = 0x6D6B  # the markouts' generator is seeded with (seed, MARKOUT_STREAM)
DELIVERY_BATCHES = 5     # deliveries per delay: round t's markouts reach the policy by round t + 1.2 x delay


@dataclass(frozen=True)
class NetStudy:
    """The net-of-toxicity options of a study (the defaults: fill-only, today's study)."""

    fill_value_bps: float = math.inf
    horizon_seconds: float = 10.0
    delay_rounds: int = 50
    markout_noise_bps: float = 5.0
    prior_fills: float = 10.0
    weighting: str = "fill"
    true_moves: bool = False      # give the learners the true m_i (what learning costs)
    twins: bool = True            # with a finite fill value, also run every policy fill-only

    def __post_init__(self) -> None:
        if math.isnan(self.fill_value_bps) or self.fill_value_bps == -math.inf:
            raise ValueError(f"fill value {self.fill_value_bps} bps: expected a number or inf")
        if not self.horizon_seconds > 0:
            raise ValueError(f"markout horizon {self.horizon_seconds} s: expected seconds > 0")
        if self.delay_rounds < 1:
            raise ValueError(f"markout delay {self.delay_rounds} rounds: expected >= 1 (1: by the next round)")
        if not self.markout_noise_bps >= 0:
            raise ValueError(f"markout noise {self.markout_noise_bps} bps: expected >= 0")

    @property
    def net(self) -> bool:
        return math.isfinite(self.fill_value_bps)

    def batch(self) -> int:
        """Rounds played between two deliveries of markouts."""
        return max(1, self.delay_rounds // DELIVERY_BATCHES)


def has_toxicity(market: MarketProfile) -> bool:
    return any(v.toxicity is not None for v in market.venues)


def true_values(market: MarketProfile, study: NetStudy) -> np.ndarray:
    """X - m_i with the true m_i at the study's horizon."""
    return study.fill_value_bps - market.expected_moves_bps(study.horizon_seconds)


def simulate_markouts(market: MarketProfile, rounds: int, seed: int, study: NetStudy) -> np.ndarray:
    """(rounds, venues): the markout (bps, adverse positive) a fill at that venue in that round gets."""
    rng = np.random.default_rng([seed, MARKOUT_STREAM])
    venues = market.venues
    probability = np.array([v.toxicity.probability if v.toxicity else 0.0 for v in venues])
    move = np.array([v.toxicity.move_bps * min(1.0, study.horizon_seconds / v.toxicity.horizon_seconds)
                     if v.toxicity else 0.0 for v in venues])
    informed = rng.random((rounds, len(venues))) < probability
    markouts = np.where(informed, move, 0.0)
    if study.markout_noise_bps > 0:
        markouts += rng.normal(0.0, study.markout_noise_bps, markouts.shape)
    return markouts


class MarkoutFeed:
    """One learning policy's markouts on their way: the fills of round t reach its estimator once
    round t + delay is about to be played (checked every ``study.batch()`` rounds)."""

    def __init__(self, net: NetValue, markouts: np.ndarray, delay: int) -> None:
        self.net = net
        self.markouts = markouts
        self.delay = delay
        self.pending: deque[tuple[int, np.ndarray]] = deque()  # (first round, filled per round and venue)
        self.delivered_rounds = 0

    def played(self, start: int, filled: np.ndarray) -> None:
        self.pending.append((start, filled))

    def deliver(self, now: int) -> bool:
        """Record every pending round t with t + delay <= now; True if any arrived."""
        arrived = False
        while self.pending:
            start, filled = self.pending[0]
            ready = min(len(filled), now - self.delay - start + 1)
            if ready <= 0:
                break
            self.net.record_markouts(filled[:ready], self.markouts[start:start + ready])
            self.delivered_rounds += ready
            arrived = True
            if ready == len(filled):
                self.pending.popleft()
            else:
                self.pending[0] = (start + ready, filled[ready:])
                break
        return arrived


def learning_feed(market: MarketProfile, study: NetStudy, markouts: np.ndarray) -> MarkoutFeed:
    venues = len(market.venues)
    estimator = MarkoutEstimator(venues, prior_fills=study.prior_fills, weighting=study.weighting)
    return MarkoutFeed(NetValue(venues, study.fill_value_bps, study.horizon_seconds, estimator), markouts,
                       study.delay_rounds)


def play_with_markouts(policy, feed: MarkoutFeed, sizes: np.ndarray, liquidity: np.ndarray,
                       rules: VenueRules, start: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """policy.run_rounds over rounds start.. in batches, handing the policy its new net values
    whenever markouts arrive (the rounds' arrays are the chunk's, ``start`` its first round)."""
    sent = np.zeros(liquidity.shape)
    filled = np.zeros(liquidity.shape)
    for offset in range(0, len(sizes), batch):
        stop = min(len(sizes), offset + batch)
        if feed.deliver(start + offset):
            policy.set_net_values(feed.net.values())
        sent[offset:stop], filled[offset:stop] = policy.run_rounds(sizes[offset:stop], liquidity[offset:stop], rules)
        feed.played(start + offset, filled[offset:stop])
    return sent, filled
