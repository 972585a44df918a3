"""The engine's markouts part on its own: stamping fills with the feed's midpoint, settling each
horizon with the midpoint in force at it, giving up what fell due while the feed was down, learning
whole sweeps into a real WeightBook, and re-arming after a restart from a real journal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.allocation.attribution import SweepAttribution
from engine.allocation.netvalue import NetValue
from engine.allocation.registry import make_policy
from engine.allocation.rules import VenueRules
from engine.domain.ids import ClOrdId, ParentId, SessionKey, Symbol
from engine.domain.orders import OrderType, ParentSpec, Side, TimeInForce
from engine.domain.parent import ParentOrder
from engine.journal import Journal
import engine.manager.markouts as markouts_module
from engine.manager.markouts import Markouts
from engine.manager.weights import WeightBook
from tests.allocation.markets import small_market

MARKET = small_market()
VENUES = tuple(v.name for v in MARKET.venues)  # LIT, MID, WIDE, BLOCK
LIT, MID, WIDE, BLOCK = VENUES
SYMBOL = "VOD.L"
HORIZONS = (1.0, 10.0, 60.0)
LEARN = 10.0
FILL_VALUE = 10.0


def bps(side: Side, at_fill: float, later: float) -> float:
    """The markout by hand: the midpoint's move in bps of the fill's midpoint, + in our favour."""
    move = (later - at_fill) / at_fill * 1e4
    return move if side is Side.BUY else -move


class FakeJournal:
    def __init__(self) -> None:
        self.markouts: list[tuple[str, str, float, float, float]] = []

    def record_markout(self, venue, exec_id, horizon_seconds, bps, at) -> None:
        self.markouts.append((venue, exec_id, horizon_seconds, bps, at))

    def of(self, exec_id: str) -> dict[float, float]:
        return {horizon: value for _, e, horizon, value, _ in self.markouts if e == exec_id}


class RecordingMetrics:
    def __init__(self) -> None:
        self.markouts: list[tuple[str, float, float, float | None]] = []
        self.net_values: list[tuple[str, float]] = []

    def markout(self, venue, horizon_seconds, bps, mean_bps) -> None:
        self.markouts.append((venue, horizon_seconds, bps, mean_bps))

    def net_value(self, venue, bps) -> None:
        self.net_values.append((venue, bps))


def weight_book(prior_fills: float = 1.0) -> WeightBook:
    net = NetValue(len(VENUES), FILL_VALUE, LEARN, SweepAttribution(len(VENUES), prior_fills=prior_fills))
    return WeightBook(lambda: make_policy("expgrad", MARKET), 5, net)


class Part:
    def __init__(self, horizons=HORIZONS, learn: float | None = LEARN, prior_fills: float = 1.0) -> None:
        self.journal = FakeJournal()
        self.metrics = RecordingMetrics()
        self.weights = weight_book(prior_fills)
        self.markouts = Markouts(VENUES, horizons, learn, self.journal, self.weights, self.metrics)


@pytest.fixture
def part() -> Part:
    return Part()


def test_a_fill_without_a_live_feed_has_no_midpoint_and_is_counted(part):
    m = part.markouts
    assert m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.0) is None
    m.on_midpoint("BARC.L", 20.0, at=0.5)  # another symbol's feed does not count
    assert m.on_fill(LIT, "E2", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=1.0) is None
    m.on_midpoint(SYMBOL, 25.0, at=2.0)
    m.on_stale(SYMBOL, now=3.0)  # down again
    assert m.on_fill(LIT, "E3", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=4.0) is None
    assert m.counters["fills without a midpoint"] == 3
    assert m.book.pending() == 0
    m.on_midpoint(SYMBOL, 25.5, at=100.0)
    m.settle(1_000.0)
    assert part.journal.markouts == []


def test_a_fill_is_stamped_with_the_newest_midpoint_of_its_symbol(part):
    m = part.markouts
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_midpoint("BARC.L", 19.00, at=1.5)
    m.on_midpoint(SYMBOL, 25.02, at=1.0)
    m.on_midpoint(SYMBOL, 24.00, at=0.5)  # older than the newest: ignored
    assert m.on_fill(MID, "E1", "P1.1.1.MID", Side.SELL, SYMBOL, 300, now=2.0) == 25.02
    assert m.on_fill(MID, "E2", "P2.1.1.MID", Side.BUY, "BARC.L", 300, now=2.0) == 19.00
    assert m.counters["fills without a midpoint"] == 0
    assert m.book.pending() == 2 * len(HORIZONS)


def test_buy_and_sell_markouts_at_every_horizon_are_the_midpoints_move_in_bps(part):
    m, journal, metrics = part.markouts, part.journal, part.metrics
    m.on_midpoint(SYMBOL, 25.00, at=99.0)
    m.on_fill(LIT, "B1", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=100.0)
    m.on_fill(LIT, "S1", "P2.1.1.LIT", Side.SELL, SYMBOL, 300, now=100.0)
    m.on_midpoint(SYMBOL, 25.01, at=100.5)
    assert journal.markouts == []                        # nothing due yet
    m.on_midpoint(SYMBOL, 24.90, at=101.5)               # the 1 s markouts: 25.01 was in force at 101
    one = bps(Side.BUY, 25.00, 25.01)
    assert one == pytest.approx(4.0)
    assert [(venue, horizon, at) for venue, _, horizon, _, at in journal.markouts] == [(LIT, 1.0, 101.5)] * 2
    assert journal.of("B1") == {1.0: pytest.approx(one)} and journal.of("S1") == {1.0: pytest.approx(-one)}
    m.on_midpoint(SYMBOL, 24.95, at=110.0)               # due exactly at 110: this one
    ten = bps(Side.BUY, 25.00, 24.95)
    assert ten == pytest.approx(-20.0)
    assert journal.of("B1")[10.0] == pytest.approx(ten) and journal.of("S1")[10.0] == pytest.approx(-ten)
    m.settle(159.0)
    assert 60.0 not in journal.of("B1")
    m.settle(160.0)                                      # a quiet live feed: 24.95 still holds
    assert journal.of("B1") == {1.0: pytest.approx(4.0), 10.0: pytest.approx(-20.0), 60.0: pytest.approx(-20.0)}
    assert journal.of("S1") == {1.0: pytest.approx(-4.0), 10.0: pytest.approx(20.0), 60.0: pytest.approx(20.0)}
    assert m.counters["markouts settled"] == 6 and m.book.pending() == 0
    # per venue and horizon the share-weighted mean: (100 x 4 + 300 x -4) / 400 = -2
    assert m.mean_bps(LIT, 1.0) == pytest.approx(-2.0)
    assert m.mean_bps(LIT, 10.0) == pytest.approx(10.0)
    assert m.mean_bps(MID, 1.0) is None
    assert [(v, h) for v, h, _, _ in metrics.markouts] == [(LIT, h) for h in (1.0, 1.0, 10.0, 10.0, 60.0, 60.0)]
    assert metrics.markouts[-1][3] == pytest.approx(m.mean_bps(LIT, 60.0))
    # the running mean as it stood after each markout: one fill's, then both fills'
    assert metrics.markouts[0][3] == pytest.approx(metrics.markouts[0][2])
    assert metrics.markouts[1][3] == pytest.approx(-2.0)


def test_a_change_stamped_after_the_due_time_settles_with_the_midpoint_before_it(part):
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_fill(WIDE, "E1", "P1.1.1.WIDE", Side.BUY, SYMBOL, 100, now=0.0)
    m.on_midpoint(SYMBOL, 25.05, at=0.5)
    assert journal.markouts == []
    m.on_midpoint(SYMBOL, 26.00, at=3.0)  # the first change after 1.0: 25.05 was in force then
    assert journal.markouts == [(WIDE, "E1", 1.0, pytest.approx(20.0), 3.0)]
    m.on_midpoint(SYMBOL, 27.00, at=10.0000001)  # just after the 10 s one fell due: 26 was in force
    assert journal.of("E1")[10.0] == pytest.approx(bps(Side.BUY, 25.00, 26.00))


def test_the_housekeeping_settle_takes_a_quiet_live_feed_midpoint_and_skips_a_stale_one(part):
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_midpoint("BARC.L", 20.00, at=0.0)
    m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.0)
    m.on_fill(LIT, "E2", "P2.1.1.LIT", Side.SELL, "BARC.L", 100, now=0.0)
    m.on_midpoint(SYMBOL, 25.05, at=0.2)
    m.settle(0.99)
    assert journal.markouts == []
    m.on_stale("BARC.L", now=0.5)  # nothing due by then; its markouts wait for the feed
    m.settle(1.0)
    assert journal.markouts == [(LIT, "E1", 1.0, pytest.approx(20.0), 1.0)]
    assert m.book.pending("BARC.L") == len(HORIZONS)


def test_on_stale_settles_what_is_due_by_then_with_the_last_midpoint(part):
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_fill(MID, "E1", "P1.1.1.MID", Side.BUY, SYMBOL, 100, now=0.0)
    m.on_midpoint(SYMBOL, 25.05, at=0.5)
    m.on_stale(SYMBOL, now=1.5)
    assert journal.markouts == [(MID, "E1", 1.0, pytest.approx(20.0), 1.5)]
    m.settle(30.0)  # down: the 10 s markout is not settled with a midpoint nobody vouches for
    assert len(journal.markouts) == 1 and m.book.pending(SYMBOL) == 2


def test_markouts_due_while_the_feed_is_down_are_given_up_and_later_ones_still_settle(part):
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_fill(MID, "E1", "P1.1.1.MID", Side.BUY, SYMBOL, 100, now=0.0)
    m.on_fill(MID, "E2", "P1.1.1.MID", Side.SELL, SYMBOL, 100, now=0.2)
    m.on_stale(SYMBOL, now=0.5)
    m.settle(30.0)
    assert journal.markouts == []
    m.on_midpoint(SYMBOL, 25.10, at=12.0)  # back: both 1 s and both 10 s markouts fell due while down
    assert journal.markouts == []
    assert m.counters["markouts given up"] == 4 and m.counters["markouts settled"] == 0
    assert m.book.pending(SYMBOL) == 2
    m.settle(60.1)  # E1's 60 s (due 60) with the feed's midpoint since it is back
    assert journal.of("E1") == {60.0: pytest.approx(bps(Side.BUY, 25.00, 25.10))}
    m.on_midpoint(SYMBOL, 25.00, at=70.0)  # E2's 60 s (due 60.2): 25.10 was in force then
    assert journal.of("E2") == {60.0: pytest.approx(bps(Side.SELL, 25.00, 25.10))}
    assert m.counters["markouts given up"] == 4 and m.counters["markouts settled"] == 2
    assert m.book.pending() == 0


def test_a_feed_back_exactly_when_a_markout_falls_due_settles_it_with_the_new_midpoint(part):
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_fill(MID, "E1", "P1.1.1.MID", Side.BUY, SYMBOL, 100, now=0.0)
    m.on_stale(SYMBOL, now=0.5)
    m.on_midpoint(SYMBOL, 25.05, at=1.0)
    assert journal.markouts == [(MID, "E1", 1.0, pytest.approx(20.0), 1.0)]
    assert m.counters["markouts given up"] == 0


def test_a_midpoint_received_just_before_a_fill_but_handled_after_it_is_not_lost(part):
    """The feed stamps a midpoint with the time QuickFIX's thread received it; the loop handles it
    after a fill it booked a moment later (stamped with the loop's clock). The new midpoint is
    still the one in force from then on: later fills are stamped with it and later markouts
    settle with it."""
    m, journal = part.markouts, part.journal
    m.on_midpoint(SYMBOL, 25.00, at=0.0)
    m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=100.001)
    m.on_midpoint(SYMBOL, 25.05, at=100.000)   # received 1 ms before the fill, handled after it
    assert m.on_fill(LIT, "E2", "P1.1.2.LIT", Side.BUY, SYMBOL, 100, now=100.5) == 25.05
    m.settle(101.1)  # a quiet, live feed: 25.05 has held since 100.000
    assert journal.of("E1") == {1.0: pytest.approx(bps(Side.BUY, 25.00, 25.05))}


# -- learning ------------------------------------------------------------------------------------

def sweep(m: Markouts, start: float, parent: str, venues: tuple[str, ...], adverse_bps: float,
          side: Side = Side.BUY, shares: int = 200) -> None:
    """One sweep: its fills 0.1 s apart from ``start``, then the midpoint moves ``adverse_bps``
    against us at start + 5 and stays there until every horizon has settled."""
    m.on_midpoint(SYMBOL, 25.0, at=start - 1.0)
    for k, venue in enumerate(venues):
        m.on_fill(venue, f"{parent}-{venue}", f"{parent}.1.1.{venue}", side, SYMBOL, shares, now=start + 0.1 * k)
    sign = -1.0 if side is Side.BUY else 1.0
    m.on_midpoint(SYMBOL, 25.0 * (1 + sign * adverse_bps / 1e4), at=start + 5.0)
    m.settle(start + 70.0)


def test_a_sweep_is_learned_once_every_fill_of_it_has_its_markout_at_the_learn_horizon(part, monkeypatch):
    monkeypatch.setattr(markouts_module, "LEARN_PERIOD_SECONDS", 0.0)  # every tick teaches (throttle: below)
    m, weights, metrics = part.markouts, part.weights, part.metrics
    m.on_midpoint(SYMBOL, 25.0, at=-1.0)
    m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 200, now=0.0)
    m.on_fill(MID, "E2", "P1.1.1.MID", Side.BUY, SYMBOL, 600, now=0.3)
    m.on_fill(LIT, "E3", "P7.2.1.LIT", Side.BUY, SYMBOL, 100, now=0.4)  # another parent's sweep
    m.on_midpoint(SYMBOL, 24.95, at=5.0)  # 20 bps against us
    m.settle(10.1)  # the LIT fill's 10 s markout only
    assert part.journal.of("E1")[10.0] == pytest.approx(-20.0) and 10.0 not in part.journal.of("E2")
    assert weights.markouts_learned == 0 and weights.net_value.estimator.sweeps == 0
    np.testing.assert_array_equal(weights.net_values(), np.full(len(VENUES), FILL_VALUE))
    assert metrics.net_values == []
    m.settle(10.3)  # now the MID one: the sweep is complete
    assert weights.markouts_learned == 1
    attribution = weights.net_value.estimator
    assert attribution.sweeps == 1
    # one row: both venues filled, y = the share-weighted adverse move (20 at both)
    np.testing.assert_allclose(attribution.gram[0], [1, 1, 1, 0, 0])
    np.testing.assert_allclose(attribution.moment, [20.0, 20.0, 20.0, 0.0, 0.0])
    assert [venue for venue, _ in metrics.net_values] == list(VENUES)
    np.testing.assert_allclose([value for _, value in metrics.net_values], weights.net_values())
    m.settle(10.4)  # the other sweep, on its own
    assert weights.markouts_learned == 2 and attribution.sweeps == 2
    m.settle(100.0)  # the 60 s markouts teach nothing
    assert weights.markouts_learned == 2


def test_after_a_few_sweeps_the_toxic_venue_is_worth_less_than_the_clean_one_and_gets_nothing():
    part = Part(prior_fills=1.0)
    m, weights = part.markouts, part.weights
    start = 0.0
    for k in range(6):  # LIT's fills come with a 20 bps adverse move, MID's alone with none
        for number, (venues, adverse) in enumerate((((LIT,), 20.0), ((MID,), 0.0), ((LIT, MID), 20.0))):
            start += 100.0
            sweep(m, start, f"P{k}x{number}", venues, adverse, side=Side.BUY if number % 2 else Side.SELL)
    assert weights.markouts_learned == 18
    values = weights.net_values()
    assert values[0] < values[1]
    assert values[0] < 0.0 < values[1]                           # LIT costs more than a fill is worth
    assert values[1] > FILL_VALUE - 1.0                          # MID is not blamed for LIT's move
    np.testing.assert_allclose(values[2:], FILL_VALUE, atol=1.0)  # venues without history: at 0
    # every policy trades on it: LIT gets nothing
    allocation = weights.allocate(SYMBOL, 50_000, VenueRules.of(MARKET), np.ones(len(VENUES), dtype=np.bool_))
    assert allocation.children[0] == 0 and allocation.children.sum() > 0


def test_without_a_learn_horizon_markouts_are_journaled_but_teach_nothing():
    part = Part(learn=None)
    sweep(part.markouts, 100.0, "P1", (LIT, MID), 20.0)
    assert len(part.journal.markouts) == 2 * len(HORIZONS)
    assert part.weights.markouts_learned == 0 and part.metrics.net_values == []


def test_a_sweep_whose_learn_markouts_were_all_given_up_teaches_nothing(part):
    m, weights = part.markouts, part.weights
    m.on_midpoint(SYMBOL, 25.0, at=-1.0)
    m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 200, now=0.0)
    m.on_fill(MID, "E2", "P1.1.1.MID", Side.BUY, SYMBOL, 200, now=0.0)
    m.on_stale(SYMBOL, now=2.0)
    m.on_midpoint(SYMBOL, 25.0, at=20.0)  # both 10 s markouts fell due while down
    assert m.counters["markouts given up"] == 2 and weights.markouts_learned == 0
    # a sweep whose second fill came later: the first settled, the second given up
    m.on_fill(LIT, "E3", "P2.1.1.LIT", Side.BUY, SYMBOL, 200, now=21.0)
    m.on_midpoint(SYMBOL, 24.95, at=25.0)
    m.on_fill(MID, "E4", "P2.1.1.MID", Side.BUY, SYMBOL, 200, now=29.0)
    m.on_midpoint(SYMBOL, 24.95, at=31.5)  # E3's 10 s settles (due 31): -20
    m.on_stale(SYMBOL, now=32.0)
    m.on_midpoint(SYMBOL, 24.95, at=45.0)  # E4's 10 s (due 39) is given up: the sweep is complete
    assert m.counters["markouts given up"] == 3
    # but not learned: without MID's markout its row would charge LIT alone with the sweep's move
    assert weights.markouts_learned == 0 and weights.net_value.estimator.sweeps == 0
    m.on_fill(LIT, "E5", "P3.1.1.LIT", Side.BUY, SYMBOL, 200, now=46.0)
    m.on_midpoint(SYMBOL, 24.90, at=57.0)  # a whole sweep after it is learned again
    m.settle(57.0)
    assert weights.markouts_learned == 1


def test_two_fills_of_one_child_enter_their_sweep_share_weighted():
    """A child filled twice (two ExecIDs at one venue, in one sweep): the sweep's markout at that
    venue is the share-weighted mean of both fills', as SweepAttribution takes it for two venues."""
    part = Part(horizons=(LEARN,))
    m = part.markouts
    m.on_midpoint(SYMBOL, 25.00, at=-1.0)
    m.on_fill(LIT, "E1", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.0)   # at 25.00
    m.on_midpoint(SYMBOL, 25.05, at=0.4)
    m.on_fill(LIT, "E2", "P1.1.1.LIT", Side.BUY, SYMBOL, 300, now=0.5)   # at 25.05
    m.settle(10.5)
    one, two = bps(Side.BUY, 25.00, 25.05), bps(Side.BUY, 25.05, 25.05)
    assert part.journal.of("E1") == {10.0: pytest.approx(one)} and part.journal.of("E2") == {10.0: pytest.approx(two)}
    assert part.weights.markouts_learned == 1
    expected = SweepAttribution(len(VENUES), prior_fills=1.0)
    adverse = -(100 * one + 300 * two) / 400  # the sweep moved 5 bps in our favour on average
    expected.record(np.array([400.0, 0, 0, 0]), np.array([adverse, 0, 0, 0]))
    np.testing.assert_allclose(part.weights.net_value.estimator.moment, expected.moment, err_msg=(
        "the sweep's markout at LIT should be the share-weighted mean of its two fills' (adverse -5 bps), "
        "not the last fill's"))


# -- restart -------------------------------------------------------------------------------------

SESSION = SessionKey("FIX.4.4:DARKAGG->TRADER1")
NOW = 1_000.0


def journal_with_fills(path, side: Side = Side.SELL) -> None:
    journal = Journal(path)
    spec = ParentSpec(SESSION, ClOrdId("C1"), side, Symbol(SYMBOL), 5_000, OrderType.MARKET, TimeInForce.DAY)
    journal.record_parent(ParentOrder(ParentId("P1"), spec, created_at=900.0))
    fills = [  # exec id, venue, child, at, midpoint, horizons already journaled
        ("EA", LIT, "P1.1.4.LIT", 995.0, 25.10, (1.0,)),            # 10 and 60 to come
        ("EB", MID, "P1.1.4.MID", 985.0, 25.00, (1.0,)),            # 10 lost (due 995), 60 to come
        ("EC", LIT, "P1.1.1.LIT", 900.0, 25.00, ()),                # before the longest horizon: left alone
        ("ED", WIDE, "P1.1.4.WIDE", 996.0, None, ()),               # no midpoint: no markouts
        ("EE", BLOCK, "P1.1.3.BLOCK", 960.0, 25.00, HORIZONS),      # all done
        ("EF", LIT, "P1.1.2.LIT", 950.0, 24.00, ()),                # 1 and 10 lost, 60 (1010) to come
    ]
    for exec_id, venue, child, at, midpoint, done in fills:
        journal.record_fill(venue, exec_id, child, "P1", 100, 25.0, 100, False, at, midpoint)
        for horizon in done:
            journal.record_markout(venue, exec_id, horizon, 1.5, at + horizon)
    journal.flush()
    journal.close()


def test_restore_re_arms_only_the_horizons_not_done_and_still_to_come(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal_with_fills(path)
    part = Part()
    m = part.markouts
    assert m.restore(tmp_path / "none.sqlite", NOW) == 0
    assert m.restore(path, NOW) == 4
    assert m.counters["markouts given up"] == 3  # EB's 10 s, EF's 1 s and 10 s
    assert m.book.pending(SYMBOL) == 4
    m.on_midpoint(SYMBOL, 25.05, at=NOW + 1.0)
    assert part.journal.markouts == []
    m.settle(NOW + 100.0)
    journal = part.journal
    settled = sorted((exec_id, horizon) for _, exec_id, horizon, _, _ in journal.markouts)
    assert settled == [("EA", 10.0), ("EA", 60.0), ("EB", 60.0), ("EF", 60.0)]
    # with the journal's midpoints and the parent's side (a sell)
    assert journal.of("EA") == {10.0: pytest.approx(bps(Side.SELL, 25.10, 25.05)),
                                60.0: pytest.approx(bps(Side.SELL, 25.10, 25.05))}
    assert journal.of("EB") == {60.0: pytest.approx(bps(Side.SELL, 25.00, 25.05))}
    assert journal.of("EF") == {60.0: pytest.approx(bps(Side.SELL, 24.00, 25.05))}
    assert {venue for venue, exec_id, *_ in journal.markouts if exec_id == "EA"} == {LIT}
    # journaled, but re-armed fills teach nothing: the run before may have learned part of their sweep
    assert part.weights.markouts_learned == 0 and part.weights.net_value.estimator.sweeps == 0


def test_a_sweep_half_settled_before_a_restart_is_not_learned_as_the_remaining_fills_alone(tmp_path):
    """LIT's informed contra moved the midpoint 20 bps against the whole sweep; LIT's 10 s markout
    was journaled before the restart, MID's (filled 0.5 s later) was still to come. After the
    restart the sweep must be learned as the sweep it was (LIT and MID filled, 20 bps), or not at
    all: not as a sweep in which only MID filled, which charges MID with LIT's move (what the
    attribution exists to avoid)."""
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    spec = ParentSpec(SESSION, ClOrdId("C1"), Side.BUY, Symbol(SYMBOL), 5_000, OrderType.MARKET, TimeInForce.DAY)
    journal.record_parent(ParentOrder(ParentId("P1"), spec, created_at=900.0))
    journal.record_fill(LIT, "EL", "P1.1.1.LIT", "P1", 100, 25.0, 100, False, 990.0, 25.0)
    journal.record_fill(MID, "EM", "P1.1.1.MID", "P1", 100, 25.0, 100, False, 990.5, 25.0)
    journal.record_markout(LIT, "EL", 10.0, -20.0, 1000.0)
    journal.flush()
    journal.close()
    part = Part()
    # what the restored estimate had learned before: LIT toxic (20 bps), MID clean, alpha 0
    history = [((100.0, 0, 0, 0), 20.0), ((0, 100.0, 0, 0), 0.0), ((100.0, 100.0, 0, 0), 20.0)] * 20
    part.weights.record_markouts(np.array([f for f, _ in history]), np.array([[y, y, 0, 0] for _, y in history]))
    attribution = part.weights.net_value.estimator
    before = attribution.snapshot()
    right = SweepAttribution(len(VENUES), prior_fills=1.0)
    right.restore(before)
    right.record(np.array([100.0, 100.0, 0, 0]), np.array([20.0, 20.0, 0, 0]))
    part.markouts.restore(path, NOW)
    part.markouts.on_midpoint(SYMBOL, 24.95, at=NOW + 0.1)   # still 20 bps against us
    part.markouts.settle(NOW + 1.0)                          # MID's 10 s markout (due 1000.5)
    assert part.journal.of("EM") == {10.0: pytest.approx(-20.0)}
    not_learned = np.allclose(attribution.gram, before["gram"]) and np.allclose(attribution.moment, before["moment"])
    learned_whole = np.allclose(attribution.gram, right.gram) and np.allclose(attribution.moment, right.moment)
    assert not_learned or learned_whole, (
        f"the sweep was learned as filled at {attribution.gram[0, 1:] - before['gram'][0, 1:]} only; "
        f"moves now {attribution.moves_bps().round(2)}, would be {right.moves_bps().round(2)}")


def test_complete_sweeps_are_taught_at_most_every_learn_period(part):
    """Every policy re-derives its rows from new net values: sweeps wait for the next learning tick."""
    m, weights = part.markouts, part.weights
    period = markouts_module.LEARN_PERIOD_SECONDS
    m.on_midpoint(SYMBOL, 25.0, at=-1.0)
    for number in range(3):
        m.on_fill(LIT, f"T{number}", f"P{number}.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.1 * number)
    m.on_midpoint(SYMBOL, 24.95, at=LEARN + 0.05)  # the first fill's markout settles on the feed's change
    assert weights.markouts_learned == 0  # ready, not yet taught
    m.settle(LEARN + 0.25)
    assert weights.markouts_learned == 3  # all three sweeps in one batch
    m.on_fill(LIT, "T9", "P9.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.3)
    m.settle(LEARN + 0.3)
    assert weights.markouts_learned == 3  # within the period of the last batch
    m.settle(LEARN + 0.25 + period)
    assert weights.markouts_learned == 4


def test_a_fill_that_cannot_be_armed_is_still_stamped_none_and_never_raises(part, monkeypatch):
    """on_fill runs on the fill's path before the fill is journaled: a fault in the markouts must
    not keep the fill from the journal."""
    m = part.markouts
    m.on_midpoint(SYMBOL, 25.0, at=-1.0)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the markout book")

    monkeypatch.setattr(m.book, "fill", broken)
    assert m.on_fill(LIT, "EX", "P1.1.1.LIT", Side.BUY, SYMBOL, 100, now=0.0) is None
    assert m.counters["fills without a midpoint"] == 1
    assert m.restore(Path("/nonexistent/dir/journal.sqlite"), 0.0) == 0
