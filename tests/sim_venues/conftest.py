"""Shared fixtures: one venue host with a venue per behaviour under test, and one client to all of it.

Starting and stopping QuickFIX costs seconds, so the integration tests share a session-scoped host
and client; each test uses its own venue (or its own ClOrdIDs) so tests stay independent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.allocation.profiles import MarketProfile, VenueProfile
from sim_venues.host_config import config_from_dict
from tests.sim_venues.fix_client import FixTestClient, VenueAddress, free_port

CLIENT = "DARKAGG"

# Contrasting liquidity profiles for the statistical tests (a thin venue, a deep one, a heavy tail).
STAT_PROFILES = {
    "S1": dict(fill_probability=0.3, tail_exponent=1.3, min_size=100, max_size=5000),
    "S2": dict(fill_probability=0.8, tail_exponent=2.0, min_size=500, max_size=20000),
    "S3": dict(fill_probability=0.55, tail_exponent=0.8, min_size=50, max_size=100000),
}

# name -> (profile overrides, venue config entry)
VENUES: dict[str, tuple[dict, dict]] = {
    **{name: (profile, {}) for name, profile in STAT_PROFILES.items()},
    "FULL": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000), {}),
    "EMPTY": (dict(fill_probability=0.001, tail_exponent=1.5, min_size=1, max_size=2), {}),
    "SINGLE": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=300, max_size=400),
               {"report_style": "single_final", "ack_new": False}),
    "RULES": (dict(fill_probability=0.5, tail_exponent=1.5, min_size=100, max_size=1000,
                   lot_size=100, min_order_size=200, max_order_size=10000), {"time_in_force": ["IOC"]}),
    "SLOW": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000),
             {"latency": {"fixed_ms": 40, "jitter_ms": 20}}),
    "BOOK": (dict(fill_probability=0.5, tail_exponent=1.5, min_size=100, max_size=1000),
             {"mode": "book", "book": {"capacity": 5000, "replenish_per_second": 10000}}),
    "FAULTY": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000), {}),
    "TIMED": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000), {}),
    "REFUSE": (dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000),
               {"faults": {"refuse_logon": True}}),
}

SYMBOL = "TEST.L"
REFERENCE_PRICE = 20.0
TICK = 0.01


def one_symbol_prices(symbol: str = "X", reference_price: float = 20.0, tick: float = 0.01, *, seed: int = 0,
                      order_step_probability: float = 0.0, clock=lambda: 0.0) -> dict:
    """A venue core's prices without a host: one symbol of a market of its own (still by default)."""
    from sim_venues.liquidity import venue_rng
    from sim_venues.market import Market, SymbolMarket
    from sim_venues.pricing import VenuePrice

    symbol_market = SymbolMarket(reference_price, tick, venue_rng(seed, "", symbol, "market_walk"),
                                 order_step_probability=order_step_probability,
                                 order_rng=venue_rng(seed, "", symbol, "market_order_steps"))
    return {symbol: VenuePrice(Market({symbol: symbol_market}, clock), symbol)}


def market_for_tests(venues: dict[str, tuple[dict, dict]] = VENUES) -> MarketProfile:
    return MarketProfile(name="TEST", reference_price=REFERENCE_PRICE, currency="GBP", min_notional=1_000,
                         max_notional=1_000_000,
                         venues=tuple(VenueProfile(name=name, **profile) for name, (profile, _) in venues.items()))


def host_document(venues: dict[str, tuple[dict, dict]], truth_log: Path, seed: int = 11) -> dict:
    return {
        "seed": seed,
        "ground_truth_log": str(truth_log),
        "symbols": {SYMBOL: {"reference_price": REFERENCE_PRICE, "tick": TICK},
                    "WALK.L": {"reference_price": REFERENCE_PRICE, "tick": TICK, "walk_step_probability": 0.5}},
        "venue_defaults": {"target_comp_id": CLIENT},
        "venues": [{"name": name, "port": free_port(), "sender_comp_id": name, **entry}
                   for name, (_, entry) in venues.items()],
    }


@pytest.fixture(scope="session")
def truth_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("venues") / "ground_truth.jsonl"


@pytest.fixture(scope="session")
def host_config(truth_log):
    return config_from_dict(host_document(VENUES, truth_log), base_dir=truth_log.parent, market=market_for_tests())


@pytest.fixture(scope="session")
def host(host_config):
    from sim_venues.host import VenueHost

    venue_host = VenueHost(host_config)
    venue_host.start()
    yield venue_host
    venue_host.stop()


@pytest.fixture(scope="session")
def client(host):
    addresses = [VenueAddress(v.venue, v.port, v.sender_comp_id, v.target_comp_id) for v in host.listings()]
    fix_client = FixTestClient(addresses)
    fix_client.start(wait=[a.name for a in addresses if a.name != "REFUSE"])
    yield fix_client
    fix_client.stop()
