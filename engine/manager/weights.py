"""Learned allocation state: one policy per symbol, with a market-level policy as the fallback.

Every sweep's outcome teaches both the symbol's policy and the market's. A symbol trades on its own
weights once it has ``min_symbol_history`` learned sweeps; before that it borrows the market's,
which pools every symbol's experience (venue liquidity is mostly a property of the venue, so a new
symbol starts from what the venues have shown for all the others rather than from uniform).

With a :class:`~engine.allocation.netvalue.NetValue` (``weights.fill_value_bps`` set) every policy
maximises the value of its fills net of adverse selection: the fills' markouts, which arrive
``markout_horizon_seconds`` after them, teach one estimate per venue (toxicity, like liquidity, is
the venue's: pooled over symbols), and every policy is given the new net values at once. The
estimate is journaled with the weights, under ``MARKOUTS_KEY``.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from engine.allocation.netvalue import NetValue
from engine.allocation.policies import Allocation, AllocationPolicy, PolicyError
from engine.allocation.rules import VenueRules

MARKET_KEY = "*"  # the market-level policy's key in snapshots
MARKOUTS_KEY = "!markouts"  # the markout estimate's key (no symbol starts with "!")


class WeightBook:
    def __init__(self, make_policy: Callable[[], AllocationPolicy], min_symbol_history: int,
                 net_value: NetValue | None = None) -> None:
        self._make_policy = make_policy
        self.min_symbol_history = min_symbol_history
        self.net_value = net_value if net_value is not None and not net_value.fill_only else None
        self.markouts_learned = 0
        self.market = self._new_policy()
        self.by_symbol: dict[str, AllocationPolicy] = {}
        self.history: Counter[str] = Counter()

    def _new_policy(self) -> AllocationPolicy:
        policy = self._make_policy()
        if self.net_value is not None:
            policy.set_net_values(self.net_value.values())
        return policy

    def net_values(self) -> np.ndarray | None:
        """Per venue the value (bps) of a filled share now; None for the fill-only objective."""
        return None if self.net_value is None else self.net_value.values()

    def record_markouts(self, filled: np.ndarray, adverse_bps: np.ndarray) -> None:
        """Markouts at the learning horizon, shape (rows, venues): a row per sweep (the engine's,
        :mod:`engine.manager.markouts`) or per fill, with the shares each venue filled and their
        markout, **adverse positive**; every policy then trades on the new net values. Without a
        fill value they teach nothing. ``markouts_learned`` counts the rows."""
        if self.net_value is None or len(filled) == 0:
            return
        self.net_value.record_markouts(filled, adverse_bps)
        self.markouts_learned += len(filled)
        self._give_net_values()

    def _give_net_values(self) -> None:
        values = self.net_value.values()
        for policy in (self.market, *self.by_symbol.values()):
            policy.set_net_values(values)

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
            policy = self.by_symbol[symbol] = self._new_policy()
        policy.observe(allocation, filled)
        self.market.observe(allocation, filled)
        self.history[symbol] += 1

    def snapshots(self) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
        """key -> (learned sweeps, the policy's snapshot); the market's key is ``MARKET_KEY``."""
        taken = {MARKET_KEY: (sum(self.history.values()), self.market.snapshot())}
        for symbol, policy in self.by_symbol.items():
            taken[symbol] = (self.history[symbol], policy.snapshot())
        if self.net_value is not None:
            taken[MARKOUTS_KEY] = (self.markouts_learned, self.net_value.estimator.snapshot())
        return taken

    def restore(self, snapshots: dict[str, tuple[int, dict[str, np.ndarray]]]) -> None:
        estimate = snapshots.get(MARKOUTS_KEY)
        if estimate is not None and self.net_value is not None:  # first: a bad one changes nothing
            try:
                self.net_value.estimator.restore(estimate[1])
            except (KeyError, ValueError) as error:
                raise PolicyError(f"markout estimate not restored: {error}") from None
            self.markouts_learned = estimate[0]
        for key, (learned, snapshot) in snapshots.items():
            if key == MARKOUTS_KEY:  # done above (a fill-only engine ignores it)
                continue
            if key == MARKET_KEY:
                self.market.restore(snapshot)
            else:
                policy = self.by_symbol.setdefault(key, self._new_policy())
                policy.restore(snapshot)
                self.history[key] = learned
        if self.net_value is not None:
            self._give_net_values()
