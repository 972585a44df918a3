"""Allocation policies behind one interface: ``allocate(quantity, rules) -> Allocation`` and
``observe(allocation, filled)``; the objective through ``set_net_values(values)``.

Every policy first forms a real-valued *desired* allocation (its expected allocation), then the
shared rounding of :mod:`engine.allocation.rules` turns it into child orders the venues accept, so
venue rules are enforced in one place for all of them. ``run_rounds`` plays a batch of rounds
against known liquidity (the study); the default is a loop over allocate/observe, and ExpGrad
(expgrad_policy.py) overrides it with a compiled loop over the same kernels.

The objective is expected fill (the default) or, after ``set_net_values``, expected fill value net
of adverse selection (netvalue.py): every policy then weighs a venue's fills by its net value and
sends nothing to a venue worth <= 0 (it is treated as unavailable).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.allocation.censored import CensoredHistograms, optimistic_tails_kernel
from engine.allocation.netvalue import net_weights
from engine.allocation.oracle import oracle_allocation, table_allocation
from engine.allocation.profiles import LiquidityParams
from engine.allocation.rules import VenueRules, enforce_rules, enforce_rules_kernel


class PolicyError(ValueError):
    """Bad input to a policy: unknown name, negative size, mismatched arrays."""


@dataclass(frozen=True)
class Allocation:
    quantity: int
    children: np.ndarray  # int64 shares per venue, market order, venue rules applied
    desired: np.ndarray   # float64: the policy's expected allocation before rounding and rules


class AllocationPolicy(ABC):
    name: ClassVar[str]
    randomises_rounding: ClassVar[bool] = False  # then its expected allocation is `desired`
    # attribute paths ("history.totals") of everything learned: what snapshot() saves and restore()
    # puts back; arrays keep their shape, Python scalars travel as 0-d arrays
    state_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, venue_count: int) -> None:
        if venue_count < 1:
            raise PolicyError(f"venue_count = {venue_count}, expected at least one venue")
        self.venue_count = venue_count
        self.net_weights = np.ones(venue_count)              # per venue, net value / the largest
        self.net_allowed = np.ones(venue_count, dtype=np.bool_)  # net value > 0
        self.net_active = False                              # False: the fill-only objective

    def set_net_values(self, values: np.ndarray | None) -> None:
        """The objective. None (the default): expected fill. Otherwise, per venue, the value (bps) of
        a filled share net of its expected adverse move, fill_value_bps - m_i (``NetValue.values()``):
        the policy maximises expected net value, and a venue worth <= 0 gets nothing. Only the
        ratios matter; call it again whenever the estimates move."""
        try:
            weights = net_weights(values, self.venue_count)
        except ValueError as error:
            raise PolicyError(str(error)) from None
        self.net_weights = weights
        self.net_allowed = weights > 0.0
        self.net_active = not bool(np.all(weights == 1.0))
        self._net_values_changed()

    def _net_values_changed(self) -> None:
        """Hook: the policy's derived state that depends on the net values (ExpGrad's rows)."""

    def _net_or_none(self) -> np.ndarray | None:
        return self.net_weights if self.net_active else None

    def allocate(self, quantity: int, rules: VenueRules, available: np.ndarray | None = None) -> Allocation:
        quantity = _check_quantity(quantity)
        if rules.venue_count != self.venue_count:
            raise PolicyError(f"rules cover {rules.venue_count} venues, the policy {self.venue_count}")
        available = _availability(available, self.venue_count)
        if self.net_active:  # a venue worth nothing net of adverse selection is not traded
            available = available & self.net_allowed
        desired = self.desired_allocation(quantity, rules, available)
        return Allocation(quantity, self._round(desired, quantity, rules, available), desired)

    def refit_now(self) -> None:
        """Do now the work this policy otherwise does only every so many rounds (a model refit).
        Called on a throwaway policy at start-up, so the kernels it needs are loaded (or compiled)
        then, not in the middle of a live sweep. Policies without periodic work do nothing."""

    def observe(self, allocation: Allocation, filled: np.ndarray) -> None:
        filled = np.asarray(filled, dtype=np.float64)
        sent = allocation.children.astype(np.float64)
        if filled.shape != sent.shape or np.any(filled < 0) or np.any(filled > sent):
            raise PolicyError(f"filled = {filled.tolist()} must be per venue within 0..sent {sent.tolist()}")
        self._learn(allocation.quantity, sent, filled)

    def snapshot(self) -> dict[str, np.ndarray]:
        """All learned state as arrays (copies), enough to resume learning exactly (the rounding RNG
        aside), plus ``policy``: the policy's name as a 0-d string array."""
        taken = {path: np.array(_get_path(self, path), copy=True) for path in self.state_fields}
        taken["policy"] = np.array(self.name)
        return taken

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        """Put back a :meth:`snapshot`. Checked whole before anything changes: a snapshot of another
        policy, or of the same policy over another market shape, raises PolicyError."""
        found = str(np.asarray(snapshot.get("policy", ""))) if "policy" in snapshot else None
        if found != self.name:
            raise PolicyError(f"snapshot is of policy {found!r}, cannot restore it into {self.name!r}")
        missing = [p for p in self.state_fields if p not in snapshot]
        extra = sorted(set(snapshot) - set(self.state_fields) - {"policy"})
        if missing or extra:
            raise PolicyError(f"{self.name} snapshot: missing {missing}, unexpected {extra}")
        values = {}
        for path in self.state_fields:
            current, given = _get_path(self, path), np.asarray(snapshot[path])
            shape = np.shape(current)
            if given.shape != shape:
                raise PolicyError(f"{self.name} snapshot: {path} has shape {given.shape}, this policy's "
                                  f"is {shape} (another market or grid?)")
            if isinstance(current, np.ndarray):
                values[path] = given.astype(current.dtype, copy=True)
            else:
                values[path] = type(current)(given.item())
        for path, value in values.items():
            _set_path(self, path, value)

    @abstractmethod
    def desired_allocation(self, quantity: int, rules: VenueRules, available: np.ndarray) -> np.ndarray:
        """Expected shares per venue (float64) for an order of ``quantity`` shares."""

    @abstractmethod
    def _learn(self, quantity: int, sent: np.ndarray, filled: np.ndarray) -> None:
        ...

    def _round(self, desired: np.ndarray, quantity: int, rules: VenueRules, available: np.ndarray) -> np.ndarray:
        return enforce_rules(desired, quantity, rules, available)

    def run_rounds(self, sizes: np.ndarray, liquidity: np.ndarray, rules: VenueRules) -> tuple[np.ndarray, np.ndarray]:
        """Play one round per size against the hidden liquidity; returns (sent, filled).

        The same steps as allocate() then observe(), without their checks and wrappers (the study's
        inputs are valid by construction): a few microseconds per round saved for every policy.
        """
        sent = np.zeros(liquidity.shape)
        filled = np.zeros(liquidity.shape)
        everywhere = self.net_allowed.copy() if self.net_active else np.ones(self.venue_count, dtype=np.bool_)
        for t, size in enumerate(sizes):
            quantity = int(size)
            desired = self.desired_allocation(quantity, rules, everywhere)
            if self.randomises_rounding:
                sent[t] = self._round(desired, quantity, rules, everywhere)
            else:
                enforce_rules_kernel(desired, float(quantity), rules.lot_size, rules.min_order_size,
                                     rules.max_order_size, everywhere, sent[t])
            np.minimum(sent[t], liquidity[t], out=filled[t])
            self._learn(quantity, sent[t], filled[t])
        return sent, filled


class UniformPolicy(AllocationPolicy):
    """The floor: the same share to every available venue, rounded down."""

    name = "uniform"

    def desired_allocation(self, quantity, rules, available):
        count = max(int(available.sum()), 1)
        return np.where(available, np.floor(quantity / count), 0.0)

    def _learn(self, quantity, sent, filled):
        pass


class OraclePolicy(AllocationPolicy):
    """Greedy on the true liquidity model (study only: real venues do not tell us their truth)."""

    name = "oracle"

    def __init__(self, truth: LiquidityParams) -> None:
        super().__init__(truth.venue_count)
        self.truth = truth

    def desired_allocation(self, quantity, rules, available):
        return oracle_allocation(quantity, self.truth, _caps(rules, available), self._net_or_none())

    def _learn(self, quantity, sent, filled):
        pass


class KaplanMeierPolicy(AllocationPolicy):
    """Ganchev et al.: Kaplan-Meier tails per venue, greedy, optimistic past the known region.

    The paper's optimism (one more unit at the cutoff's tail value) explores one share at a time,
    far too slowly for orders of millions of shares; we extend the cutoff's value to twice the
    cutoff size (exploration by doubling), and a venue with fewer than ``min_at_risk`` outcomes is
    treated as always liquid so one early zero cannot exclude it for good.
    """

    name = "km"
    state_fields = CensoredHistograms.state_fields("history")

    def __init__(self, venue_count: int, min_at_risk: float = 20.0) -> None:
        super().__init__(venue_count)
        self.history = CensoredHistograms(venue_count)
        self.min_at_risk = min_at_risk
        self._tails: tuple[np.ndarray, np.ndarray] | None = None  # (optimistic tails, limit) until the next outcome

    def desired_allocation(self, quantity, rules, available):
        if self._tails is None:
            tails, cutoff = self.history.kaplan_meier(self.min_at_risk)
            untried = self.history.effective_counts() < self.min_at_risk
            limit = np.empty(self.venue_count, dtype=np.int64)
            optimistic_tails_kernel(tails, cutoff, self.history.breakpoints, untried, limit)
            self._tails = tails, limit
        tails, limit = self._tails
        return table_allocation(quantity, tails, self.history.breakpoints, limit, _caps(rules, available),
                                self._net_or_none())

    def _learn(self, quantity, sent, filled):
        self.history.record(sent, filled)
        self._tails = None

    def restore(self, snapshot):
        super().restore(snapshot)
        self._tails = None


class ParametricPolicy(AllocationPolicy):
    """Censored MLE of zero bin + truncated Pareto per venue, then the oracle's greedy on the fit."""

    name = "parametric"
    state_fields = CensoredHistograms.state_fields("history") + ("_new_outcomes", "_fit_rounds", "fitted_array")

    def __init__(self, venue_count: int, refit_fraction: float = 0.05, half_life: float | None = None) -> None:
        super().__init__(venue_count)
        self.history = CensoredHistograms(venue_count, half_life=half_life, warm_start=True)
        self.refit_fraction = refit_fraction
        self._new_outcomes = 0
        self._fit_rounds = 0
        self.fitted = _params_from_fit(self.history.fit())

    def desired_allocation(self, quantity, rules, available):
        return oracle_allocation(quantity, self.fitted, _caps(rules, available), self._net_or_none())

    def _learn(self, quantity, sent, filled):
        self.history.record(sent, filled)
        self._new_outcomes += 1
        self._fit_rounds += 1
        if self._new_outcomes >= max(1.0, self.refit_fraction * self._fit_rounds):
            self.refit()

    def refit(self) -> None:
        self.fitted = _params_from_fit(self.history.fit())
        self._new_outcomes = 0

    def refit_now(self) -> None:
        self.refit()

    @property
    def fitted_array(self) -> np.ndarray:
        return params_array(self.fitted)

    @fitted_array.setter
    def fitted_array(self, value: np.ndarray) -> None:
        self.fitted = LiquidityParams(*(np.array(row) for row in value))


def params_array(params: LiquidityParams) -> np.ndarray:
    """(4, venues): a fitted model as one array, for snapshots."""
    return np.vstack(params.as_tuple())


def _get_path(owner: object, path: str):
    for name in path.split("."):
        owner = getattr(owner, name)
    return owner


def _set_path(owner: object, path: str, value) -> None:
    *parents, last = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    setattr(owner, last, value)


def _params_from_fit(fit: np.ndarray) -> LiquidityParams:
    return LiquidityParams(fit[:, 0].copy(), fit[:, 1].copy(), fit[:, 2].copy(), fit[:, 3].copy())


def _caps(rules: VenueRules, available: np.ndarray) -> np.ndarray:
    return np.where(available, rules.max_order_size, 0.0)


def _restrict(desired: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Drop unavailable venues and give their share to the others, in proportion."""
    if available.all():
        return desired
    kept = np.where(available, desired, 0.0)
    total, kept_total = desired.sum(), kept.sum()
    return kept * (total / kept_total) if kept_total > 0 else np.where(available, total / max(available.sum(), 1), 0.0)


def _availability(available: np.ndarray | None, venue_count: int) -> np.ndarray:
    if available is None:
        return np.ones(venue_count, dtype=np.bool_)
    available = np.asarray(available, dtype=np.bool_)
    if available.shape != (venue_count,):
        raise PolicyError(f"available has shape {available.shape}, expected ({venue_count},)")
    return available


def _check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, (int, np.integer)) or quantity < 0:
        raise PolicyError(f"quantity = {quantity!r}, expected a whole number of shares >= 0")
    return int(quantity)
