"""Engine test fixtures: simulated venues over real FIX on loopback, and engine configs pointing at them.

CompIDs are this package's own (engine ``AGGTEST``, venues ``X<name>``): QuickFIX keeps one
process-wide registry of sessions, and the sim-venue tests' client (``DARKAGG`` -> venue) may still be
alive in the same pytest run.
"""

from __future__ import annotations

import pytest

from engine.allocation.profiles import MarketProfile, VenueProfile
from engine.config import EngineConfig, FixConfig, TraderConfig, VenueSessionConfig
from engine.config.engine import DEFAULT_DATA_DICTIONARY
from sim_venues.host_config import config_from_dict
from tests.sim_venues.fix_client import free_port

ENGINE_COMP_ID = "AGGTEST"
SYMBOL = "TEST.L"
REFERENCE_PRICE = 20.0

# name -> (liquidity profile, sim venue entry). FULL fills any child up to 1000 shares; EMPTY almost
# never fills; SINGLE fills up to 300 in one final report without a New; FLAKY is FULL for tests that
# inject faults (sim_host.set_faults).
ENGINE_TEST_VENUES: dict[str, tuple[dict, dict]] = {
    "FULL": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000), {}),
    "EMPTY": (dict(fill_probability=0.001, tail_exponent=1.5, min_size=1, max_size=2), {}),
    "SINGLE": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=300, max_size=400),
               {"report_style": "single_final", "ack_new": False}),
    "FLAKY": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000), {}),
}


def venue_comp_id(name: str) -> str:
    return f"X{name}"


@pytest.fixture(scope="session")
def engine_market() -> MarketProfile:
    return MarketProfile(name="ENGINE-TEST", reference_price=REFERENCE_PRICE, currency="GBP", min_notional=1_000,
                         max_notional=1_000_000,
                         venues=tuple(VenueProfile(name=name, **profile)
                                      for name, (profile, _) in ENGINE_TEST_VENUES.items()))


@pytest.fixture(scope="session")
def sim_host(engine_market, tmp_path_factory):
    """The ENGINE_TEST_VENUES as FIX acceptors on free ports, expecting ENGINE_COMP_ID."""
    from sim_venues.host import VenueHost

    folder = tmp_path_factory.mktemp("engine_venues")
    document = {
        "seed": 5,
        # quickfix 1.16's SocketAcceptor.stop() can crash (see engine/fix/gateway.py): use the threaded one.
        "acceptor": "thread_per_connection",
        "ground_truth_log": str(folder / "ground_truth.jsonl"),
        "symbols": {SYMBOL: {"reference_price": REFERENCE_PRICE, "tick": 0.01}},
        "venue_defaults": {"target_comp_id": ENGINE_COMP_ID, "time_in_force": ["IOC", "DAY"]},
        "venues": [{"name": name, "port": free_port(), "sender_comp_id": venue_comp_id(name), **entry}
                   for name, (_, entry) in ENGINE_TEST_VENUES.items()],
    }
    host = VenueHost(config_from_dict(document, base_dir=folder, market=engine_market))
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="session")
def make_engine_config(engine_market, sim_host, tmp_path_factory):
    """``make_engine_config(**changes) -> EngineConfig`` for an engine on a free trader port whose
    venues are ``sim_host``'s; ``trader_port``, ``trader_sessions`` (CompIDs) and ``trader_store``
    replace TraderConfig fields, other keyword arguments FixConfig fields, ``venues`` the venue
    tuple. Each config gets its own folder."""

    def make(*, venues: tuple[VenueSessionConfig, ...] | None = None, trader_port: int | None = None,
             trader_sessions: list[str] = ("TRADER1",), trader_store: str = "file", **fix_changes) -> EngineConfig:
        folder = tmp_path_factory.mktemp("engine")
        trader = TraderConfig(port=trader_port or free_port(), sender_comp_id=ENGINE_COMP_ID,
                              sessions=tuple(trader_sessions), store=trader_store)
        fix = FixConfig(**{
            "data_dictionary": DEFAULT_DATA_DICTIONARY, "heartbeat_seconds": 30, "reconnect_seconds": 1,
            "trader": trader, "store_path": folder / "fix_store", **fix_changes})
        if venues is None:
            venues = tuple(VenueSessionConfig(name=listing.venue, host="127.0.0.1", port=listing.port,
                                              sender_comp_id=listing.target_comp_id,
                                              target_comp_id=listing.sender_comp_id)
                           for listing in sim_host.listings())
        return EngineConfig(market=engine_market, symbols=(SYMBOL,), journal=folder / "journal.sqlite", fix=fix,
                            venues=venues)

    return make
