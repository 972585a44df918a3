"""The ``dark-agg`` command: the composition root.

Each subcommand lives in its own module exposing ``configure(parser)`` and ``run(args) -> int``;
modules are imported only when their subcommand runs, so ``dark-agg study`` never loads quickfix.
It and ``dark-agg config`` name ``sim_venues`` by module path only (the engine packages never import it).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "study": ("engine.commands.study", "offline study: policies against the oracle, weight maps, study.json"),
    "calibrate": ("engine.commands.calibrate", "estimate venue liquidity profiles from trade prints or child outcomes"),
    "venues": ("sim_venues.command", "run simulated dark venues (FIX acceptors) from a config file"),
    "run": ("engine.commands.run", "run the aggregator: trader sessions, venue sessions, learned sweeps"),
    "order": ("engine.commands.order", "send one parent order as a FIX trader and print its reports until it is done"),
    "demo": ("engine.commands.demo", "the product end to end: sim venues, the engine, a trader sending parents, a summary"),
    "weights": ("engine.commands.weights", "export the engine's live weights as study.json and a weight map"),
    "report": ("engine.commands.report", "the venue analysis from a journal: fills, fill rates, markouts per venue and horizon, by order size"),
    "config": ("engine.commands.config", "check config files without starting anything, or print their JSON Schema"),
    "ops": ("engine.commands.ops", "operate the running engine: status, halt/resume, venues, limits, cancel-all"),
    "secrets": ("engine.commands.secrets", "FIX logon secrets (traders' hashed passwords, venue credentials) and trial TLS certificates"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dark-agg", description="Dark aggregator: learned, size-dependent allocation across dark pools.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen_subcommand(argv)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name == chosen:  # only the chosen module is imported and configures its options
            importlib.import_module(module_name).configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run(args) or 0)


def _chosen_subcommand(argv: list[str]) -> str | None:
    return next((word for word in argv if word in SUBCOMMANDS), None)


if __name__ == "__main__":
    sys.exit(main())
