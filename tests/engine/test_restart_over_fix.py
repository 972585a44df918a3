"""A restart over real FIX: the engine stops with a parent working, a new engine on the same journal
restores the weights and the parent, and the trader keeps getting its reports."""

from __future__ import annotations

import numpy as np
import pytest

from engine.allocation.rules import VenueRules
from engine.fix.trader_client import TraderClient
from engine.store import latest_weights
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread

pytestmark = pytest.mark.slow

ENGINE_ID, TRADER_ID = "AGGRST", "RSTTRADER"


def test_a_restart_restores_the_weights_and_the_open_parent(tmp_path):
    venues = start_venues(tmp_path, ENGINE_ID, "R")
    config = engine_config(tmp_path, venues, ENGINE_ID, TRADER_ID)
    trader = TraderClient(config.fix.trader_host, config.fix.trader_port, TRADER_ID, ENGINE_ID, config.fix.data_dictionary)
    try:
        first = EngineThread(config).start()
        trader.start()
        assert trader.wait_logged_on(10)
        trader.send_order("K1", "buy", SYMBOL, 5_000_000)
        trader.wait_for(lambda: sum(r.exec_type == "F" for r in trader.reports_for("K1")) >= 20, timeout=15)
        first.stop()
        filled_before = max(r.cum_qty for r in trader.reports_for("K1"))
        [(policy, learned, snapshot)] = [v for k, v in latest_weights(config.journal).items() if k == "*"]
        assert learned > 0

        second = EngineThread(config).start()
        try:
            restored = second.call(lambda: second.manager._find(f"FIX.4.4:{ENGINE_ID}->{TRADER_ID}", "K1"))
            assert restored is not None and restored.cum_qty == filled_before and not restored.is_final
            weights = second.manager.runner.weights.market
            rules = VenueRules.of(config.market)
            snapshot_policy = second.engine.manager.runner.weights._make_policy()
            snapshot_policy.restore(snapshot)
            quantity = 100_000
            everywhere = np.ones(len(config.venues), bool)
            np.testing.assert_allclose(second.call(lambda: weights.desired_allocation(quantity, rules, everywhere)),
                                       snapshot_policy.desired_allocation(quantity, rules, everywhere))
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
