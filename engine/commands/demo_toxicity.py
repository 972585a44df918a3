"""`dark-agg demo --market <a market with toxic venues>`: the toxicity-aware engine beside a
fill-only one, in the same run, on the same parents.

Two stacks come up at once, each its own simulated venues (the same market file and seed, so the
same hidden liquidity and the same informed contras) and its own engine: ``aware`` with
``weights.fill_value_bps`` (it learns each venue's markouts at ``--markout-horizon`` from the
market-data feed and allocates net of them), ``fill-only`` without. One trader thread per stack
sends the demo's parents (same sizes, sides, symbols and lives) to its engine. After the last
parent the engines keep running until the fills' markouts at the horizon are in, then stop
cleanly; the summary sets filled share and markout cost per filled share side by side, and
`dark-agg report` writes each journal's venue analysis under ``<out>/<stack>/report``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from dataclasses import dataclass

from engine.domain.markouts import DEFAULT_HORIZONS

STACKS = ("aware", "fill-only")
# The sim's informed moves are caused by our own fills (an informed contra's move is 20 bps of the
# shared midpoint): with the demo's 20 parents at once on config/engine.yaml's 3 symbols, each price
# takes thousands of them a minute from every parent, and one fill's 1-second markout carries the
# moves of six others (54 bps of noise measured, against the 10 bps to learn). Spread over 30
# symbols, a symbol has about one parent at a time, as a desk's list of names would.
SYMBOLS = tuple(f"TX{number:02d}.L" for number in range(1, 31))
PRICE = 25.0
# Two stacks on a 2-core machine: at config/engine.yaml's 4 sweeps in flight each stack needs a core
# and more, and whichever did less work per sweep (the aware one, sending no child to V2 or V5) swept
# up to 1.7x as often. At 2 in flight neither is short of CPU, so the policies, not the scheduler,
# set the difference (the sweep counts are printed to show it).
MAX_IN_FLIGHT = 2


@dataclass
class _Outcome:
    sent: int = 0
    error: BaseException | None = None


def run_side_by_side(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.analysis.venue_report import ReportError, format_table, venue_report
    from engine.commands.demo import _trade
    from engine.commands.report import write_report
    from engine.commands.run_report import summarise, summarise_markouts
    from engine.config import load_engine_config
    from engine.process.launch import Process, write_run_configs

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    horizons = sorted({*DEFAULT_HORIZONS, args.markout_horizon})
    common = {"market_data": {"markout_horizons_seconds": horizons}, "symbols": list(SYMBOLS),
              "risk": {"reference_prices": {symbol: PRICE for symbol in SYMBOLS}},
              "sweep": {"max_in_flight": MAX_IN_FLIGHT}}
    overrides = {"aware": {**common, "weights": {"fill_value_bps": args.fill_value_bps,
                                                 "markout_horizon_seconds": args.markout_horizon}},
                 "fill-only": common}
    symbols = {"symbols": {symbol: {"reference_price": PRICE, "tick": 0.01, "volatility_bps_per_sqrt_second": 2.0,
                                    "spread_ticks": 2, "quote_size": 5000} for symbol in SYMBOLS}}
    configs = {name: write_run_configs(out / name, seed=args.seed, market=args.market, engine_overrides=overrides[name],
                                       venue_overrides=symbols) for name in STACKS}
    engines = {name: load_engine_config(configs[name].engine) for name in STACKS}
    started = time.time()
    processes: list = []
    exits: dict[str, int | None] = {}
    outcomes = {name: _Outcome() for name in STACKS}
    cpus = _cpus_per_stack()
    try:
        for name in STACKS:
            venues = Process(f"{name} venues", ["venues", "--config", str(configs[name].venues)],
                             out / name / "venues.log", cpus=cpus[name])
            processes.append(venues)
            venues.wait_ready()
            engine = Process(f"{name} engine", ["run", "--config", str(configs[name].engine), "--log-format", "json"],
                             out / name / "engine.log", cpus=cpus[name])
            processes.append(engine)
            engine.wait_ready()
        pinned = ", ".join(f"{name} on CPU {sorted(c)[0]}" for name, c in cpus.items() if c) or "unpinned"
        print(f"two stacks up in {time.time() - started:.1f} s ({pinned}; logs under {out})")
        bars = {name: tqdm(total=args.parents, desc=f"{name:>9} parents", unit="parent", position=i)
                for i, name in enumerate(STACKS)}

        def trade(index: int, name: str) -> None:
            try:  # each stack its own trader session: QuickFIX's session registry is per process
                outcomes[name].sent = _trade(engines[name], args, bars[name], session=index)
            except BaseException as error:  # noqa: BLE001 - reported below, the other stack goes on
                outcomes[name].error = error

        threads = [threading.Thread(target=trade, args=(i, name), name=f"trader-{name}") for i, name in enumerate(STACKS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for bar in bars.values():
            bar.close()
        wait = max(args.markout_horizon, 10.0) + 1.0
        print(f"last parents done; {wait:.0f} s more for the markouts of the last fills")
        time.sleep(wait)
    finally:
        for process in reversed(processes):  # engines first, then their venues
            exits[process.name] = process.stop()
    clean = all(code == 0 for code in exits.values())
    print(f"\nengines and venues stopped in {time.time() - started:.1f} s: "
          + ", ".join(f"{name} exit {code}" for name, code in exits.items()))
    failed = [f"{name}: {outcome.error}" for name, outcome in outcomes.items() if outcome.error is not None]
    for line in failed:
        print(f"  trader failed: {line}")
    toxic = {venue.name for venue in engines["aware"].market.venues if venue.toxicity is not None}
    try:
        reports = {name: venue_report(engines[name].journal) for name in STACKS}  # fresh journals: this run's
    except ReportError as error:  # e.g. no fills at all: nothing to set side by side
        print(f"no venue report: {error}")
        return 1
    rows = {name: (summarise(engines[name], since=started),
                   summarise_markouts(reports[name], args.markout_horizon, toxic)) for name in STACKS}
    print(_side_by_side(rows, args))
    for name in STACKS:  # what `dark-agg report --journal <stack>/journal.sqlite --out <stack>/report` prints
        print(f"\n== {name}: dark-agg report --journal {engines[name].journal} --out {out / name / 'report'}")
        print(format_table(reports[name]))
        print("wrote " + ", ".join(str(path) for path in write_report(reports[name], out / name / "report")))
    done = all(summary.parents_done == summary.parents == outcomes[name].sent for name, (summary, _) in rows.items())
    return 0 if clean and done and not failed else 1


def _cpus_per_stack() -> dict[str, frozenset[int] | None]:
    """Each stack (its venues and its engine) on a CPU of its own when there are two: the stacks
    are CPU-bound on a 2-core machine, and unpinned the scheduler, not the policy, decided which
    one swept more (13% apart measured)."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return {name: None for name in STACKS}
    return {name: frozenset({allowed[index]}) for index, name in enumerate(STACKS)}


def _side_by_side(rows: dict, args: argparse.Namespace) -> str:
    (aware, aware_cost), (plain, plain_cost) = rows["aware"], rows["fill-only"]
    lines = [f"\n{'':34}{'aware':>14}{'fill-only':>14}",
             f"{'fill value (bps)':34}{args.fill_value_bps:>14g}{'inf':>14}",
             f"{'parents (done)':34}{f'{aware.parents} ({aware.parents_done})':>14}"
             f"{f'{plain.parents} ({plain.parents_done})':>14}",
             f"{'filled share':34}{aware.filled_share:>14.3f}{plain.filled_share:>14.3f}",
             f"{'expected filled share (model)':34}{aware.expected_filled_share:>14.3f}"
             f"{plain.expected_filled_share:>14.3f}",
             f"{'shares filled at toxic venues':34}{aware_cost.toxic_share:>14.3f}{plain_cost.toxic_share:>14.3f}",
             f"{f'markout cost / share, {args.markout_horizon:g} s (bps)':34}{aware_cost.cost_bps:>14.2f}"
             f"{plain_cost.cost_bps:>14.2f}",
             f"{'shares with that markout':34}{aware_cost.marked_shares:>14,}{plain_cost.marked_shares:>14,}",
             f"{'sweeps':34}{aware.sweeps:>14,}{plain.sweeps:>14,}"]
    if plain.filled_share > 0 and plain_cost.cost_bps > 0:
        lines.append(f"aware / fill-only: markout cost per share {aware_cost.cost_bps / plain_cost.cost_bps:.3f}, "
                     f"filled share {aware.filled_share / plain.filled_share:.3f} (expected "
                     f"{aware.expected_filled_share / plain.expected_filled_share:.3f}, per sweep "
                     f"{aware.expected_filled_share / aware.sweeps / (plain.expected_filled_share / plain.sweeps):.3f})"
                     f"; goal: cost <= 0.5 for filled share >= 0.9")
        lines.append("(the expected filled share is what each engine's children were expected to fill under the "
                     "market file's liquidity: the realised one adds the draws' noise, where one block fill can "
                     "be a tenth of a run's shares)")
    return "\n".join(lines)

