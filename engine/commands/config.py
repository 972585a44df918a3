"""``dark-agg config``: check configuration files without starting anything, or print their schema.

    dark-agg config check config/engine.yaml config/sim_venues.yaml config/markets/*.yaml
    dark-agg config schema engine > engine.schema.json

``check`` tells each file's kind from its keys (``--kind`` to say it), loads it exactly as
`dark-agg run`, `dark-agg venues` and `dark-agg study` do, and prints every problem on its own line
(``FILE:LINE: LOCATION = VALUE, expected WHAT``); exit 0 when all files are valid, 2 otherwise.
The sim venues' model lives in sim_venues and is named here by module path only, as in the CLI.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple


class Kind(NamedTuple):
    module: str
    model: str
    title: str
    loader: str  # the function `dark-agg` itself loads such a file with


KINDS: dict[str, Kind] = {
    "engine": Kind("engine.config.engine", "EngineConfig", "dark-agg engine config (dark-agg run --config)",
                   "load_engine_config"),
    "venues": Kind("sim_venues.host_config", "HostConfig", "dark-agg simulated venues (dark-agg venues --config)",
                   "load_config"),
    "market": Kind("engine.config.market", "MarketFile", "dark-agg market profile (venue liquidity and rules)",
                   "load_market"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate config files (exit 0: all valid, 2: a problem)",
                               description="Validate engine, sim-venue and market files without starting anything.")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument("--kind", choices=sorted(KINDS), default=None,
                       help="the files' kind (default: told from each file's keys)")
    schema = actions.add_parser("schema", help="print the JSON Schema of a config kind",
                                description="Print the JSON Schema of a config kind (for editors).")
    schema.add_argument("kind", choices=sorted(KINDS))
    schema.add_argument("--out", type=Path, default=None, help="write it to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    return _check(args.files, args.kind) if args.action == "check" else _schema(args.kind, args.out)


def schema_of(kind: str) -> dict[str, Any]:
    from engine.config.schema import file_schema

    spec = KINDS[kind]
    return file_schema(getattr(importlib.import_module(spec.module), spec.model), spec.title)


def kind_of(document: Any) -> str | None:
    """engine files have ``fix``, market files ``order_notional``, sim-venue files ``symbols``."""
    if not isinstance(document, dict):
        return None
    for kind, key in (("engine", "fix"), ("market", "order_notional"), ("venues", "symbols")):
        if key in document:
            return kind
    return None


def _check(files: list[Path], forced_kind: str | None) -> int:
    from engine.config import ConfigError, read_document

    failed = 0
    for path in files:
        try:
            kind = forced_kind or kind_of(read_document(path, "config file").data)
            if kind is None:
                raise ConfigError(f"{path}: cannot tell its kind (an engine file has fix:, a market file "
                                  f"order_notional:, a sim-venue file symbols:); pass --kind")
            spec = KINDS[kind]
            loaded = getattr(importlib.import_module(spec.module), spec.loader)(path)
        except ConfigError as error:
            failed += 1
            for problem in error.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{path}: ok ({kind}: {_summary(loaded)})")
    if failed:
        print(f"dark-agg config: {failed} of {len(files)} file(s) invalid", file=sys.stderr)
    return 2 if failed else 0


def _summary(loaded: Any) -> str:
    venues = getattr(loaded, "venues", ())
    market = getattr(loaded, "market", None)
    name = market.name if market is not None else getattr(loaded, "name", None)
    return f"{len(venues)} venues" + (f", market {name}" if name else "")


def _schema(kind: str, out: Path | None) -> int:
    text = json.dumps(schema_of(kind), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"{out}: JSON Schema of {kind} files")
    return 0
