"""The whole product over real FIX on loopback: a trader client, the engine, simulated venues.

One venue host and one engine serve the module (starting QuickFIX costs seconds); every test uses
its own ClOrdIDs. CompIDs are this module's own (QuickFIX keeps one process-wide session registry).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.domain.child import ChildState
from engine.fix.trader_client import TraderClient
from sim_venues.host_config import FaultConfig, ReportFault
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread
from tests.sim_venues.fix_client import eventually

pytestmark = pytest.mark.slow

ENGINE_ID, TRADER_ID = "AGGE2E", "E2ETRADER"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def venues(folder):
    host = start_venues(folder, ENGINE_ID, "E")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def engine(folder, venues):
    running = EngineThread(engine_config(folder, venues, ENGINE_ID, TRADER_ID)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def trader(engine):
    fix = engine.engine.config.fix
    client = TraderClient(fix.trader.host, fix.trader.port, TRADER_ID, ENGINE_ID, fix.data_dictionary)
    client.start()
    assert client.wait_logged_on(10)
    yield client
    client.stop()


def test_a_day_parent_is_filled_across_the_venues_with_one_trade_report_per_child_fill(trader):
    trader.send_order("E1", "buy", SYMBOL, 2400)
    final = trader.wait_done("E1", timeout=15)
    reports = trader.reports_for("E1")
    assert [r.exec_type for r in reports[:2]] == ["A", "0"]
    trades = [r for r in reports if r.exec_type == "F"]
    assert final.ord_status == "2" and final.cum_qty == 2400 and final.leaves_qty == 0
    assert sum(r.last_qty for r in trades) == 2400
    assert {r.last_mkt for r in trades} <= {"DEEP", "THIN", "SOLO", "FLAKY"} and len({r.last_mkt for r in trades}) > 1
    assert [r.cum_qty for r in trades] == sorted(r.cum_qty for r in trades)
    assert final.avg_px == pytest.approx(20.0, abs=0.5)


def test_an_ioc_parent_gets_one_sweep(trader, engine):
    trader.send_order("E2", "sell", SYMBOL, 50_000, tif="IOC")
    final = trader.wait_done("E2", timeout=10)
    assert final.exec_type == "4" and final.ord_status == "4" and 0 < final.cum_qty < 50_000
    parent = engine.call(lambda: engine.manager._find(f"FIX.4.4:{ENGINE_ID}->{TRADER_ID}", "E2"))
    assert parent.sweeps == 1


def test_a_limit_away_from_the_midpoint_gets_nothing(trader):
    trader.send_order("E3", "buy", SYMBOL, 1000, limit=1.0, tif="IOC")
    final = trader.wait_done("E3", timeout=10)
    assert final.ord_status == "4" and final.cum_qty == 0


def test_a_gtd_parent_expires(trader):
    trader.send_order("E4", "buy", SYMBOL, 5_000_000, tif="GTD", expire_at=time.time() + 1.0)
    final = trader.wait_done("E4", timeout=10)
    assert final.exec_type == "C" and final.ord_status == "C" and final.cum_qty > 0


def test_cancel_and_replace_over_fix(trader):
    trader.send_order("E5", "buy", SYMBOL, 5_000_000)
    trader.wait_for(lambda: any(r.exec_type == "F" for r in trader.reports_for("E5")), timeout=10)
    trader.replace("E5R", "E5", "buy", SYMBOL, 4_000_000)
    replaced = trader.wait_for(lambda: next((r for r in trader.reports_for("E5R") if r.exec_type == "5"), None))
    assert replaced.fields[38] == "4000000" and replaced.orig_cl_ord_id == "E5"
    trader.status("E5R", "buy", SYMBOL)
    status = trader.wait_for(lambda: next((r for r in trader.reports_for("E5R") if r.exec_type == "I"), None))
    assert status.ord_status in ("0", "1")
    trader.cancel("E5C", "E5R", "buy", SYMBOL, 4_000_000)
    final = trader.wait_done("E5C", timeout=10)
    assert any(r.exec_type == "6" for r in trader.reports_for("E5C"))
    assert final.exec_type == "4" and final.leaves_qty == 0 and final.cum_qty > 0


def test_bad_orders_and_unsupported_messages_are_answered_with_rejects(trader):
    trader.send_order("E6", "buy", "NOPE.L", 1000)
    assert trader.wait_done("E6").fields[103] == "1"
    trader.send_order("E6", "buy", SYMBOL, 1000)
    duplicate = trader.wait_for(lambda: [r for r in trader.reports_for("E6") if r.fields.get(103) == "6"])
    assert duplicate[0].exec_type == "8"
    before = len(trader.messages_of_type("j"))
    trader.raw("35=q|11=m1|530=7|60=20260101-10:00:00")
    reject = trader.wait_for(lambda: trader.messages_of_type("j")[before:])
    assert reject[0].fields[380] == "3" and reject[0].fields[372] == "q"


def test_a_venue_lost_mid_sweep_does_not_stall_the_others_and_is_reconciled_when_it_returns(trader, engine, venues):
    venues.set_faults("FLAKY", FaultConfig(disconnect_after_orders=1,
                                           drop_reports=ReportFault(every=1, exec_types=("0", "F", "4"))))
    trader.send_order("E7", "buy", SYMBOL, 6000)
    lost = eventually(lambda: engine.call(lambda: [c for c in engine.manager.children.values()
                                                   if c.venue == "FLAKY" and c.state is ChildState.UNRESOLVED]), 10)
    [child] = lost
    # the others keep sweeping while FLAKY's shares stay reserved
    eventually(lambda: engine.call(lambda: engine.manager.parents[child.parent_id].sweeps >= 3), 10)
    venues.set_faults("FLAKY", FaultConfig())
    eventually(lambda: engine.call(lambda: child.is_final), 15)
    final = trader.wait_done("E7", timeout=15)
    assert final.ord_status == "2" and final.cum_qty == 6000
    # FLAKY always has liquidity: what it filled while we could not hear it was booked on its return
    assert child.timed_out and child.is_final and child.cum_qty > 0
    assert any(r.last_mkt == "FLAKY" for r in trader.reports_for("E7") if r.exec_type == "F")
