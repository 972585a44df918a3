"""The engine follows the primary's market-data feed over FIX: the feed's midpoint is the risk
collar's reference while the feed is up, and the configured price again once it is down. Outcomes
as the trader sees them: which limit orders are accepted."""

from __future__ import annotations

import time

import pytest

from engine.config import engine_config_from_dict
from engine.fix.trader_client import TraderClient
from sim_venues.host_config import config_from_dict
from tests.engine.e2e_setup import MARKET, SYMBOL
from tests.engine.engine_thread import EngineThread
from tests.sim_venues.fix_client import eventually, free_port

pytestmark = pytest.mark.slow

ENGINE_ID, MD_ID, TRADER = "AGGMD", "MDFEED", "MDTRADER"
CONFIGURED, PRIMARY = 20.0, 30.0  # the engine's configured reference; where the primary trades


def venues_with_feed(folder):
    from sim_venues.host import VenueHost

    (folder / "market.yaml").write_text(MARKET)
    document = {"market": "market.yaml", "seed": 3, "acceptor": "thread_per_connection",
                "symbols": {SYMBOL: {"reference_price": PRIMARY, "tick": 0.01}},
                "market_data": {"port": free_port(), "sender_comp_id": MD_ID, "target_comp_id": ENGINE_ID},
                "venue_defaults": {"target_comp_id": ENGINE_ID},
                "venues": [{"name": name, "port": free_port(), "sender_comp_id": f"MD{name}"}
                           for name in ("DEEP", "THIN", "SOLO", "FLAKY")]}
    host = VenueHost(config_from_dict(document, base_dir=folder))
    host.start()
    return host


def accepted(client, cl_ord_id: str, limit: float) -> bool:
    client.send_order(cl_ord_id, "buy", SYMBOL, 3000, limit=limit, tif="IOC")
    final = client.wait_done(cl_ord_id, timeout=10)
    return final.ord_status != "8"


def engine_with_feed(folder, host):
    document = {
        "market": "market.yaml", "symbols": [SYMBOL], "journal": "journal.sqlite",
        "sweep": {"deadline_ms": 200, "interval_ms": 5, "cancel_retry_ms": 300},
        "risk": {"reference_prices": {SYMBOL: CONFIGURED}, "order": {"collar_bps": {"hard": 100}}},
        "market_data": {"port": host.config.market_data.port, "sender_comp_id": ENGINE_ID,
                        "target_comp_id": MD_ID, "heartbeat_seconds": 1},
        "fix": {"store_path": "fix_store", "reconnect_seconds": 1,
                "trader": {"port": free_port(), "sender_comp_id": ENGINE_ID, "sessions": [TRADER]}},
        "venue_defaults": {"sender_comp_id": ENGINE_ID},
        "venues": [{"name": l.venue, "port": l.port, "target_comp_id": l.sender_comp_id} for l in host.listings()],
    }
    return engine_config_from_dict(document, base_dir=folder)


def test_the_feed_midpoint_is_the_collar_reference_while_the_feed_is_up(tmp_path):
    host = venues_with_feed(tmp_path)
    config = engine_with_feed(tmp_path, host)
    running = EngineThread(config).start()
    client = TraderClient("127.0.0.1", config.fix.trader.port, TRADER, ENGINE_ID, config.fix.data_dictionary).start()
    try:
        assert client.wait_logged_on(10)
        # a buy limited below the midpoint is accepted but never fills, so no fill price muddles the reference
        below = PRIMARY - 0.2
        assert eventually(lambda: accepted(client, f"UP{time.monotonic_ns()}", below), 10)  # 67 bps off 30.00
        assert not accepted(client, "MD2", CONFIGURED)         # 20.00 is a third off the primary's 30.00
        assert client.cum_qty("MD2") == 0
        host.stop()                                            # the feed goes away with the venues
        assert eventually(lambda: not accepted(client, f"DOWN{time.monotonic_ns()}", below), 15)
        assert accepted(client, "MD4", CONFIGURED)             # back on the configured 20.00
    finally:
        client.stop()
        running.stop()
        host.stop()
