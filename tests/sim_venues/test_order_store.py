"""The venues' durable order memory without FIX: the core's change records, replay, the
cancel-on-restart rule, the order file (torn last line, compaction) and the run token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.allocation.profiles import VenueProfile
from sim_venues.liquidity import IidLiquidity, venue_rng
from sim_venues.matching import REJECT_DUPLICATE_ORDER, CancelRequest, NewOrder, StatusRequest, VenueRules
from sim_venues.order_store import OrderFile, OrderStoreError, attach_order_file, order_file_path
from sim_venues.venue import CancelReject, Venue, new_run_token
from tests.sim_venues.conftest import one_symbol_prices

# Always liquid, 1000-2000 shares: an IOC of 500 fills whole, a DAY of 5000 fills part and rests.
ALWAYS = VenueProfile(name="D1", fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000)


def make_venue(history_limit: int = 1000, seed: int = 3) -> Venue:
    liquidity = {"X": IidLiquidity(ALWAYS, venue_rng(seed, "D1", "X", "liquidity"))}
    prices = one_symbol_prices("X", 20.0, 0.01, seed=seed)
    return Venue("D1", VenueRules(1, 1, None, frozenset({"3", "0"})), liquidity, prices,
                 history_limit=history_limit)


def order(cl_ord_id: str, quantity: float = 500.0, tif: str = "3", symbol: str = "X", price=None) -> NewOrder:
    return NewOrder(cl_ord_id, "1", symbol, quantity, "P", "M", tif, None, price)


def trade_the_three_cases(venue: Venue) -> None:
    venue.new_order(order("filled"))                                # IOC, filled whole
    venue.new_order(order("bad", symbol="NOPE"))                    # rejected: unknown symbol
    venue.new_order(order("resting", quantity=5000, tif="0"))       # DAY: part filled, the rest rests
    venue.new_order(order("blocked", tif="0", price=1.0))           # DAY: limit below the midpoint, rests
    venue.new_order(order("canceled", tif="0", price=1.0))
    venue.cancel(CancelRequest("cx", "canceled", "1", "X"))


def test_every_state_change_is_handed_to_the_hook_before_the_reports_are_returned():
    records = []
    venue = make_venue()
    venue.on_change = lambda record: records.append((record, venue.orders_seen))
    outcome = venue.new_order(order("a"))
    assert records[-1][0]["event"] == "order" and records[-1][0]["status"] == "2"
    assert records[-1][0]["order_id"] == outcome.reports[0].order_id
    venue.new_order(order("a"))  # a duplicate changes nothing: no record
    venue.status(StatusRequest("a", "1", "X"))
    assert len(records) == 1
    venue.new_order(order("b", symbol="NOPE"))
    assert records[-1][0] == {"event": "rejected", "cl_ord_id": "b"}


def test_a_restored_venue_answers_for_what_the_old_one_did():
    old_records = []
    old = make_venue()
    old.on_change = old_records.append
    trade_the_three_cases(old)
    filled = old.status(StatusRequest("filled", "1", "X"))
    resting_before = old.status(StatusRequest("resting", "1", "X"))
    assert resting_before.ord_status == "1" and resting_before.leaves_qty > 0

    new = make_venue()
    new.restore(json.loads(json.dumps(r)) for r in old_records)  # as read back from a file
    again = new.status(StatusRequest("filled", "1", "X"))
    assert (again.exec_type, again.ord_status, again.cum_qty, again.avg_px, again.leaves_qty, again.order_id) == \
        ("I", "2", 500, filled.avg_px, 0, filled.order_id)
    assert again.exec_id != filled.exec_id
    duplicate = new.new_order(order("bad")).reports[0]
    assert duplicate.ord_rej_reason == REJECT_DUPLICATE_ORDER
    assert new.new_order(order("filled")).reports[0].ord_rej_reason == REJECT_DUPLICATE_ORDER
    too_late = new.cancel(CancelRequest("cx2", "canceled", "1", "X"))
    assert isinstance(too_late, CancelReject) and too_late.reason == 0

    assert new.resting() == 2  # restored live; the rule is applied by cancel_resting
    canceled = new.cancel_resting()
    assert {r["cl_ord_id"] for r in canceled} == {"resting", "blocked"}
    assert all(r["event"] == "canceled_on_restart" and r["status"] == "4" for r in canceled)
    resting = new.status(StatusRequest("resting", "1", "X"))
    assert (resting.ord_status, resting.leaves_qty, resting.cum_qty) == ("4", 0, resting_before.cum_qty)
    assert new.resting() == 0
    assert isinstance(new.cancel(CancelRequest("cx3", "resting", "1", "X")), CancelReject)


def test_restored_memory_is_bounded_like_a_run():
    records = [{"event": "state", "cl_ord_id": f"c{i}", "order_id": f"o{i}", "symbol": "X", "side": "1",
                "quantity": 100, "time_in_force": "3", "min_qty": 0, "price": None, "cum_qty": 100,
                "avg_px": 20.0, "status": "2"} for i in range(50)]
    records += [{"event": "rejected", "cl_ord_id": f"r{i}"} for i in range(50)]
    venue = make_venue(history_limit=10)
    venue.restore(records)
    assert len(list(venue.remembered())) == 20
    assert venue.is_known("c49") and not venue.is_known("c39")
    assert venue.is_known("r49") and not venue.is_known("r39")


def test_an_unreadable_record_is_an_error():
    with pytest.raises(ValueError, match="unknown event"):
        make_venue().restore([{"event": "teleported", "cl_ord_id": "a"}])
    with pytest.raises(ValueError, match="unreadable"):
        make_venue().restore([{"event": "order", "cl_ord_id": "a"}])


def test_a_torn_last_line_is_skipped_and_the_file_is_rewritten_without_it(tmp_path: Path):
    old = make_venue()
    attached = attach_order_file(old, tmp_path)
    trade_the_three_cases(old)
    attached.file.close()
    path = order_file_path(tmp_path, "D1")
    with path.open("ab") as handle:
        handle.write(b'{"event":"order","cl_ord_id":"torn","ord')  # killed mid-write

    new = make_venue()
    restored = attach_order_file(new, tmp_path)
    assert restored.replay.torn_tail
    assert not new.is_known("torn") and new.is_known("filled") and new.is_known("bad")
    assert {r["cl_ord_id"] for r in restored.canceled_on_restart} == {"resting", "blocked"}
    new.new_order(order("after"))  # appended on a clean line, not glued to the torn one
    restored.file.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    events = [json.loads(line)["event"] for line in lines[:-1]]
    assert events.count("canceled_on_restart") == 2 and events[-1] == "order"
    assert OrderFile(path).load().torn_tail is False


def test_a_broken_line_before_the_last_is_an_error_not_a_silent_loss(tmp_path: Path):
    path = order_file_path(tmp_path, "D1")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"event":"rejected","cl_ord_id":"a"}\nnot json\n{"event":"rejected","cl_ord_id":"b"}\n')
    with pytest.raises(OrderStoreError, match=":2:"):
        OrderFile(path).load()


def test_a_missing_file_is_an_empty_memory(tmp_path: Path):
    venue = make_venue()
    attached = attach_order_file(venue, tmp_path)
    assert attached.replay.records == [] and attached.canceled_on_restart == []
    attached.file.close()
    assert order_file_path(tmp_path, "D1").read_bytes() == b""


def test_run_tokens_differ_even_when_made_in_the_same_microsecond():
    tokens = [new_run_token() for _ in range(1000)]
    assert len(set(tokens)) == len(tokens)
    assert len({make_venue().new_order(order("a")).reports[0].exec_id for _ in range(50)}) == 50
