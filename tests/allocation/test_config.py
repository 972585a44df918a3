import pytest
import yaml

from engine.allocation.profiles import LiquidityParams
from engine.config import ConfigError, dump_market, load_market, market_from_dict, market_to_dict

MINIMAL = {
    "name": "M", "reference_price": 10.0, "order_notional": {"min": 1000, "max": 100000},
    "venues": [{"name": "A", "fill_probability": 0.2, "tail_exponent": 0.8, "min_size": 10, "max_size": 1000}],
}


def _with(path_value, **changes):
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    document["venues"][0].update(changes.pop("venue", {}))
    document.update(changes)
    return document


@pytest.mark.parametrize("document, message", [
    (_with(None, venue={"fill_probability": 1.5}), "fill_probability = 1.5"),
    (_with(None, venue={"tail_exponent": -1}), "tail_exponent = -1"),
    (_with(None, venue={"max_size": 5}), "max_size = 5"),
    (_with(None, venue={"min_size": 2.5}), "min_size = 2.5"),
    (_with(None, venue={"colour": "red"}), "unknown key.*colour"),
    (_with(None, venues=[]), "venues"),
    (_with(None, order_notional={"min": 5}), "order_notional"),
    (_with(None, reference_price="ten"), "reference_price = 'ten'"),
    (_with(None, regime_switch_venues=["A", "Z"]), "regime_switch_venues"),
])
def test_a_malformed_market_names_the_key_and_the_value(document, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        market_from_dict(document)


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such market file"):
        load_market(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("venues: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_market(broken)


def test_a_market_round_trips_through_yaml(tmp_path):
    market = load_market("config/markets/lse.yaml")
    dump_market(market, tmp_path / "copy.yaml")
    assert load_market(tmp_path / "copy.yaml") == market
    assert market_to_dict(market_from_dict(market_to_dict(market))) == market_to_dict(market)


def test_the_shipped_markets_carry_the_seed_facts():
    lse = {v.name: v for v in load_market("config/markets/lse.yaml").venues}
    assert len(lse) == 12
    assert (lse["V11"].fill_probability, lse["V11"].tail_exponent) == (0.0043, 0.24)
    gy_market = load_market("config/markets/gy.yaml")
    gy = {v.name: v for v in gy_market.venues}
    assert len(gy) >= 17
    assert (gy["V16"].fill_probability, gy["V16"].tail_exponent) == (0.0072, 0.10)
    assert (gy["V17"].fill_probability, gy["V17"].tail_exponent) == (0.0062, 0.19)
    assert "seed" in gy_market.source and LiquidityParams.of(gy_market).venue_count == len(gy)
