"""Order handling over real FIX: report sequences, MinQty, limits, DAY orders, cancels, status, rejects."""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from tests.sim_venues.conftest import REFERENCE_PRICE, SYMBOL, TICK

_ids = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def truth_of(truth_log, cl_ord_id: str) -> dict:
    for line in truth_log.read_text().splitlines():
        record = json.loads(line)
        if record.get("cl_ord_id") == cl_ord_id and record.get("event") in ("order", "rejected"):
            return record
    raise AssertionError(f"no ground truth for {cl_ord_id}")


def test_an_ioc_is_acknowledged_filled_then_its_remainder_canceled(client, truth_log):
    cl_ord_id = new_id("ioc")
    client.send_order("FULL", cl_ord_id, quantity=3000)  # FULL always holds 1000..1999 shares
    final = client.wait_final(cl_ord_id)
    reports = client.reports_for(cl_ord_id)
    assert [r[150] for r in reports] == ["0", "F", "4"]
    new, trade, cancel = reports
    filled = truth_of(truth_log, cl_ord_id)["filled"]
    assert 1000 <= filled <= 1999
    assert (int(trade[32]), float(trade[31]), trade[30]) == (filled, REFERENCE_PRICE, "FULL")
    assert (int(trade[14]), int(trade[151]), float(trade[6]), trade[39]) == (filled, 3000 - filled, REFERENCE_PRICE, "1")
    assert (cancel[39], int(cancel[151]), int(cancel[14])) == ("4", 0, filled)
    assert final is reports[-1] or final == cancel
    assert len({r[17] for r in reports}) == 3  # every ExecID unique
    assert len({r[37] for r in reports}) == 1  # OrderID stable


def test_a_fully_filled_ioc_ends_with_the_trade(client):
    cl_ord_id = new_id("full")
    client.send_order("FULL", cl_ord_id, quantity=500)
    final = client.wait_final(cl_ord_id)
    assert [r[150] for r in client.reports_for(cl_ord_id)] == ["0", "F"]
    assert (final[39], int(final[14]), int(final[151])) == ("2", 500, 0)


def test_the_single_report_style_ends_a_partial_ioc_in_one_message(client):
    cl_ord_id = new_id("single")
    client.send_order("SINGLE", cl_ord_id, quantity=1000)  # SINGLE holds 300..399
    final = client.wait_final(cl_ord_id)
    assert len(client.reports_for(cl_ord_id)) == 1
    assert (final[150], final[39], int(final[151]), final[30]) == ("F", "4", 0, "SINGLE")
    assert int(final[32]) == int(final[14]) and 300 <= int(final[14]) <= 399


def test_an_ioc_that_finds_nothing_is_canceled_and_never_rests(client):
    cl_ord_id = new_id("empty")
    client.send_order("EMPTY", cl_ord_id, quantity=100)
    final = client.wait_final(cl_ord_id)
    assert (final[150], final[39], int(final[14]), int(final[151])) == ("4", "4", 0, 0)
    client.send_status("EMPTY", cl_ord_id)
    status = client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "I"])[0]
    assert (status[39], int(status[151])) == ("4", 0)


@pytest.mark.parametrize("min_qty, fills", [(2500, False), (900, True)])
def test_min_qty_above_the_available_liquidity_prevents_any_fill(client, min_qty, fills):
    cl_ord_id = new_id("minqty")
    client.send_order("FULL", cl_ord_id, quantity=3000, min_qty=min_qty)
    final = client.wait_final(cl_ord_id)
    assert (int(final[14]) > 0) is fills
    assert int(final[151]) == 0


@pytest.mark.parametrize("side, price, fills", [
    ("1", REFERENCE_PRICE - TICK, False), ("1", REFERENCE_PRICE, True), ("1", REFERENCE_PRICE + TICK, True),
    ("2", REFERENCE_PRICE + TICK, False), ("2", REFERENCE_PRICE, True), ("2", REFERENCE_PRICE - TICK, True),
])
def test_a_limit_on_the_wrong_side_of_the_midpoint_gets_no_fill(client, side, price, fills):
    cl_ord_id = new_id("limit")
    client.send_order("FULL", cl_ord_id, side=side, quantity=500, price=price)
    final = client.wait_final(cl_ord_id)
    assert (int(final[14]) > 0) is fills
    if fills:
        assert float(final[6]) == REFERENCE_PRICE  # executions happen at the midpoint, not the limit


def test_a_day_order_rests_and_can_be_canceled_once(client):
    cl_ord_id = new_id("day")
    client.send_order("FULL", cl_ord_id, quantity=5000, time_in_force="0")
    trade = client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "F"])[0]
    assert trade[39] == "1" and int(trade[151]) == 5000 - int(trade[14])
    cancel_id = new_id("cxl")
    client.send_cancel("FULL", cancel_id, cl_ord_id, quantity=5000)
    canceled = client.wait_final(cancel_id)
    assert (canceled[150], canceled[39], canceled[41], int(canceled[151])) == ("4", "4", cl_ord_id, 0)
    assert canceled[37] == trade[37]
    again = new_id("cxl")
    client.send_cancel("FULL", again, cl_ord_id, quantity=5000)
    reject = client.wait_for(lambda: [m for m in client.messages_of_type("FULL", "9") if m[11] == again])[0]
    assert (reject[434], reject[102], reject[39]) == ("1", "0", "4")  # too late: already canceled


def test_canceling_an_unknown_order_is_rejected_as_unknown(client):
    cancel_id = new_id("cxl")
    client.send_cancel("FULL", cancel_id, "never-sent")
    reject = client.wait_for(lambda: [m for m in client.messages_of_type("FULL", "9") if m[11] == cancel_id])[0]
    assert (reject[434], reject[102], reject[41]) == ("1", "1", "never-sent")


def test_canceling_a_finished_ioc_is_too_late(client):
    cl_ord_id = new_id("ioc")
    client.send_order("FULL", cl_ord_id, quantity=500)
    client.wait_final(cl_ord_id)
    cancel_id = new_id("cxl")
    client.send_cancel("FULL", cancel_id, cl_ord_id, quantity=500)
    reject = client.wait_for(lambda: [m for m in client.messages_of_type("FULL", "9") if m[11] == cancel_id])[0]
    assert (reject[102], reject[39]) == ("0", "2")


def test_a_status_request_reports_the_order_state(client):
    cl_ord_id = new_id("status")
    client.send_order("FULL", cl_ord_id, quantity=500)
    final = client.wait_final(cl_ord_id)
    client.send_status("FULL", cl_ord_id)
    status = client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "I"])[0]
    assert (status[39], status[14], status[37]) == ("2", final[14], final[37])


REJECTS = [
    ("unknown symbol", "FULL", dict(symbol="NOPE.L"), "1"),
    ("a limit order type", "FULL", dict(ord_type="2", price=REFERENCE_PRICE), "11"),
    ("a primary peg", "FULL", dict(exec_inst="R"), "11"),
    ("no peg instruction", "FULL", dict(exec_inst=None), "11"),
    ("no quantity", "FULL", dict(quantity=None), "99"),
    ("no symbol", "FULL", dict(symbol=None), "99"),
    ("a quantity off the lot", "RULES", dict(quantity=250), "13"),
    ("a quantity below the venue minimum", "RULES", dict(quantity=100), "13"),
    ("a quantity above the venue maximum", "RULES", dict(quantity=20000), "3"),
    ("a fractional quantity", "FULL", dict(quantity=10.5), "13"),
    ("MinQty above OrderQty", "FULL", dict(quantity=100, min_qty=200), "13"),
    ("a time in force the venue does not take", "RULES", dict(quantity=200, time_in_force="0"), "11"),
    ("an unsupported time in force", "FULL", dict(time_in_force="4"), "11"),
]


@pytest.mark.parametrize("case, venue, fields, reason", REJECTS, ids=[r[0] for r in REJECTS])
def test_an_invalid_order_is_rejected_with_a_reason_and_a_text(client, case, venue, fields, reason):
    cl_ord_id = new_id("bad")
    client.send_order(venue, cl_ord_id, **{"quantity": 200, **fields})
    final = client.wait_final(cl_ord_id)
    assert (final[150], final[39], final[103]) == ("8", "8", reason)
    assert final.get(58)


def test_a_duplicate_cl_ord_id_is_rejected_and_leaves_the_original_alone(client):
    cl_ord_id = new_id("dup")
    client.send_order("FULL", cl_ord_id, quantity=500)
    original = client.wait_final(cl_ord_id)
    client.send_order("FULL", cl_ord_id, quantity=500)
    duplicate = client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "8"])[0]
    assert duplicate[103] == "6"
    client.send_status("FULL", cl_ord_id)
    status = client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "I"])[0]
    assert (status[39], status[37]) == ("2", original[37])


def test_an_unsupported_message_type_gets_a_business_message_reject(client):
    client.send_fields("FULL", "G", {11: new_id("replace"), 41: "x", 54: "1", 55: SYMBOL, 40: "P", 38: "100"},
                       transact_time=True)
    reject = client.wait_for(lambda: client.messages_of_type("FULL", "j"))[0]
    assert (reject[372], reject[380]) == ("G", "3")


def test_the_venue_still_fills_correctly_after_a_burst_of_malformed_and_invalid_input(client, host, truth_log):
    port = next(v.port for v in host.listings() if v.venue == "FULL")
    for garbage in (b"hello\r\n", b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01", bytes(range(256))):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:  # not a FIX session at all
            raw.sendall(garbage)
    for i in range(20):
        client.send_fields("FULL", "D", {11: new_id("junk"), 54: "1", 40: "P", 38: "abc"}, transact_time=True)
        client.send_fields("FULL", "D", {11: new_id("junk"), 40: "P"})  # no Side, no TransactTime
        client.send_order("FULL", new_id("junk"), quantity=-5)
        client.send_order("FULL", new_id("junk"), side="7")
        client.send_fields("FULL", "H", {11: new_id("junk")})
    client.wait_for(lambda: len(client.messages_of_type("FULL", "3")) >= 20)  # QuickFIX session rejects
    cl_ord_id = new_id("after-burst")
    client.send_order("FULL", cl_ord_id, quantity=3000)
    final = client.wait_final(cl_ord_id)
    truth = truth_of(truth_log, cl_ord_id)
    assert int(final[14]) == truth["filled"] == min(3000, truth["hidden"])
    assert client.logged_on["FULL"] and host.errors() == 0
