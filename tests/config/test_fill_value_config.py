"""``weights.fill_value_bps``: it needs a market-data feed to learn markouts from, at a horizon the
feed takes markouts at; a valid config builds a WeightBook on the net-value objective, the default
one stays fill-only."""

from __future__ import annotations

import numpy as np
import pytest

from engine.allocation.attribution import SweepAttribution
from engine.app import build_weights
from engine.config import ConfigError, engine_config_from_dict

MARKET = """\
name: M
reference_price: 10.0
order_notional: {min: 1000, max: 100000}
venues:
  - {name: A, fill_probability: 0.2, tail_exponent: 0.8, min_size: 10, max_size: 1000}
  - {name: B, fill_probability: 0.5, tail_exponent: 1.2, min_size: 100, max_size: 5000}
  - {name: C, fill_probability: 0.3, tail_exponent: 1.0, min_size: 50, max_size: 2000}
"""
FEED = {"port": 9300, "sender_comp_id": "DARKAGG", "target_comp_id": "PRIMARY"}


def config(tmp_path, weights: dict | None = None, market_data: dict | None = None):
    (tmp_path / "market.yaml").write_text(MARKET)
    document = {
        "market": "market.yaml", "symbols": ["VOD.L"], "journal": "journal.sqlite", "policy": "expgrad",
        "fix": {"trader": {"port": 9200, "sender_comp_id": "DARKAGG", "sessions": ["TRADER1"], "store": "memory"}},
        "venue_defaults": {"sender_comp_id": "DARKAGG"},
        "venues": [{"name": name, "port": 9101 + i, "target_comp_id": f"DARK0{i}"} for i, name in enumerate("ABC")],
    }
    if weights is not None:
        document["weights"] = weights
    if market_data is not None:
        document["market_data"] = market_data
    return engine_config_from_dict(document, base_dir=tmp_path)


def problems(tmp_path, **parts) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, **parts)
    return caught.value.problems


def test_a_fill_value_without_a_market_data_feed_is_refused_naming_it(tmp_path):
    found = problems(tmp_path, weights={"fill_value_bps": 8.0})
    assert len(found) == 1
    assert found[0].startswith("weights.fill_value_bps = 8")
    assert "market_data" in found[0]


def test_the_learning_horizon_must_be_one_the_feed_takes_markouts_at(tmp_path):
    found = problems(tmp_path, weights={"fill_value_bps": 8.0, "markout_horizon_seconds": 5.0}, market_data=FEED)
    assert len(found) == 1
    assert found[0].startswith("weights.markout_horizon_seconds = 5")
    assert "market_data.markout_horizons_seconds" in found[0] and "[1.0, 10.0, 60.0]" in found[0]
    # the same horizon is fine once the feed takes markouts at it
    valid = config(tmp_path, weights={"fill_value_bps": 8.0, "markout_horizon_seconds": 5.0},
                   market_data={**FEED, "markout_horizons_seconds": [1, 5]})
    assert valid.weights.markout_horizon_seconds == 5.0 and valid.market_data.markout_horizons_seconds == (1.0, 5.0)


def test_without_a_fill_value_the_horizon_is_not_checked(tmp_path):
    loaded = config(tmp_path, weights={"markout_horizon_seconds": 5.0}, market_data=FEED)
    assert loaded.weights.fill_value_bps is None


@pytest.mark.parametrize("weights, market_data, where", [
    ({"fill_value_bps": 0}, FEED, "weights.fill_value_bps = 0"),
    ({"fill_value_bps": -3.0}, FEED, "weights.fill_value_bps = -3"),
    ({"fill_value_bps": 8.0, "markout_horizon_seconds": 0}, FEED, "weights.markout_horizon_seconds = 0"),
    ({"fill_value_bps": 8.0}, {**FEED, "markout_horizons_seconds": []}, "market_data.markout_horizons_seconds"),
])
def test_nonsense_values_are_refused_where_they_are(tmp_path, weights, market_data, where):
    found = problems(tmp_path, weights=weights, market_data=market_data)
    assert any(problem.startswith(where) for problem in found), found


def test_a_valid_fill_value_builds_a_net_value_weightbook_at_the_fill_value(tmp_path):
    loaded = config(tmp_path, weights={"fill_value_bps": 8.0, "markout_prior_fills": 4.0}, market_data=FEED)
    assert loaded.weights.markout_horizon_seconds == 1.0  # the default, one of the default horizons
    book = build_weights(loaded)
    values = book.net_values()
    assert isinstance(values, np.ndarray)
    np.testing.assert_array_equal(values, np.full(3, 8.0))  # no markout yet: every venue worth the fill value
    net = book.net_value
    assert net.fill_value_bps == 8.0 and net.horizon_seconds == 1.0
    assert isinstance(net.estimator, SweepAttribution)  # the engine's fills share one midpoint per sweep
    assert net.estimator.venue_count == 3 and net.estimator.prior_fills == 4.0
    assert "!markouts" in book.snapshots()


def test_the_default_config_is_fill_only(tmp_path):
    loaded = config(tmp_path)
    assert loaded.weights.fill_value_bps is None
    book = build_weights(loaded)
    assert book.net_values() is None and book.net_value is None
    assert "!markouts" not in book.snapshots()
    # a feed alone does not change the objective
    assert build_weights(config(tmp_path, market_data=FEED)).net_values() is None


def test_in_a_file_the_problem_names_the_line_of_the_fill_value(tmp_path):
    from engine.config import load_engine_config

    (tmp_path / "market.yaml").write_text(MARKET)
    path = tmp_path / "engine.yaml"
    path.write_text("""\
market: market.yaml
symbols: [VOD.L]
journal: journal.sqlite
fix:
  trader: {port: 9200, sender_comp_id: DARKAGG, sessions: [TRADER1], store: memory}
venue_defaults: {sender_comp_id: DARKAGG}
venues:
  - {name: A, port: 9101, target_comp_id: DARK01}
  - {name: B, port: 9102, target_comp_id: DARK02}
  - {name: C, port: 9103, target_comp_id: DARK03}
weights:
  min_symbol_history: 5
  fill_value_bps: 8
""")
    with pytest.raises(ConfigError) as caught:
        load_engine_config(path)
    assert caught.value.problems == [f"{path}:13: weights.fill_value_bps = 8.0, expected a market_data feed to "
                                     f"learn markouts from (or no fill value)"]
