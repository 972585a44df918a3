"""The shared market, informed flow and market-data messages without FIX sessions: the walk's
volatility, informed moves' size, direction and shape, seeding, config rules, and the message texts
as QuickFIX reads them with the data dictionary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import quickfix as fix

from engine.allocation.profiles import Toxicity
from engine.config import ConfigError
from sim_venues.host_config import config_from_dict, load_config
from sim_venues.liquidity import IidLiquidity, venue_rng
from sim_venues.market import Market, SymbolMarket
from sim_venues.market_data import Book, incremental_text, reject_text, request_from_text, snapshot_text
from sim_venues.matching import NewOrder, Side, VenueRules
from sim_venues.pricing import InformedFlow, VenuePrice
from sim_venues.settings import settings_table
from sim_venues.venue import Venue
from tests.sim_venues.conftest import VENUES, host_document, market_for_tests
from tests.sim_venues.fix_client import DATA_DICTIONARY

ROOT = Path(__file__).resolve().parents[2]
STANDARD_ERRORS = 4.0


def walk(seed: int = 1, volatility_bps: float = 20.0, step: float = 0.1, tick: float = 0.0001) -> SymbolMarket:
    return SymbolMarket(20.0, tick, venue_rng(seed, "", "X", "market_walk"), volatility_bps=volatility_bps,
                        step_seconds=step)


def test_the_walk_has_the_configured_variance_of_log_returns_per_second():
    sigma_bps, step, seconds = 20.0, 0.1, 3000
    market = walk(volatility_bps=sigma_bps, step=step)
    prices = []
    for second in range(seconds + 1):
        market.advance(second + step / 2)  # mid-step: no doubt about which step is in
        prices.append(market.midpoint)
    returns = np.diff(np.log(prices))
    variance, expected = returns.var(ddof=1), (sigma_bps / 1e4) ** 2
    # The sample variance of n normal returns has standard error var * sqrt(2 / (n - 1)); rounding to
    # a 0.0001 tick at 20.00 adds about 4e-12 per return, nothing at this scale.
    assert abs(variance - expected) <= STANDARD_ERRORS * expected * math.sqrt(2 / (len(returns) - 1)), variance
    assert abs(returns.mean()) <= STANDARD_ERRORS * math.sqrt(expected / len(returns))


def test_the_walk_is_a_function_of_market_time_and_the_seed_not_of_how_often_it_is_read():
    often, rarely, other = walk(seed=3), walk(seed=3), walk(seed=4)
    for k in range(1, 501):
        often.advance(k * 0.1 + 0.01)
    rarely.advance(500 * 0.1 + 0.01)
    other.advance(500 * 0.1 + 0.01)
    assert often.latent == rarely.latent and often.step == rarely.step == 500
    assert other.latent != often.latent


def test_a_still_walk_stays_on_the_reference_and_the_tick_grid():
    market = walk(volatility_bps=0.0, tick=0.01)
    market.advance(1e6 + 0.05)
    assert market.midpoint == 20.0 and market.step == 10_000_000


@pytest.mark.parametrize("side, sign", [(Side.BUY, -1), (Side.SELL, 1)])
def test_an_informed_move_goes_against_our_side_linearly_over_its_horizon(side, sign):
    now = [0.05]
    symbol = walk(volatility_bps=0.0, step=0.1)
    market = Market({"X": symbol}, lambda: now[0], step_seconds=0.1)
    market.inform("X", side, 20.0, 10.0, 1.0)  # 10 bps of 20.00 = 0.02 over one second
    seen = []
    for k in range(1, 14):
        now[0] = k * 0.1 + 0.01  # inside step k (whose time is k * 0.1): no float doubt at the boundary
        market.quote("X")
        seen.append(symbol.latent - 20.0)
    expected = [sign * 0.02 * min(1.0, max(0.0, k * 0.1 - 0.05)) for k in range(1, 14)]
    assert seen == pytest.approx(expected, abs=1e-12)
    assert market.quote("X")[0] == pytest.approx(20.0 + sign * 0.02)


def test_informed_moves_add_up_and_the_midpoint_never_falls_below_a_tick():
    now = [0.0]
    symbol = SymbolMarket(0.03, 0.01, venue_rng(0, "", "X", "market_walk"), step_seconds=0.1)
    market = Market({"X": symbol}, lambda: now[0], step_seconds=0.1)
    for _ in range(3):
        market.inform("X", Side.BUY, 0.03, 5000.0, 0.2)  # half the price, three times
    now[0] = 1.0
    assert market.quote("X")[0] == 0.01


def test_informed_flow_draws_its_probability_and_repeats_with_the_venue_and_symbol_seed():
    toxicity = Toxicity(probability=0.3, move_bps=10.0, horizon_seconds=1.0)
    n = 20_000
    flow = InformedFlow(toxicity, venue_rng(9, "V2", "X", "informed"))
    again = InformedFlow(toxicity, venue_rng(9, "V2", "X", "informed"))
    elsewhere = InformedFlow(toxicity, venue_rng(9, "V5", "X", "informed"))
    first, second, third = ([f.draw() for _ in range(n)] for f in (flow, again, elsewhere))
    assert first == second and first != third
    assert abs(sum(first) / n - 0.3) <= STANDARD_ERRORS * math.sqrt(0.3 * 0.7 / n)


def test_the_truth_record_says_whether_a_fill_was_informed_and_only_fills_draw():
    toxicity = Toxicity(probability=0.5, move_bps=10.0, horizon_seconds=1.0)
    always = next(v for v in market_for_tests().venues if v.name == "FULL")  # every order of 500 fills whole

    def run(with_unfilled: bool) -> list[bool]:
        market = Market({"X": SymbolMarket(20.0, 0.01, venue_rng(0, "", "X", "market_walk"))}, lambda: 0.0)
        prices = {"X": VenuePrice(market, "X", InformedFlow(toxicity, venue_rng(2, "T", "X", "informed")))}
        liquidity = {"X": IidLiquidity(always, venue_rng(2, "T", "X", "liquidity"))}
        venue = Venue("T", VenueRules(1, 1, None, frozenset({"3"})), liquidity, prices, run_token="t")
        flags = []
        for i in range(300):
            if with_unfilled:  # a buy limited far below the midpoint never fills, so never draws
                blocked = venue.new_order(NewOrder(f"b{i}", "1", "X", 500.0, "P", "M", "3", None, 1.0)).truth
                assert (blocked["filled"], blocked["informed"]) == (0, False)
            truth = venue.new_order(NewOrder(f"c{i}", "1" if i % 2 else "2", "X", 500.0, "P", "M", "3")).truth
            assert truth["filled"] == 500 and {"market_step", "midpoint"} <= truth.keys()
            flags.append(truth["informed"])
        return flags
    plain = run(False)
    assert plain == run(True) and any(plain) and not all(plain)


def test_market_data_needs_a_port_and_compids_of_its_own_and_is_a_session_with_resets():
    doc = host_document({"FULL": VENUES["FULL"]}, Path("/tmp/unused.jsonl"))
    venue = doc["venues"][0]
    doc["market_data"] = {"port": venue["port"], "sender_comp_id": venue["sender_comp_id"], "target_comp_id": "DARKAGG"}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())
    assert "market_data.port" in str(caught.value) and "market_data.sender_comp_id" in str(caught.value)
    doc["market_data"] = {"port": venue["port"] + 1}
    config = config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())
    _, sessions = settings_table(config)
    assert sessions[-1][0] == ("FIX.4.4", "MD", "DARKAGG")
    assert {k: sessions[-1][1][k] for k in ("ResetOnLogon", "PersistMessages")} == {"ResetOnLogon": "Y",
                                                                                      "PersistMessages": "N"}
    with pytest.raises(ConfigError, match="market_step_seconds"):
        config_from_dict({**doc, "market_step_seconds": 0.0001}, base_dir=Path("/tmp"), market=market_for_tests())


@pytest.mark.skipif(not (ROOT / "config/markets/lse.yaml").exists(), reason="market file not written yet")
def test_the_shipped_config_has_a_market_data_session_and_walking_symbols():
    config = load_config(ROOT / "config" / "sim_venues.yaml")
    assert config.market_data is not None and config.market_data.port not in {v.port for v in config.venues}
    assert all(spec.volatility_bps_per_sqrt_second > 0 for spec in config.symbols.values())


def test_messages_keep_their_groups_when_quickfix_reads_them_with_the_dictionary():
    dictionary = fix.DataDictionary(str(DATA_DICTIONARY))
    book = Book(0.005, 3, 500, 3)
    bid, offer = book.entry("0", 18.0), book.entry("1", 18.0)
    assert (bid, offer) == (("17.9925", "500"), ("18.0075", "500"))  # an odd spread: half a tick off the grid
    snapshot = fix.Message(snapshot_text("r1", "BARC.L", [("0", *bid), ("1", *offer)]), dictionary, False)
    assert "|268=2|269=0|270=17.9925|271=500|269=1|270=18.0075|271=500|" in snapshot.toString().replace("\x01", "|")
    group = fix.Group(268, 269)
    snapshot.getGroup(2, group)
    assert group.getField(270) == "18.0075"
    update = fix.Message(incremental_text("r1", [("0", "BARC.L", *bid), ("1", "BARC.L", *offer)]), dictionary, False)
    assert ("|268=2|279=1|269=0|55=BARC.L|270=17.9925|271=500|279=1|269=1|55=BARC.L|270=18.0075|271=500|"
            in update.toString().replace("\x01", "|"))
    reject = fix.Message(reject_text("r2", "0", "unknown symbol X\x01Y"), dictionary, False)
    assert (reject.getField(281), reject.getField(58)) == ("0", "unknown symbol X Y")


def test_a_request_reads_every_symbol_and_entry_type_of_its_groups():
    text = "\x01".join(["8=FIX.4.4", "35=V", "146=2", "55=A.L", "55=B.L", "262=r", "263=1", "264=1", "265=0",
                        "267=2", "269=0", "269=1", "10=000", ""])
    request = request_from_text(text)
    assert (request.req_id, request.subscription, request.symbols, request.entry_types, request.update_type) == (
        "r", "1", ("A.L", "B.L"), ("0", "1"), "0")


def test_a_market_data_session_that_requires_credentials_needs_the_clients_secret_before_the_host_starts():
    from sim_venues.logon_check import VenueSecurityError, load_client_secrets

    doc = host_document({"FULL": VENUES["FULL"]}, Path("/tmp/unused.jsonl"))
    doc["market_data"] = {"port": doc["venues"][0]["port"] + 1, "target_comp_id": "MDCLIENT",
                          "require_credentials": True}
    config = config_from_dict(doc, base_dir=Path("/tmp"), market=market_for_tests())
    assert config.credentials_required
    with pytest.raises(VenueSecurityError, match=r"venues market_data require credentials.*MDCLIENT"):
        load_client_secrets(config, {})
