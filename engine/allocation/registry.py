"""Policies by name: the one place that knows which names exist and how each is built."""

from __future__ import annotations

from engine.allocation.adaptive import AdaptivePolicy
from engine.allocation.expgrad_policy import ExpGradPolicy
from engine.allocation.policies import (AllocationPolicy, KaplanMeierPolicy, OraclePolicy, ParametricPolicy,
                                        PolicyError, UniformPolicy)
from engine.allocation.profiles import LiquidityParams, MarketProfile

DEFAULT_POLICY = "expgrad"
POLICY_NAMES = ("expgrad", "expgrad-order", "km", "parametric", "adaptive", "uniform", "oracle")
LEARNING_POLICIES = ("expgrad", "expgrad-order", "km", "parametric", "adaptive")


def make_policy(name: str, market: MarketProfile, seed: int = 0) -> AllocationPolicy:
    """A fresh policy for ``market`` (the oracle is given the market's true liquidity)."""
    venue_count = len(market.venues)
    largest = market.order_size_range()[1]
    if name == "expgrad":
        return ExpGradPolicy(venue_count, largest, seed=seed)
    if name == "expgrad-order":  # Agarwal et al.'s own gradient, kept to justify ours in the study
        policy = ExpGradPolicy(venue_count, largest, gradient="order", seed=seed)
        policy.name = "expgrad-order"
        return policy
    if name == "km":
        return KaplanMeierPolicy(venue_count)
    if name == "parametric":
        return ParametricPolicy(venue_count)
    if name == "adaptive":
        return AdaptivePolicy(venue_count)
    if name == "uniform":
        return UniformPolicy(venue_count)
    if name == "oracle":
        return OraclePolicy(LiquidityParams.of(market))
    raise PolicyError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")


def check_policy_names(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown:
        raise PolicyError(f"unknown policy {unknown[0]!r}; known: {', '.join(POLICY_NAMES)}")
    return names
