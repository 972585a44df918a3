"""Shared set-up of the end-to-end tests: a market file, sim venues and an engine config, with
CompIDs chosen per module (QuickFIX keeps one process-wide session registry)."""

from __future__ import annotations

from pathlib import Path

from engine.config import engine_config_from_dict
from sim_venues.host_config import config_from_dict
from tests.sim_venues.fix_client import free_port

SYMBOL = "E2E.L"
MARKET = """
name: E2E
currency: GBP
reference_price: 20.0
order_notional: {min: 2000, max: 2000000}
venues:
  - {name: DEEP, fill_probability: 1.0, tail_exponent: 1.5, min_size: 1000, max_size: 2000}
  - {name: THIN, fill_probability: 0.5, tail_exponent: 1.5, min_size: 100, max_size: 1000}
  - {name: SOLO, fill_probability: 1.0, tail_exponent: 1.5, min_size: 300, max_size: 400}
  - {name: FLAKY, fill_probability: 1.0, tail_exponent: 1.5, min_size: 1000, max_size: 2000}
"""
STYLES = {"SOLO": {"report_style": "single_final", "ack_new": False}}


def start_venues(folder: Path, engine_id: str, prefix: str):
    from sim_venues.host import VenueHost

    (folder / "market.yaml").write_text(MARKET)
    document = {"market": "market.yaml", "seed": 3, "acceptor": "thread_per_connection",
                "ground_truth_log": str(folder / "truth.jsonl"),
                "symbols": {SYMBOL: {"reference_price": 20.0, "tick": 0.01}},
                "venue_defaults": {"target_comp_id": engine_id, "time_in_force": ["IOC", "DAY"]},
                "venues": [{"name": name, "port": free_port(), "sender_comp_id": f"{prefix}{name}",
                            **STYLES.get(name, {})} for name in ("DEEP", "THIN", "SOLO", "FLAKY")]}
    host = VenueHost(config_from_dict(document, base_dir=folder))
    host.start()
    return host


def engine_config(folder: Path, venues, engine_id: str, trader_id: str, trader_port: int | None = None):
    document = {
        "market": "market.yaml", "symbols": [SYMBOL], "journal": "journal.sqlite",
        "sweep": {"deadline_ms": 200, "interval_ms": 5, "cancel_retry_ms": 300},
        "weights": {"min_symbol_history": 50, "snapshot_seconds": 0.2},
        "fix": {"store_path": "fix_store", "reconnect_seconds": 1,
                "trader": {"port": trader_port or free_port(), "sender_comp_id": engine_id, "sessions": [trader_id]}},
        "venue_defaults": {"sender_comp_id": engine_id},
        "venues": [{"name": l.venue, "port": l.port, "target_comp_id": l.sender_comp_id} for l in venues.listings()],
    }
    return engine_config_from_dict(document, base_dir=folder)
