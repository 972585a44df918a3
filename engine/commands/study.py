"""`dark-agg study`: run the offline study and write study.json, the plots and the summary table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from engine.allocation.registry import DEFAULT_POLICY, POLICY_NAMES, check_policy_names
from engine.config import ConfigError, load_market


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, help="market profile YAML (config/markets/*.yaml)")
    parser.add_argument("--rounds", type=int, default=100_000, help="rounds to play (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--policies", default=",".join(POLICY_NAMES),
                        help=f"comma-separated policies (default all: {','.join(POLICY_NAMES)})")
    parser.add_argument("--regime-switch", type=int, default=None, metavar="ROUND",
                        help="swap the liquidity of the market's regime_switch_venues at this round")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.study.plots import plot_adaptation, plot_convergence, plot_weight_maps, plot_weights_evolution
    from engine.study.report import summary_table, write_study_json
    from engine.study.runner import final_allocations, run_study

    try:
        market = load_market(args.market)
        names = check_policy_names([n.strip() for n in args.policies.split(",") if n.strip()])
        if args.rounds < 1:
            raise ValueError(f"--rounds {args.rounds}: expected at least 1")
    except (ConfigError, ValueError) as error:
        print(f"dark-agg study: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tqdm(total=args.rounds * len(names), unit="round", unit_scale=True, disable=args.no_progress,
              desc=f"study {market.name}") as bar:
        try:
            result = run_study(market, args.rounds, args.seed, names, args.regime_switch, progress=bar.update)
        except ValueError as error:
            print(f"dark-agg study: {error}", file=sys.stderr)
            return 2
    write_study_json(result, out / "study.json")
    focus = DEFAULT_POLICY if DEFAULT_POLICY in result.traces else names[0]
    sizes = np.unique(np.round(np.geomspace(*market.order_size_range(), 160)).astype(np.int64))
    panels = [(focus, final_allocations(result, focus, sizes)), ("oracle", final_allocations(result, "oracle", sizes))]
    plot_weight_maps(out / "weights_map.png", panels, sizes, market.venue_names, market.reference_price,
                     market.currency, f"{market.name}: weights after {args.rounds:,} rounds")
    plot_weights_evolution(out / "weights_evolution.png", result, focus)
    plot_convergence(out / "convergence.png", result)
    plot_adaptation(out / "adaptation.png", result)
    print(summary_table(result))
    print(f"wrote {out / 'study.json'}, weights_map.png, weights_evolution.png, convergence.png, adaptation.png")
    return 0
