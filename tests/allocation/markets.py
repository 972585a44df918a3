"""Small markets built in code for tests (fixed, readable, fast)."""

from engine.allocation.profiles import MarketProfile, VenueProfile


def small_market(**rule_overrides) -> MarketProfile:
    """Four venues: a liquid small-size one, two middling ones and a rare block venue."""
    rules = {"lot_size": 1, "min_order_size": 1, **rule_overrides}
    venues = (
        VenueProfile(name="LIT", fill_probability=0.35, tail_exponent=1.3, min_size=50, max_size=5_000, **rules),
        VenueProfile(name="MID", fill_probability=0.15, tail_exponent=0.8, min_size=100, max_size=50_000, **rules),
        VenueProfile(name="WIDE", fill_probability=0.08, tail_exponent=0.5, min_size=200, max_size=200_000, **rules),
        VenueProfile(name="BLOCK", fill_probability=0.02, tail_exponent=0.3, min_size=2_000, max_size=1_000_000, **rules),
    )
    return MarketProfile(name="TEST", reference_price=10.0, currency="USD", min_notional=1_000,
                         max_notional=2_000_000, venues=venues, regime_switch_venues=("LIT", "BLOCK"))
