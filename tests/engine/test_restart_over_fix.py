"""A restart over real FIX: the engine stops with a parent working, a new engine on the same journal
restores the weights and the parent, and the trader keeps getting its reports."""

from __future__ import annotations

import io
import sqlite3
import time

import numpy as np
import pytest

from engine.allocation.rules import VenueRules
from engine.fix.trader_client import TraderClient
from engine.journal import latest_weights, open_parents
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread

pytestmark = pytest.mark.slow

ENGINE_ID, TRADER_ID = "AGGRST", "RSTTRADER"


def test_a_restart_restores_the_weights_and_the_open_parent(tmp_path):
    venues = start_venues(tmp_path, ENGINE_ID, "R")
    config = engine_config(tmp_path, venues, ENGINE_ID, TRADER_ID)
    trader = TraderClient(config.fix.trader.host, config.fix.trader.port, TRADER_ID, ENGINE_ID, config.fix.data_dictionary)
    try:
        first = EngineThread(config).start()
        trader.start()
        assert trader.wait_logged_on(10)
        trader.send_order("K1", "buy", SYMBOL, 5_000_000)
        trader.wait_for(lambda: sum(r.exec_type == "F" for r in trader.reports_for("K1")) >= 20, timeout=15)
        first.stop()
        # the engine's logout follows its last report on the wire: once the client has seen it,
        # it has seen every fill the first engine booked
        trader.wait_for(lambda: not trader.logged_on, timeout=15)
        filled_before = max(r.cum_qty for r in trader.reports_for("K1"))
        [(policy, learned, snapshot)] = [v for k, v in latest_weights(config.journal).items() if k == "*"]
        assert learned > 0
        [(journaled, _)] = open_parents(config.journal)
        assert journaled["cum_qty"] == filled_before  # the trader heard of every fill the journal holds

        restarted_at = time.time()
        second = EngineThread(config).start()
        try:
            restored = second.call(lambda: second.manager._find(f"FIX.4.4:{ENGINE_ID}->{TRADER_ID}", "K1"))
            # restored with what was filled, and already working again (it may have filled more)
            assert restored is not None and restored.cum_qty >= filled_before and not restored.is_final
            # The engine journals its weights as soon as it has restored them, before any venue is
            # up; the live weights may have learned more by now, so that first snapshot is compared.
            second.call(second.engine.journal.flush)
            on_restart = _first_market_snapshot_since(config.journal, restarted_at)
            rules = VenueRules.of(config.market)
            quantity, everywhere = 100_000, np.ones(len(config.venues), bool)
            allocations = []
            for arrays in (snapshot, on_restart):
                policy = second.engine.manager.runner.weights._make_policy()
                policy.restore(arrays)
                allocations.append(policy.desired_allocation(quantity, rules, everywhere))
            np.testing.assert_allclose(allocations[1], allocations[0])
            assert second.call(lambda: second.manager.runner.weights.market.rounds) >= int(snapshot["rounds"])
            assert trader.wait_logged_on(15)
            trader.wait_for(lambda: max(r.cum_qty for r in trader.reports_for("K1")) > filled_before, timeout=15)
            trader.cancel("K1C", "K1", "buy", SYMBOL, 5_000_000)
            final = trader.wait_done("K1C", timeout=15)
            assert final.exec_type == "4" and final.cum_qty > filled_before
        finally:
            second.stop()
    finally:
        trader.stop()
        venues.stop()


def _first_market_snapshot_since(journal, since: float) -> dict:
    with sqlite3.connect(journal) as connection:
        [blob] = connection.execute("SELECT snapshot FROM weights WHERE key = '*' AND taken_at >= ? "
                                    "ORDER BY taken_at LIMIT 1", (since,)).fetchone()
    with np.load(io.BytesIO(blob)) as archive:
        return {key: archive[key] for key in archive.files}
