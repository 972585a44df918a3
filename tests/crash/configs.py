"""The run configs of a crash check: the shipped sim_venues.yaml and engine.yaml on free ports
(engine.process.launch.write_run_configs), made durable on both sides of every FIX session.

Durable means: the venues keep sequence numbers and an order memory on disk (so a restarted venue
resends reports the engine missed and refuses a child id it has seen), and the engine's venue
sessions keep theirs and never reset, so QuickFIX's ResendRequest/PossDup recovery runs after every
kill. The engine's sweep settings stay as shipped: the check is of the product as configured.
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from engine.process.launch import RunConfigs, write_run_configs

# The per-venue FIX session policy of the engine's venue sessions (engine venue_defaults.session).
ENGINE_VENUE_SESSION = {"store": "file", "reset_on_logon": False, "reset_on_logout": False,
                        "reset_on_disconnect": False}
# The sim venues' repeating disconnect fault: drop the connection after every N-th order.
DISCONNECT_FAULT_KEY = "disconnect_every_orders"
# A little latency on every venue, so reports are still in flight when a process is killed.
VENUE_LATENCY = {"fixed_ms": 1, "jitter_ms": 2}


def write_crash_configs(run_dir: Path, *, seed: int, disconnect_venues: int = 0,
                        disconnect_every: int = 40) -> tuple[RunConfigs, list[str]]:
    """Write both configs into ``run_dir``; returns them and the venues given the disconnect fault
    (``disconnect_venues`` of them, chosen by ``seed``)."""
    configs = write_run_configs(run_dir, seed=seed)

    venues = yaml.safe_load(configs.venues.read_text())
    venues["store"] = "file"
    venues["store_path"] = str(run_dir / "venue_store")
    venues["venue_defaults"]["latency"] = dict(VENUE_LATENCY)  # venues with their own latency keep it
    names = [entry["name"] for entry in venues["venues"]]
    dropping = sorted(random.Random(seed).sample(names, min(disconnect_venues, len(names))),
                      key=names.index)
    for entry in venues["venues"]:
        if entry["name"] in dropping:
            entry["faults"] = {**entry.get("faults", {}), DISCONNECT_FAULT_KEY: disconnect_every}
    configs.venues.write_text(yaml.safe_dump(venues, sort_keys=False))

    engine = yaml.safe_load(configs.engine.read_text())
    engine.setdefault("venue_defaults", {})["session"] = dict(ENGINE_VENUE_SESSION)
    configs.engine.write_text(yaml.safe_dump(engine, sort_keys=False))
    return configs, dropping
