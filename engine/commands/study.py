"""`dark-agg study`: run the offline study and write study.json, the plots and the summary table."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from engine.allocation.netvalue import WEIGHTINGS
from engine.allocation.registry import DEFAULT_POLICY, POLICY_NAMES, check_policy_names
from engine.config import ConfigError, load_market

FRONTIER_DEFAULT = "5,10,15,20,30,50,inf"


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
    toxicity = parser.add_argument_group("adverse selection (markets with toxic venues)")
    toxicity.add_argument("--fill-value-bps", type=float, default=math.inf, metavar="X",
                          help="value of a filled share in bps: policies maximise sum (X - m_i) x fill, m_i the "
                               "venue's expected markout (default inf: fill only, the study as before)")
    toxicity.add_argument("--markout-horizon", type=float, default=10.0, metavar="SECONDS",
                          help="markout horizon h in seconds (default 10)")
    toxicity.add_argument("--markout-delay", type=int, default=50, metavar="ROUNDS",
                          help="rounds before a fill's markout reaches the policy (default 50)")
    toxicity.add_argument("--markout-noise-bps", type=float, default=5.0, metavar="BPS",
                          help="standard deviation of the midpoint's own move over h, in bps (default 5)")
    toxicity.add_argument("--markout-prior-fills", type=float, default=10.0, metavar="FILLS",
                          help="pseudo-fills at 0 bps each venue's estimate starts from (default 10)")
    toxicity.add_argument("--markout-weighting", choices=WEIGHTINGS, default="fill",
                          help="mean markout per fill or per filled share (default fill)")
    toxicity.add_argument("--true-moves", action="store_true",
                          help="give the policies the true m_i instead of learning them")
    toxicity.add_argument("--frontier", default=FRONTIER_DEFAULT, metavar="VALUES",
                          help=f"fill values (bps, 'inf') of frontier.png, or 'none' (default {FRONTIER_DEFAULT}; "
                               "only for markets with toxic venues)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.study.frontier import parse_fill_values, run_frontier
    from engine.study.plots import (plot_adaptation, plot_convergence, plot_frontier, plot_weight_maps,
                                    plot_weights_evolution)
    from engine.study.report import summary_table, write_study_json
    from engine.study.runner import final_allocations, run_study
    from engine.study.toxicity import NetStudy, has_toxicity

    try:
        market = load_market(args.market)
        names = check_policy_names([n.strip() for n in args.policies.split(",") if n.strip()])
        if args.rounds < 1:
            raise ValueError(f"--rounds {args.rounds}: expected at least 1")
        net = NetStudy(args.fill_value_bps, args.markout_horizon, args.markout_delay, args.markout_noise_bps,
                       args.markout_prior_fills, args.markout_weighting, args.true_moves)
        frontier_values = parse_fill_values(args.frontier) if has_toxicity(market) else []
    except (ConfigError, ValueError) as error:
        print(f"dark-agg study: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frontier_names = [n for n in (DEFAULT_POLICY, "oracle") if n in names] or names[:1]
    total = args.rounds * (len(names) * (2 if net.net else 1) + len(frontier_names) * len(frontier_values))
    with tqdm(total=total, unit="round", unit_scale=True, disable=args.no_progress,
              desc=f"study {market.name}") as bar:
        try:
            result = run_study(market, args.rounds, args.seed, names, args.regime_switch, progress=bar.update,
                               net=net)
            frontier = (run_frontier(market, args.rounds, args.seed, frontier_names, frontier_values, net,
                                     args.regime_switch, progress=bar.update) if frontier_values else None)
        except ValueError as error:
            print(f"dark-agg study: {error}", file=sys.stderr)
            return 2
    write_study_json(result, out / "study.json", frontier)
    focus = DEFAULT_POLICY if DEFAULT_POLICY in result.traces else names[0]
    sizes = np.unique(np.round(np.geomspace(*market.order_size_range(), 160)).astype(np.int64))
    panels = [(focus, final_allocations(result, focus, sizes)), ("oracle", final_allocations(result, "oracle", sizes))]
    if net.net:
        panels = [(f"{focus}, fill only", final_allocations(result, focus, sizes, fill_only=True)),
                  (f"{focus}, net of toxicity at {net.fill_value_bps:g} bps", panels[0][1]),
                  (f"oracle, net of toxicity at {net.fill_value_bps:g} bps", panels[1][1])]
    plot_weight_maps(out / "weights_map.png", panels, sizes, market.venue_names, market.reference_price,
                     market.currency, f"{market.name}: weights after {args.rounds:,} rounds")
    plot_weights_evolution(out / "weights_evolution.png", result, focus)
    plot_convergence(out / "convergence.png", result)
    plot_adaptation(out / "adaptation.png", result)
    written = ["weights_map.png", "weights_evolution.png", "convergence.png", "adaptation.png"]
    if frontier is not None:
        plot_frontier(out / "frontier.png", frontier, f"{market.name}: filled share against markout cost, "
                                                      f"{args.rounds:,} rounds, markouts at {net.horizon_seconds:g} s")
        written.append("frontier.png")
    print(summary_table(result))
    print(f"wrote {out / 'study.json'}, " + ", ".join(written))
    return 0
