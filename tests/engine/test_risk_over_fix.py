"""Pre-trade limits over real FIX: a trader client -> the engine -> sim venues. Each limit at exactly
its level is accepted, one over is refused with 39=8 / 150=8, OrdRejReason 3 and a Text naming the
limit, its level and the order's value; nothing of a refused order reaches a venue."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.config.loading import validate
from engine.config.risk import RiskConfig
from engine.fix.trader_client import TraderClient
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread

pytestmark = pytest.mark.slow

ENGINE_ID = "AGGRISK"
LIMITS, OPEN, RATE = "RISKLIMITS", "RISKOPEN", "RISKRATE"  # one trader session per kind of limit
RISK = {
    "reference_prices": {SYMBOL: 20.0},  # the sim venues' midpoint: fills keep it there
    "order": {"max_quantity": {"hard": 5000}, "max_notional": {"hard": 100_000}, "collar_bps": {"hard": 100}},
    "sessions": {OPEN: {"max_open_notional": {"hard": 150_000}}, RATE: {"max_messages_per_second": {"hard": 3}}},
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk")
    venues = start_venues(folder, ENGINE_ID, "R")
    config = engine_config(folder, venues, ENGINE_ID, LIMITS)
    config = dataclasses.replace(config, fix=dataclasses.replace(config.fix, trader=dataclasses.replace(
        config.fix.trader, sessions=(LIMITS, OPEN, RATE))), risk=validate(RiskConfig, RISK, base_dir=folder))
    running = EngineThread(config).start()
    yield running, folder / "truth.jsonl"
    running.stop()
    venues.stop()


@pytest.fixture(scope="module")
def traders(engine):
    fix = engine[0].engine.config.fix
    clients = {name: TraderClient(fix.trader.host, fix.trader.port, name, ENGINE_ID, fix.data_dictionary)
               for name in (LIMITS, OPEN, RATE)}
    for client in clients.values():
        client.start()
    assert all(client.wait_logged_on(10) for client in clients.values())
    yield clients
    for client in clients.values():
        client.stop()


def refused(client: TraderClient, cl_ord_id: str) -> str:
    final = client.wait_done(cl_ord_id, timeout=10)
    assert (final.exec_type, final.ord_status, final.fields[103]) == ("8", "8", "3"), final.fields
    return final.fields[58]


def accepted(client: TraderClient, cl_ord_id: str) -> None:
    client.wait_for(lambda: [r for r in client.reports_for(cl_ord_id) if r.exec_type == "0"], timeout=10)


def orders_at_venues(truth_log: Path) -> set[str]:
    lines = [json.loads(line) for line in truth_log.read_text().splitlines() if line.strip()]
    return {line["cl_ord_id"].split(".")[0] for line in lines if "cl_ord_id" in line}


@pytest.mark.parametrize("at_limit, over, text", [
    # 5,000 shares at the 20.00 reference are exactly the 100,000 notional too: both at their level
    (("Q1", 5000, None), ("Q2", 5001, None), "order.max_quantity 5,000 exceeded (hard): 5,001"),
    (("N1", 4950, 20.2), ("N2", 4951, 20.2), "order.max_notional 100,000 exceeded (hard): 100,010"),
    # 20.20 is 100 bps above the reference, 20.21 is 105
    (("C1", 100, 20.2), ("C2", 100, 20.21), "order.collar_bps 100 exceeded (hard): 105"),
])
def test_a_parent_at_its_limit_is_worked_and_one_over_is_refused_naming_the_limit(traders, engine, at_limit, over, text):
    client = traders[LIMITS]
    for cl_ord_id, quantity, limit in (at_limit, over):
        client.send_order(cl_ord_id, "buy", SYMBOL, quantity, limit=limit, tif="IOC")
    accepted(client, at_limit[0])
    assert refused(client, over[0]) == text
    assert client.wait_done(at_limit[0], timeout=10).ord_status in ("1", "2", "4")


def test_open_notional_counts_working_parents_and_refuses_the_one_over(traders):
    client = traders[OPEN]
    # buy limits below the midpoint rest unfilled: 79,600 + 69,650 = 149,250 open
    client.send_order("O1", "buy", SYMBOL, 4000, limit=19.9)
    client.send_order("O2", "buy", SYMBOL, 3500, limit=19.9)
    accepted(client, "O1")
    accepted(client, "O2")
    client.send_order("O3", "buy", SYMBOL, 100, limit=19.9)  # 151,240 with it
    assert refused(client, "O3") == "session.max_open_notional 150,000 exceeded (hard): 151,240"
    client.cancel("X1", "O2", "buy", SYMBOL, 3500)
    assert client.wait_done("O2", timeout=10).ord_status == "4"
    client.send_order("O4", "buy", SYMBOL, 100, limit=19.9)  # 81,590: room again
    accepted(client, "O4")
    for cancel, order, quantity in (("X2", "O1", 4000), ("X3", "O4", 100)):
        client.cancel(cancel, order, "buy", SYMBOL, quantity)
        assert client.wait_done(order, timeout=10).ord_status == "4"


def test_a_session_over_its_message_rate_is_refused_and_others_are_not(traders):
    client = traders[RATE]
    for number in range(4):  # a burst, well inside one second
        client.send_order(f"M{number}", "buy", SYMBOL, 100, limit=19.9, tif="IOC")
    assert refused(client, "M3").startswith("session.max_messages_per_second 3 exceeded (hard): 4")
    assert all(client.wait_done(f"M{n}", timeout=10).ord_status != "8" for n in range(3))


def test_nothing_of_a_refused_parent_reaches_a_venue(traders, engine):
    _, truth_log = engine
    client = traders[LIMITS]
    client.send_order("Z1", "buy", SYMBOL, 999_999_999, tif="IOC")  # a fat finger
    refused(client, "Z1")
    client.send_order("Z2", "buy", SYMBOL, 100, tif="IOC")
    client.wait_done("Z2", timeout=10)
    parents = {r.order_id for r in client.reports_for("Z1") + client.reports_for("Z2")}
    at_venues = orders_at_venues(truth_log)
    z2 = next(r.order_id for r in client.reports_for("Z2") if r.order_id != "NONE")
    assert z2 in at_venues and not (parents - {z2, "NONE"}) & at_venues
