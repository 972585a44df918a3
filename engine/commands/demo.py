"""`dark-agg demo` (what `make demo` runs): the whole product end to end on loopback.

Starts the simulated venues of config/sim_venues.yaml (the LSE market of config/markets/lse.yaml)
and the engine (`dark-agg run`) as their own processes on free ports, logs on as a trader, sends
parent orders of log-uniform notional over the market's range (mostly GTD with a short life, some
IOC, some limit), keeps a window of them working at once, then stops everything cleanly and prints
what the journal says: the filled share, the fill against the oracle's expected fill for the same
sweep sizes, sweep latency p50/p99 and the certified-no-regret share; the learned weight map is
written next to the logs.

With a market that has toxic venues (``--market config/markets/lse_toxic.yaml``) the demo runs two
stacks at once, each with its own venues (same seed, same market) and engine, and sends both the
same parents: one engine allocates net of adverse selection (``weights.fill_value_bps``, learning
each venue's markouts from the market-data feed), the other on fill alone. The summary sets their
filled share and markout cost per filled share side by side, and `dark-agg report` runs on each
journal.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parents", type=int, default=500, help="parent orders to send (default: %(default)s)")
    parser.add_argument("--window", type=int, default=20, help="parents working at once (default: %(default)s)")
    parser.add_argument("--life-seconds", type=float, default=2.0,
                        help="GTD parents expire this long after they are sent (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="order flow and venue liquidity seed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="run directory (default: %(default)s)")
    parser.add_argument("--market", type=Path, default=None,
                        help="market file for the venues and the engine (default: config/sim_venues.yaml's, lse.yaml); "
                             "one with toxic venues runs the toxicity-aware engine beside a fill-only one")
    parser.add_argument("--fill-value-bps", type=float, default=DEFAULT_FILL_VALUE_BPS,
                        help="the aware engine's weights.fill_value_bps (default: %(default)s)")
    parser.add_argument("--markout-horizon", type=float, default=DEFAULT_MARKOUT_HORIZON,
                        help="the markout horizon (s) the aware engine learns from and the summary prices "
                             "(default: %(default)s)")


DEFAULT_FILL_VALUE_BPS = 10.0
DEFAULT_MARKOUT_HORIZON = 1.0


def run(args: argparse.Namespace) -> int:
    if args.market is not None and _has_toxic_venues(args.market):
        from engine.commands.demo_toxicity import run_side_by_side
        return run_side_by_side(args)
    return _run_one(args)


def _has_toxic_venues(path: Path) -> bool:
    from engine.config.market import load_market
    return any(venue.toxicity is not None for venue in load_market(path).venues)


def _run_one(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.config import load_engine_config
    from engine.commands.run_report import export_weights, summarise
    from engine.process.launch import Process, write_run_configs

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)  # a demo is a fresh run: fresh journal, fresh FIX stores
    configs = write_run_configs(out, seed=args.seed, market=args.market)
    config = load_engine_config(configs.engine)
    started = time.time()
    venues = Process("venues", ["venues", "--config", str(configs.venues)], out / "venues.log")
    engine = None
    try:
        venues.wait_ready()
        engine = Process("engine", ["run", "--config", str(configs.engine), "--log-format", "json"], out / "engine.log")
        engine.wait_ready()
        print(f"venues and engine up in {time.time() - started:.1f} s (logs: {out}/venues.log, {out}/engine.log)")
        with tqdm(total=args.parents, desc="parents", unit="parent") as progress:
            sent = _trade(config, args, progress)
    finally:
        engine_exit = engine.stop() if engine is not None else None
        venues_exit = venues.stop()
    summary = summarise(config, since=started)
    clean = engine_exit == 0 and venues_exit == 0
    print(f"\n{sent} parents sent in {time.time() - started:.1f} s; engine exit {engine_exit}, venues exit "
          f"{venues_exit}{' (clean stop)' if clean else ' (see the logs)'}")
    for line in summary.lines():
        print("  " + line)
    try:
        document = export_weights(config, out / "weights")
        [(name, figures)] = document["policies"].items()
        print(f"  learned {name} weights: expected fill over the oracle's, mean {figures['expected_fill_ratio_mean']:.3f}"
              f" over {len(document['sizes'])} sizes -> {out}/weights/weights_map.png")
    except LookupError as error:
        print(f"  no weights exported: {error}", file=sys.stderr)
    return 0 if clean and summary.parents_done == summary.parents == sent else 1


def _trade(config, args, progress, session: int = 0) -> int:
    """Sends the parents with at most ``window`` working at once, as the ``session``-th trader
    session of the config; returns how many were sent."""
    from engine.fix.trader_client import TraderClient

    rng = np.random.default_rng(args.seed)
    market = config.market
    low, high = market.min_notional / market.reference_price, market.max_notional / market.reference_price
    sizes = np.round(np.exp(rng.uniform(np.log(low), np.log(high), args.parents))).astype(int)
    working = threading.Semaphore(args.window)
    finished = threading.Event()
    done_count = [0]

    def on_report(report) -> None:
        if report.is_done:
            working.release()
            done_count[0] += 1
            progress.update(1)
            if done_count[0] == args.parents:
                finished.set()

    client = TraderClient(config.fix.trader.host, config.fix.trader.port, config.fix.trader.sessions[session],
                          config.fix.trader.sender_comp_id, config.fix.data_dictionary, on_report=on_report,
                          keep_reports=False)
    with client:
        if not client.wait_logged_on(15):
            raise RuntimeError(f"no trader logon at {client.address}")
        for number, quantity in enumerate(sizes):
            working.acquire()
            symbol = config.symbols[number % len(config.symbols)]
            side = "buy" if rng.random() < 0.5 else "sell"
            kind = rng.random()
            if kind < 0.1:
                client.send_order(f"D{number}", side, symbol, int(quantity), tif="IOC")
            else:
                client.send_order(f"D{number}", side, symbol, int(quantity), tif="GTD",
                                  expire_at=time.time() + args.life_seconds)
        if not finished.wait(args.life_seconds + 30):
            print(f"only {done_count[0]} of {args.parents} parents finished", file=sys.stderr)
    return len(sizes)
