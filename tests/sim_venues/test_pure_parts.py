"""Unit tests of the parts with no FIX in them: config validation, fill rules, venue core, seeding."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from engine.config import ConfigError
from sim_venues.host_config import BookConfig, config_from_dict, load_config
from sim_venues.liquidity import BookLiquidity, IidLiquidity, venue_rng
from sim_venues.matching import NewOrder, Side, ValidOrder, VenueRules, match
from sim_venues.market import SymbolMarket
from sim_venues.settings import settings_table
from sim_venues.venue import Venue
from tests.sim_venues.conftest import VENUES, host_document, market_for_tests, one_symbol_prices

ROOT = Path(__file__).resolve().parents[2]


def document(**changes):
    doc = host_document({"FULL": VENUES["FULL"]}, Path("/tmp/unused.jsonl"))
    doc.update(changes)
    return doc


def test_an_unknown_key_is_an_error_naming_the_key_and_its_value():
    with pytest.raises(ConfigError, match=r"unknown key 'colour' \(value 'red'\)"):
        config_from_dict(document(colour="red"), base_dir=Path("/tmp"), market=market_for_tests())


def test_a_venue_missing_from_the_market_is_an_error_naming_it():
    doc = document()
    doc["venues"][0]["name"] = "V99"
    with pytest.raises(ConfigError, match="V99"):
        config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())


def test_book_mode_without_a_book_section_is_an_error():
    doc = document()
    doc["venues"][0]["mode"] = "book"
    with pytest.raises(ConfigError, match="book"):
        config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())


@pytest.mark.skipif(not (ROOT / "config/markets/lse.yaml").exists(), reason="market file not written yet")
def test_the_default_config_loads_twelve_venues_with_unique_ports():
    config = load_config(ROOT / "config" / "sim_venues.yaml")
    assert [v.name for v in config.venues] == [f"V{i}" for i in range(1, 13)]
    assert len({v.port for v in config.venues}) == 12


def test_generated_settings_make_the_choices_the_fix_notes_require():
    config = config_from_dict(document(), base_dir=Path("/tmp"), market=market_for_tests())
    defaults, sessions = settings_table(config)
    assert Path(defaults["DataDictionary"]).is_absolute()
    assert (defaults["SocketNodelay"], defaults["NonStopSession"], defaults["CheckLatency"]) == ("Y", "Y", "N")
    assert sessions[0][0] == ("FIX.4.4", "FULL", "DARKAGG")
    file_config = config_from_dict(document(store="file", store_path="store"), base_dir=Path("/tmp"), market=market_for_tests())
    assert settings_table(file_config)[0]["ResetOnLogon"] == "N"


def test_a_venue_session_policy_sets_its_resets_and_its_daily_reset_but_never_the_hosts_store():
    doc = document(store="file", store_path="store")
    doc["venues"][0]["session"] = {"reset_on_logon": True, "reset_time": "05:30:00"}
    config = config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())
    defaults, [(_, section)] = settings_table(config)
    assert (defaults["ResetOnLogon"], section["ResetOnLogon"]) == ("N", "Y")  # the venue's own rule
    assert "ResetOnLogout" not in section  # as the store's default
    assert (section["NonStopSession"], section["StartTime"], section["EndTime"]) == ("N", "05:30:00", "05:30:00")
    doc["venues"][0]["session"] = {"store": "memory"}
    with pytest.raises(ConfigError, match=r"session"):
        config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())


@given(quantity=st.integers(1, 10_000), hidden=st.integers(0, 20_000), min_qty=st.integers(0, 10_000),
       side=st.sampled_from([Side.BUY, Side.SELL]))
def test_a_fill_is_min_of_sent_and_hidden_unless_below_min_qty(quantity, hidden, min_qty, side):
    min_qty = min(min_qty, quantity)
    fill = match(ValidOrder("c", side, "X", quantity, "3", min_qty, None), hidden, 20.0, 0.01)
    crossing = min(quantity, hidden)
    assert fill.quantity == (crossing if crossing >= min_qty and crossing > 0 else 0)


def test_book_liquidity_refills_linearly_up_to_capacity():
    now = [0.0]
    book = BookLiquidity(BookConfig(capacity=1000, replenish_per_second=100.0), clock=lambda: now[0])
    assert book.hidden(Side.BUY) == 1000
    book.consume(Side.BUY, 1000)
    now[0] = 2.5
    assert book.hidden(Side.BUY) == 250 and book.hidden(Side.SELL) == 1000
    now[0] = 100.0
    assert book.hidden(Side.BUY) == 1000


def test_the_order_driven_walk_stays_on_the_tick_grid_and_repeats_with_the_seed():
    def path():
        market = SymbolMarket(0.05, 0.01, venue_rng(3, "", "X", "market_walk"), order_step_probability=1.0,
                              order_rng=venue_rng(3, "", "X", "market_order_steps"))
        steps = []
        for _ in range(2000):
            market.order_step()
            steps.append(market.midpoint)
        return steps
    paths = [path(), path()]
    assert paths[0] == paths[1]
    assert min(paths[0]) >= 0.01
    assert all(abs(p * 100 - round(p * 100)) < 1e-9 for p in paths[0])


def make_venue(seed: int, name: str = "V1") -> Venue:
    profile = market_for_tests().venues[0]
    liquidity = {"X": IidLiquidity(profile, venue_rng(seed, name, "X", "liquidity"))}
    prices = one_symbol_prices("X", 20.0, 0.01, seed=seed, order_step_probability=0.3)
    return Venue(name, VenueRules(1, 1, None, frozenset({"3", "0"})), liquidity, prices, run_token="t")


def test_the_same_seed_and_order_flow_give_the_same_fills_and_another_seed_does_not():
    def fills(seed):
        venue = make_venue(seed)
        return [venue.new_order(NewOrder(f"c{i}", "1", "X", 300.0 + i, "P", "M", "3")).truth["filled"]
                for i in range(300)]
    assert fills(5) == fills(5)
    assert fills(5) != fills(6)


def test_exec_ids_are_unique_and_the_order_id_is_stable_per_order():
    venue = make_venue(1)
    reports = [r for i in range(200) for r in venue.new_order(NewOrder(f"c{i}", "1", "X", 500.0, "P", "M", "3")).reports]
    assert len({r.exec_id for r in reports}) == len(reports)
    by_order = {}
    for r in reports:
        by_order.setdefault(r.cl_ord_id, set()).add(r.order_id)
    assert all(len(ids) == 1 for ids in by_order.values())
