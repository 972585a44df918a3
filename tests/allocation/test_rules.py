import numpy as np
from hypothesis import given, settings, strategies as st

from engine.allocation.profiles import VenueProfile
from engine.allocation.rules import (VenueRules, enforce_rules, systematic_round_kernel,
                                     systematic_round_reference)

rule = st.tuples(st.integers(1, 100), st.integers(1, 500), st.one_of(st.none(), st.integers(500, 5000)))


def _rules(rows) -> VenueRules:
    venues = tuple(VenueProfile(name=f"V{i}", fill_probability=0.1, tail_exponent=1.0, min_size=1,
                                max_size=10, lot_size=lot, min_order_size=minimum, max_order_size=maximum)
                   for i, (lot, minimum, maximum) in enumerate(rows))
    return VenueRules.of(venues)


@given(st.lists(rule, min_size=1, max_size=6).flatmap(
    lambda rows: st.tuples(st.just(rows), st.lists(st.floats(0, 20_000), min_size=len(rows), max_size=len(rows)),
                           st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))),
       st.integers(0, 30_000))
@settings(max_examples=300, deadline=None)
def test_children_always_respect_every_venue_rule_and_the_order(case, quantity):
    rows, desired, available = case
    rules = _rules(rows)
    desired = np.array(desired)
    if desired.sum() > quantity:  # policies never desire more than the order
        desired *= quantity / max(desired.sum(), 1e-9)
    children = enforce_rules(desired, quantity, rules, np.array(available))
    assert children.sum() <= quantity
    assert np.all(children >= 0)
    assert np.all(children % rules.lot_size.astype(int) == 0)
    used = children > 0
    assert np.all(children[used] >= rules.min_order_size[used])
    assert np.all(children[used] <= rules.max_order_size[used])
    assert not np.any(children[~np.array(available)])


def test_without_rules_rounding_keeps_the_whole_order():
    rules = VenueRules.unconstrained(3)
    children = enforce_rules(np.array([10.4, 20.35, 69.25]), 100, rules)
    assert children.sum() == 100 and list(children) == [11, 20, 69]  # largest remainder


def test_shares_a_venue_minimum_refuses_go_to_the_venues_in_use():
    rules = _rules([(1, 1, None), (1, 1000, None)])
    assert list(enforce_rules(np.array([900.0, 100.0]), 1000, rules)) == [1000, 0]


@given(st.lists(st.floats(0, 50), min_size=1, max_size=8), st.integers(1, 5))
@settings(max_examples=50, deadline=None)
def test_systematic_rounding_is_unbiased_and_stays_within_a_lot(desired, lot):
    desired = np.array(desired)
    lots = np.full(len(desired), float(lot))
    out = np.empty_like(desired)
    offsets = (np.arange(400) + 0.5) / 400
    total = np.zeros_like(desired)
    for offset in offsets:
        systematic_round_kernel(desired, lots, offset, out)
        assert np.all(out % lot == 0)
        assert abs(out.sum() - desired.sum()) <= lot + 1e-9
        assert np.all(np.abs(out - desired) < lot + 1e-9)
        total += out
    np.testing.assert_allclose(total / len(offsets), desired, atol=lot / 200 + 1e-9)


@given(st.lists(st.floats(0, 5_000), min_size=1, max_size=12), st.integers(1, 100), st.floats(0, 0.999))
@settings(max_examples=100, deadline=None)
def test_systematic_rounding_kernel_agrees_with_its_numpy_twin(desired, lot, offset):
    desired = np.array(desired)
    lots = np.full(len(desired), float(lot))
    out = np.empty_like(desired)
    systematic_round_kernel(desired, lots, offset, out)
    np.testing.assert_array_equal(out, systematic_round_reference(desired, lots, offset))
