"""Faults, latency and book-mode liquidity, each observed by a real FIX client."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from sim_venues.host_config import FaultConfig, ReportFault
from tests.sim_venues.fix_client import eventually

_ids = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@pytest.fixture
def faulty(host, client):
    """The FAULTY venue with no faults, logged on; faults are cleared again after the test."""
    host.set_faults("FAULTY", FaultConfig())
    eventually(lambda: client.logged_on["FAULTY"], 10)
    yield "FAULTY"
    host.set_faults("FAULTY", FaultConfig())
    eventually(lambda: client.logged_on["FAULTY"], 10)


def order_records(truth_log, prefix: str) -> list[dict]:
    records = [json.loads(line) for line in truth_log.read_text().splitlines()]
    return [r for r in records if r.get("event") == "order" and str(r.get("cl_ord_id", "")).startswith(prefix)]


def test_a_dropped_trade_report_never_arrives_but_the_final_state_still_does(host, client, faulty):
    host.set_faults(faulty, FaultConfig(drop_reports=ReportFault(every=1, exec_types=("F",))))
    cl_ord_id = new_id("drop")
    client.send_order(faulty, cl_ord_id, quantity=3000)
    final = client.wait_final(cl_ord_id)
    assert [r[150] for r in client.reports_for(cl_ord_id)] == ["0", "4"]
    assert int(final[14]) >= 1000  # the fill happened; only its report was lost


def test_every_second_report_is_sent_twice_with_the_same_exec_id(host, client, faulty):
    host.set_faults(faulty, FaultConfig(duplicate_reports=ReportFault(every=2)))
    cl_ord_id = new_id("dup")
    client.send_order(faulty, cl_ord_id, quantity=3000)  # New, Trade, Canceled: the Trade is duplicated
    client.wait_final(cl_ord_id)
    eventually(lambda: len(client.reports_for(cl_ord_id)) == 4)
    reports = client.reports_for(cl_ord_id)
    assert [r[150] for r in reports] == ["0", "F", "F", "4"]
    assert reports[1][17] == reports[2][17]


def test_a_delayed_final_report_arrives_after_the_configured_delay(host, client, faulty):
    host.set_faults(faulty, FaultConfig(delay_reports=ReportFault(every=1, exec_types=("4",), seconds=0.5)))
    cl_ord_id = new_id("delay")
    client.send_order(faulty, cl_ord_id, quantity=3000)
    eventually(lambda: len(client.reports_for(cl_ord_id)) == 2)
    assert client.final(cl_ord_id) is None  # the trade is in, the cancel is still held back
    client.wait_final(cl_ord_id, timeout=5)
    arrivals = client.arrivals[cl_ord_id]
    assert arrivals[-1] - arrivals[-2] >= 0.45


def test_the_venue_disconnects_after_n_orders_and_accepts_the_client_again(host, client, faulty):
    logons = client.logons[faulty]
    host.set_faults(faulty, FaultConfig(disconnect_after_orders=3))
    ids = [new_id("disc") for _ in range(3)]
    for cl_ord_id in ids:
        client.send_order(faulty, cl_ord_id, quantity=500)
    eventually(lambda: client.logons[faulty] > logons, 10)  # dropped, then the client reconnected
    cl_ord_id = new_id("after-disc")
    client.send_order(faulty, cl_ord_id, quantity=500)
    assert int(client.wait_final(cl_ord_id)[14]) == 500  # the one-shot fault is spent


def test_the_venue_logs_the_client_out_at_a_set_time(host, client):
    # Its own venue: after this logout the shared client does not always log on again (see the
    # report of issue 3), so no other test depends on this session afterwards.
    eventually(lambda: client.logged_on["TIMED"], 10)
    armed = time.monotonic()
    host.set_faults("TIMED", FaultConfig(disconnect_after_seconds=0.2))
    logout = eventually(lambda: client.messages_of_type("TIMED", "5"), 5)[0]
    assert logout[58] == "scheduled disconnect (fault)"
    eventually(lambda: not client.logged_on["TIMED"], 5)
    assert time.monotonic() - armed >= 0.2


def test_a_venue_refusing_logons_lets_the_client_in_once_the_fault_is_cleared(host, client):
    assert not client.logged_on["REFUSE"]
    eventually(lambda: client.messages_of_type("REFUSE", "5"), 5)  # the venue answered the Logon with Logout
    host.set_faults("REFUSE", FaultConfig())
    eventually(lambda: client.logged_on["REFUSE"], 10)
    cl_ord_id = new_id("refuse")
    client.send_order("REFUSE", cl_ord_id, quantity=500)
    assert int(client.wait_final(cl_ord_id)[14]) == 500


def test_latency_delays_reports_without_blocking_other_venues(client):
    slow_ids = [new_id("slow") for _ in range(10)]
    for cl_ord_id in slow_ids:
        client.send_order("SLOW", cl_ord_id, quantity=500)
    fast = new_id("fast")
    client.send_order("FULL", fast, quantity=500)
    client.wait_final(fast)
    assert all(client.final(i) is None for i in slow_ids)  # 40 ms + jitter: not yet
    client.wait_all_final(slow_ids, timeout=5)
    waits = [client.arrivals[i][0] - client.sent_at[i] for i in slow_ids]
    assert min(waits) >= 0.039
    assert len({round(w, 4) for w in waits}) > 1  # jitter: not all the same


def test_book_liquidity_is_depleted_by_fills_and_replenishes_at_the_configured_rate(client, truth_log):
    capacity, rate = 5000, 10_000.0  # the BOOK venue's config
    prefix = new_id("book")
    first, second = f"{prefix}-a", f"{prefix}-b"
    client.send_order("BOOK", first, quantity=5000)
    client.wait_final(first)
    client.send_order("BOOK", second, quantity=5000)
    client.wait_final(second)
    time.sleep(0.2)  # on purpose: replenishment needs time to pass, this is not a synchronisation wait
    third = f"{prefix}-c"
    client.send_order("BOOK", third, quantity=5000)
    client.wait_final(third)
    sell = f"{prefix}-d"
    client.send_order("BOOK", sell, side="2", quantity=5000)
    client.wait_final(sell)

    a, b, c, d = sorted(order_records(truth_log, prefix), key=lambda r: r["cl_ord_id"])
    for record in (a, b, c, d):
        assert record["filled"] == min(record["quantity"], record["hidden"])
    slack = rate * 0.005 + 2  # the log's clock is read a few microseconds after the book's
    for earlier, later in ((a, b), (b, c)):
        expected = min(capacity, earlier["hidden"] - earlier["filled"] + rate * (later["monotonic"] - earlier["monotonic"]))
        assert abs(later["hidden"] - expected) <= slack, (earlier, later)
    assert b["hidden"] < 1000 <= c["hidden"]  # depleted, then visibly refilled
    assert d["hidden"] == capacity  # the sell side is a separate book, untouched by the buys
