"""``dark-agg venues``: run the simulated venues of a config file until Ctrl-C or SIGTERM.

``configure`` stays light (no quickfix, no numba): the host is imported inside ``run``. Signals only
set an event; the main thread then stops QuickFIX (slow, and never allowed from a callback).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from engine.process.logs import write_line
from engine.process.runtime import freeze_startup_heap


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("config/sim_venues.yaml"),
                        help="venue config YAML (default: config/sim_venues.yaml)")
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed")
    parser.add_argument("--ground-truth", type=Path, default=None,
                        help="override the ground-truth log file (JSON lines)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine.config.loading import load_or_report
    from sim_venues.host_config import load_config

    config = load_or_report(load_config, args.config, "venues")
    if config is None:
        return 2
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.ground_truth is not None:
        config = replace(config, ground_truth_log=args.ground_truth.resolve())

    from sim_venues.host import VenueHost  # imports quickfix

    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    host = VenueHost(config)
    try:
        host.start()
    except Exception as error:  # noqa: BLE001 - e.g. a port in use: say so and leave
        print(f"dark-agg venues: could not start: {error}", file=sys.stderr)
        host.stop()
        return 1
    print(f"dark-agg venues: {len(config.venues)} venues of {config.market.name}, seed {config.seed}, "
          f"ground truth -> {config.ground_truth_log or 'off'}")
    for listing in host.listings():
        print(f"  {listing.venue:<6} port {listing.port:<5} SenderCompID={listing.sender_comp_id:<10} "
              f"TargetCompID={listing.target_comp_id:<10} mode={listing.mode} reports={listing.report_style}")
    md = config.market_data
    if md is not None:
        print(f"  {'market data':<6} port {md.port:<5} SenderCompID={md.sender_comp_id:<10} "
              f"TargetCompID={md.target_comp_id:<10} (MarketDataRequest V; W/X/Y)")
    freeze_startup_heap()
    write_line("ready")  # one whole line: scripts (engine.process.launch) wait for it
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print(f"dark-agg venues: stopping after {host.orders()} orders", flush=True)
        host.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
