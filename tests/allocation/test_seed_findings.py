"""The seed's findings, checked on the oracle of the shipped markets (the maps the study draws)."""

import numpy as np

from engine.allocation.oracle import oracle_allocation
from engine.allocation.profiles import LiquidityParams
from engine.config import load_market


def _weights(path: str, notional: float) -> dict[str, float]:
    market = load_market(path)
    quantity = int(notional / market.reference_price)
    allocation = oracle_allocation(quantity, LiquidityParams.of(market))
    return dict(zip(market.venue_names, allocation / quantity))


def test_on_lse_the_liquid_venue_leads_small_orders_and_the_block_venue_the_largest():
    small, large = _weights("config/markets/lse.yaml", 15_000), _weights("config/markets/lse.yaml", 50_000_000)
    assert max(small, key=small.get) == "V1"
    assert max(large, key=large.get) == "V11"
    assert small["V11"] == 0.0 and large["V1"] < 0.05


def test_on_gy_v16_dominates_above_ten_million_and_gets_more_than_v17():
    for notional in (15e6, 30e6, 50e6):
        weights = _weights("config/markets/gy.yaml", notional)
        assert max(weights, key=weights.get) == "V16"
        assert weights["V16"] > weights["V17"]
    small = _weights("config/markets/gy.yaml", 15_000)
    assert max(small, key=small.get) == "V1"
