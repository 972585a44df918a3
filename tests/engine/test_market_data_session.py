"""The engine's market-data session against the sim venues' feed over FIX: subscribe, follow the
moving midpoint, see the feed go stale when it goes away, and resubscribe with a fresh snapshot when
it comes back. Outcomes: the midpoint the engine holds against the host's own."""

from __future__ import annotations

import time

import pytest

from engine.config.engine import DEFAULT_DATA_DICTIONARY
from engine.fix.market_data_session import MarketDataSession
from sim_venues.host_config import config_from_dict
from tests.sim_venues.conftest import market_for_tests
from tests.sim_venues.fix_client import eventually, free_port

pytestmark = pytest.mark.slow

MD_ID, ENGINE_ID = "EMDFEED", "EMDENGINE"
SYMBOLS = {"WALK.L": {"reference_price": 20.0, "tick": 0.0001, "volatility_bps_per_sqrt_second": 50.0},
           "STILL.L": {"reference_price": 30.0, "tick": 0.01}}


def host(folder, port):
    from sim_venues.host import VenueHost

    venues = {"EMDV": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=100, max_size=200), {})}
    document = {"symbols": SYMBOLS, "market_step_seconds": 0.01, "acceptor": "thread_per_connection",
                "market_data": {"port": port, "sender_comp_id": MD_ID, "target_comp_id": ENGINE_ID},
                "venue_defaults": {"target_comp_id": ENGINE_ID},
                "venues": [{"name": "EMDV", "port": free_port(), "sender_comp_id": "EMDV"}]}
    running = VenueHost(config_from_dict(document, base_dir=folder, market=market_for_tests(venues)))
    running.start()
    return running


def test_the_feed_is_followed_goes_stale_when_down_and_resubscribes_when_back(tmp_path):
    port = free_port()
    feed_host = host(tmp_path, port)
    seen = []
    session = MarketDataSession("127.0.0.1", port, ENGINE_ID, MD_ID, SYMBOLS, DEFAULT_DATA_DICTIONARY,
                                on_midpoint=lambda symbol, mid, at: seen.append((symbol, mid)), stale_seconds=2.0)
    session.start()
    try:
        assert session.wait_logged_on(10)
        assert eventually(lambda: session.midpoint("STILL.L") is not None, 5)
        assert session.midpoint("STILL.L")[0] == pytest.approx(feed_host.midpoint("STILL.L"))
        assert eventually(lambda: len([s for s, _ in seen if s == "WALK.L"]) >= 10, 5)  # it follows the walk
        assert eventually(lambda: abs(session.midpoint("WALK.L")[0] - feed_host.midpoint("WALK.L")) < 0.01, 5)
        assert session.stale_symbols(time.time()) == [] and session.rejects == [] and session.errors == 0
        feed_host.stop()
        assert eventually(lambda: not session.logged_on, 10)
        assert session.stale_symbols(time.time()) == list(SYMBOLS) and session.midpoint("WALK.L") is None
        feed_host = host(tmp_path, port)  # the market starts again from the reference prices
        assert eventually(lambda: session.logged_on and session.midpoint("WALK.L") is not None, 15)
        assert session.logons == 2
        assert session.midpoint("STILL.L")[0] == pytest.approx(30.0)
    finally:
        session.stop()
        feed_host.stop()
