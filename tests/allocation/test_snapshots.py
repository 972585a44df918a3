"""snapshot()/restore(): the persistence API the engine keeps learned weights with."""

import numpy as np
import pytest

from engine.allocation.policies import PolicyError
from engine.allocation.registry import LEARNING_POLICIES, POLICY_NAMES, make_policy
from engine.allocation.rules import VenueRules
from tests.allocation.markets import small_market
from tests.allocation.test_policies import _rounds

QUANTITIES = np.unique(np.geomspace(1, 300_000, 40).astype(int))


def _trained(name: str, rounds: int = 1_500, seed: int = 5):
    market = small_market()
    policy = make_policy(name, market, seed=seed)
    sizes, liquidity = _rounds(market, seed, rounds)
    policy.run_rounds(sizes, liquidity, VenueRules.of(market))
    return market, policy


def _desired(policy, market):
    rules, everywhere = VenueRules.of(market), np.ones(len(market.venues), dtype=bool)
    return np.array([policy.desired_allocation(int(v), rules, everywhere) for v in QUANTITIES])


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_a_restored_policy_allocates_exactly_like_the_original(name):
    market, original = _trained(name)
    snapshot = original.snapshot()
    assert all(isinstance(value, np.ndarray) for value in snapshot.values())
    fresh = make_policy(name, market, seed=99)
    fresh.restore(snapshot)
    np.testing.assert_array_equal(_desired(fresh, market), _desired(original, market))


@pytest.mark.parametrize("name", LEARNING_POLICIES)
def test_learning_continues_identically_after_a_restore(name):
    market, original = _trained(name)
    copy = make_policy(name, market, seed=1)
    copy.restore(original.snapshot())
    rules = VenueRules.of(market)
    sizes, liquidity = _rounds(market, 77, 400)
    for quantity, hidden in zip(sizes, liquidity):
        allocation = original.allocate(int(quantity), rules)  # the same children to both: rounding may randomise
        filled = np.minimum(allocation.children, hidden)
        original.observe(allocation, filled)
        copy.observe(allocation, filled)
    np.testing.assert_array_equal(_desired(copy, market), _desired(original, market))
    for key, value in original.snapshot().items():
        np.testing.assert_array_equal(copy.snapshot()[key], value, err_msg=key)


def test_a_snapshot_is_a_copy_not_a_view_of_the_live_state():
    market, policy = _trained("expgrad", rounds=300)
    snapshot = policy.snapshot()
    before = {key: value.copy() for key, value in snapshot.items()}
    _, more = _rounds(market, 8, 1)
    policy.run_rounds(np.array([200_000.0]), more, VenueRules.of(market))
    for key, value in snapshot.items():
        np.testing.assert_array_equal(value, before[key])


def test_a_snapshot_of_another_policy_is_refused_by_name():
    market, km = _trained("km", rounds=200)
    with pytest.raises(PolicyError, match="policy 'km'.*'parametric'"):
        make_policy("parametric", market).restore(km.snapshot())


def test_a_snapshot_over_another_market_shape_is_refused_and_leaves_the_policy_untouched():
    market, policy = _trained("expgrad", rounds=300)
    snapshot = policy.snapshot()
    snapshot["weights"] = snapshot["weights"][:, :3]
    fresh = make_policy("expgrad", market)
    before = fresh.snapshot()
    with pytest.raises(PolicyError, match="weights has shape"):
        fresh.restore(snapshot)
    for key, value in fresh.snapshot().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_snapshot_missing_a_field_names_it():
    market, policy = _trained("adaptive", rounds=200)
    snapshot = policy.snapshot()
    del snapshot["evidence"]
    with pytest.raises(PolicyError, match="missing.*evidence"):
        make_policy("adaptive", market).restore(snapshot)
