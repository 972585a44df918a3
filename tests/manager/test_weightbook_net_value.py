"""The WeightBook's net-value objective: markouts teach one estimate that every policy trades on,
market-level and per symbol, including policies created later; the estimate is journaled with the
weights under "!markouts"; a fill-only book ignores both."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.allocation.attribution import SweepAttribution
from engine.allocation.netvalue import MarkoutEstimator, NetValue, net_weights
from engine.allocation.policies import PolicyError
from engine.allocation.registry import make_policy
from engine.allocation.rules import VenueRules
from engine.journal import Journal, latest_weights
from engine.manager.weights import MARKET_KEY, MARKOUTS_KEY, WeightBook
from tests.allocation.markets import small_market

MARKET = small_market()
K = len(MARKET.venues)
RULES = VenueRules.of(MARKET)
FILL_VALUE = 10.0


def net_book(policy: str = "expgrad", prior_fills: float = 1.0) -> WeightBook:
    net = NetValue(K, FILL_VALUE, 10.0, SweepAttribution(K, prior_fills=prior_fills))
    return WeightBook(lambda: make_policy(policy, MARKET), 3, net)


def teach_toxic_first_venue(book: WeightBook, sweeps: int = 10) -> None:
    """Sweeps at venue 0 alone (25 bps against us), venue 1 alone (0) and both (25)."""
    rows = [((200.0, 0, 0, 0), 25.0), ((0, 200.0, 0, 0), 0.0), ((200.0, 200.0, 0, 0), 25.0)] * sweeps
    book.record_markouts(np.array([f for f, _ in rows]), np.array([[y] * K for _, y in rows]))


def allocate_all(book: WeightBook, symbol: str) -> np.ndarray:
    return book.allocate(symbol, 100_000, RULES, np.ones(K, dtype=np.bool_)).children


def observe_sweeps(book: WeightBook, symbol: str, count: int) -> None:
    for _ in range(count):
        allocation = book.allocate(symbol, 5_000, RULES, np.ones(K, dtype=np.bool_))
        book.observe(symbol, allocation, np.minimum(allocation.children, 100).astype(float))


def test_markouts_give_every_policy_the_new_net_values_including_ones_created_later():
    book = net_book()
    np.testing.assert_array_equal(book.net_values(), np.full(K, FILL_VALUE))  # no history: every venue at 0
    assert not book.market.net_active
    observe_sweeps(book, "VOD.L", 4)  # VOD.L's own policy exists before the markouts
    teach_toxic_first_venue(book)
    assert book.markouts_learned == 30
    values = book.net_values()
    assert values[0] <= 0.0 < values[1]
    expected = net_weights(values, K)
    for policy in (book.market, book.by_symbol["VOD.L"]):
        assert policy.net_active
        np.testing.assert_array_equal(policy.net_weights, expected)
    observe_sweeps(book, "BARC.L", 1)  # created after the markouts
    np.testing.assert_array_equal(book.by_symbol["BARC.L"].net_weights, expected)
    observe_sweeps(book, "BARC.L", 3)
    assert book.policy_for("BARC.L") is book.by_symbol["BARC.L"] and book.policy_for("HSBA.L") is book.market
    for symbol in ("VOD.L", "BARC.L", "HSBA.L"):  # its own policy, its own, the market's
        assert allocate_all(book, symbol)[0] == 0


def test_a_policy_restored_for_a_new_symbol_gets_the_current_net_values():
    source = net_book()
    observe_sweeps(source, "VOD.L", 4)
    taken = {key: value for key, value in source.snapshots().items() if key != MARKOUTS_KEY}
    book = net_book()
    teach_toxic_first_venue(book)
    book.restore(taken)  # VOD.L's policy is created here, after the markouts
    np.testing.assert_array_equal(book.by_symbol["VOD.L"].net_weights, net_weights(book.net_values(), K))


def test_empty_markouts_teach_nothing():
    book = net_book()
    book.record_markouts(np.zeros((0, K)), np.zeros((0, K)))
    assert book.markouts_learned == 0
    np.testing.assert_array_equal(book.net_values(), np.full(K, FILL_VALUE))


def test_the_estimate_travels_with_the_weights_through_the_journal(tmp_path):
    book = net_book()
    observe_sweeps(book, "VOD.L", 4)
    teach_toxic_first_venue(book)
    taken = book.snapshots()
    assert set(taken) == {MARKET_KEY, "VOD.L", MARKOUTS_KEY}
    learned, estimate = taken[MARKOUTS_KEY]
    assert learned == 30
    assert {"gram", "moment", "sweeps"} <= set(estimate)  # the attribution's sums
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    for key, (count, snapshot) in taken.items():
        journal.record_weights(key, book.policy_name, count, snapshot, at=100.0)
    journal.flush()
    journal.close()
    restored = net_book()
    restored.restore({key: (count, snapshot) for key, (_, count, snapshot) in latest_weights(path).items()})
    assert restored.markouts_learned == 30
    np.testing.assert_allclose(restored.net_values(), book.net_values(), rtol=1e-12)
    for policy in (restored.market, restored.by_symbol["VOD.L"]):
        np.testing.assert_allclose(policy.net_weights, net_weights(book.net_values(), K), rtol=1e-12)
    # it goes on learning from where it was, like the original
    teach_toxic_first_venue(book, 2)
    teach_toxic_first_venue(restored, 2)
    np.testing.assert_allclose(restored.net_values(), book.net_values(), rtol=1e-9)
    assert restored.markouts_learned == book.markouts_learned == 36


def test_restoring_only_the_estimate_gives_every_existing_policy_its_net_values():
    book = net_book()
    teach_toxic_first_venue(book)
    fresh = net_book()
    observe_sweeps(fresh, "VOD.L", 1)
    fresh.restore({MARKOUTS_KEY: book.snapshots()[MARKOUTS_KEY]})
    for policy in (fresh.market, fresh.by_symbol["VOD.L"]):
        np.testing.assert_allclose(policy.net_weights, net_weights(book.net_values(), K))


@pytest.mark.parametrize("net_value", [None, NetValue(K, math.inf, 10.0, SweepAttribution(K))],
                         ids=["no net value", "infinite fill value"])
def test_a_fill_only_book_ignores_markouts_and_the_estimate_key(net_value):
    book = WeightBook(lambda: make_policy("expgrad", MARKET), 3, net_value)
    assert book.net_value is None and book.net_values() is None
    teach_toxic_first_venue(book)
    assert book.markouts_learned == 0 and book.net_values() is None
    assert not book.market.net_active
    observe_sweeps(book, "VOD.L", 1)
    assert MARKOUTS_KEY not in book.snapshots()
    # another engine's estimate, or nonsense under the key: ignored, the rest restored
    learned = net_book()
    teach_toxic_first_venue(learned)
    book.restore({MARKOUTS_KEY: learned.snapshots()[MARKOUTS_KEY], **book.snapshots()})
    book.restore({MARKOUTS_KEY: (5, {"nonsense": np.zeros(3)})})
    assert book.markouts_learned == 0 and book.net_values() is None and not book.market.net_active
    assert allocate_all(book, "VOD.L")[0] > 0
    if net_value is not None:  # the estimator it was given learned nothing either
        assert net_value.estimator.sweeps == 0


@pytest.mark.parametrize("bad", [
    SweepAttribution(K + 1).snapshot(),                                    # another venue list
    {"gram": np.zeros((K + 1, K + 1)), "sweeps": np.array(3.0)},           # no moment
    MarkoutEstimator(K).snapshot(),                                        # the study's estimator
], ids=["shape", "missing key", "other estimator"])
def test_a_bad_estimate_snapshot_is_a_policy_error(bad):
    book = net_book()
    with pytest.raises(PolicyError, match="markout estimate"):
        book.restore({MARKOUTS_KEY: (7, bad)})
    assert book.markouts_learned == 0
    np.testing.assert_array_equal(book.net_values(), np.full(K, FILL_VALUE))
