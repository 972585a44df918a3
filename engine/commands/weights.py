"""`dark-agg weights --out DIR`: export the engine's live weights as study.json + weights_map.png."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.config import load_engine_config
from engine.config.loading import load_or_report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/engine.yaml", help="engine config (default: %(default)s)")
    parser.add_argument("--out", required=True, type=Path, help="directory for study.json and weights_map.png")
    parser.add_argument("--symbol", help="a symbol's own weights (default: the market-level weights)")


def run(args: argparse.Namespace) -> int:
    from engine.commands.run_report import export_weights

    config = load_or_report(load_engine_config, args.config, "weights")
    if config is None:
        return 2
    try:
        document = export_weights(config, args.out, args.symbol)
    except (LookupError, FileNotFoundError) as error:
        print(f"dark-agg weights: {error}", file=sys.stderr)
        return 2
    [(name, summary)] = document["policies"].items()
    print(f"{name} weights after {document['rounds']} learned sweeps -> {args.out}/study.json, "
          f"{args.out}/weights_map.png")
    print(f"expected fill over the oracle's on the market file: mean {summary['expected_fill_ratio_mean']:.3f}, "
          f"worst size {summary['expected_fill_ratio_min']:.3f}")
    return 0
