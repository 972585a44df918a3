"""Learned allocation state: one policy per symbol, with a market-level policy as the fallback.

Every sweep's outcome teaches both the symbol's policy and the market's. A symbol trades on its own
weights once it has ``min_symbol_history`` learned sweeps; before that it borrows the market's,
which pools every symbol's experience (venue liquidity is mostly a property of the venue, so a new
symbol starts from what the venues have shown for all the others rather than from uniform).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from engine.allocation.policies import Allocation, AllocationPolicy
from engine.allocation.rules import VenueRules

MARKET_KEY = "*"  # the market-level policy's key in snapshots


class WeightBook:
    def __init__(self, make_policy: Callable[[], AllocationPolicy], min_symbol_history: int) -> None:
        self._make_policy = make_policy
        self.min_symbol_history = min_symbol_history
        self.market = make_policy()
        self.by_symbol: dict[str, AllocationPolicy] = {}
        self.history: Counter[str] = Counter()

    @property
    def policy_name(self) -> str:
        return self.market.name

    def policy_for(self, symbol: str) -> AllocationPolicy:
        if self.history[symbol] >= self.min_symbol_history:
            return self.by_symbol[symbol]
        return self.market

    def allocate(self, symbol: str, quantity: int, rules: VenueRules, available: np.ndarray) -> Allocation:
        return self.policy_for(symbol).allocate(quantity, rules, available)

    def observe(self, symbol: str, allocation: Allocation, filled: np.ndarray) -> None:
        policy = self.by_symbol.get(symbol)
        if policy is None:
            policy = self.by_symbol[symbol] = self._make_policy()
        policy.observe(allocation, filled)
        self.market.observe(allocation, filled)
        self.history[symbol] += 1

    def snapshots(self) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
        """key -> (learned sweeps, the policy's snapshot); the market's key is ``MARKET_KEY``."""
        taken = {MARKET_KEY: (sum(self.history.values()), self.market.snapshot())}
        for symbol, policy in self.by_symbol.items():
            taken[symbol] = (self.history[symbol], policy.snapshot())
        return taken

    def restore(self, snapshots: dict[str, tuple[int, dict[str, np.ndarray]]]) -> None:
        for key, (learned, snapshot) in snapshots.items():
            if key == MARKET_KEY:
                self.market.restore(snapshot)
            else:
                policy = self.by_symbol.setdefault(key, self._make_policy())
                policy.restore(snapshot)
                self.history[key] = learned
