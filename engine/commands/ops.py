"""``dark-agg ops``: operate the running engine over its operator channel.

    dark-agg ops [--config config/engine.yaml] [--json] status
    dark-agg ops halt [--session S | --symbol X | --venue V] [--cancel] [--reason TEXT]
    dark-agg ops resume [--session S | --symbol X | --venue V]
    dark-agg ops venue disable|enable V [--reason TEXT]
    dark-agg ops limits show
    dark-agg ops limits set KEY VALUE [--level hard|soft] [--symbol X | --session S | --venue V]
    dark-agg ops cancel-all [--reason TEXT]
    dark-agg ops restricted reload

The command line only parses and prints: what a command means, and whether its values make sense,
is the engine's to decide (it answers a refusal with the reason, shown as is).
Exit status: 0 done; 2 refused by the engine, bad arguments, or no operator channel configured;
3 the engine cannot be reached, the token is not the engine's, or the engine did not answer.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 2, 3
SCOPES = ("session", "symbol", "venue")  # the halt and resume scopes narrower than global
DEFAULT_REASONS = {"halt": "operator halt", "venue": "operator request", "cancel_all": "operator cancel-all"}


def configure(parser: argparse.ArgumentParser) -> None:
    # The shared options are accepted before and after the action (`ops --json status`, `ops status
    # --json`); SUPPRESS on the inner copies keeps an absent inner option from hiding an outer one.
    _add_common(parser, inner=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, inner=True)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    actions.add_parser("status", parents=[common], help="trading state, sessions, venues, limit usage, journal")

    halt = actions.add_parser("halt", parents=[common],
                              help="stop new orders: everywhere, or for one session, symbol or venue")
    _add_scope(halt, "halt")
    halt.add_argument("--cancel", action="store_true", help="also cancel the working parents in the halted scope")
    halt.add_argument("--reason", default=DEFAULT_REASONS["halt"],
                      help="why, for the journal and the status (default: %(default)r)")

    resume = actions.add_parser("resume", parents=[common], help="lift a halt of the same scope")
    _add_scope(resume, "resume")

    venue = actions.add_parser("venue", parents=[common], help="take a venue out of the sweeps or put it back")
    venue.add_argument("venue_action", choices=("disable", "enable"), help="disable or enable")
    venue.add_argument("venue", metavar="VENUE", help="venue name, e.g. V11")
    venue.add_argument("--reason", default=DEFAULT_REASONS["venue"],
                       help="why, for the journal and the status (default: %(default)r)")

    limits = actions.add_parser("limits", parents=[common], help="show the risk limits in force, or change one")
    limit_actions = limits.add_subparsers(dest="limits_action", metavar="show|set", required=True)
    limit_actions.add_parser("show", parents=[common], help="the limits in force and the changes made today")
    limit_set = limit_actions.add_parser("set", parents=[common], help="change one limit (journaled with who and when)")
    limit_set.add_argument("key", metavar="KEY",
                           help="e.g. order.max_quantity, session.max_open_notional, child.max_orders_per_second, "
                                "reference_max_age_seconds, duplicate_window_seconds, reference_price")
    limit_set.add_argument("value", metavar="VALUE", help="a number, or `none` to remove the limit")
    limit_set.add_argument("--level", choices=("hard", "soft"), default="hard",
                           help="hard: refuse above it; soft: accept and warn (default: hard)")
    limit_scope = limit_set.add_mutually_exclusive_group()
    limit_scope.add_argument("--symbol", metavar="X", help="the limit for this symbol only")
    limit_scope.add_argument("--session", metavar="S", help="the limit for this trader session only")
    limit_scope.add_argument("--venue", metavar="V", help="the limit for this venue only")

    cancel_all = actions.add_parser("cancel-all", parents=[common], help="cancel every working parent")
    cancel_all.add_argument("--reason", default=DEFAULT_REASONS["cancel_all"],
                            help="why, for the journal (default: %(default)r)")

    restricted = actions.add_parser("restricted", parents=[common], help="the restricted list")
    restricted_actions = restricted.add_subparsers(dest="restricted_action", metavar="reload", required=True)
    restricted_actions.add_parser("reload", parents=[common], help="read the restricted list again from its file")


def request_of(args: argparse.Namespace) -> tuple[str, dict]:
    """The command and the arguments the engine gets for the parsed command line."""
    action = args.action
    if action == "status":
        return "status", {}
    if action == "halt":
        scope, key = _scope_of(args)
        return "halt", {"scope": scope, "key": key, "cancel": bool(args.cancel), "reason": args.reason}
    if action == "resume":
        scope, key = _scope_of(args)
        return "resume", {"scope": scope, "key": key}
    if action == "venue":
        return "venue", {"action": args.venue_action, "venue": args.venue, "reason": args.reason}
    if action == "limits" and args.limits_action == "show":
        return "limits_show", {}
    if action == "limits":
        scope, key = _scope_of(args)
        # A limit without --symbol/--session/--venue is the default one: no scope (not "global", a halt's word).
        return "limits_set", {"key": args.key, "value": args.value, "level": args.level,
                              "scope": None if scope == "global" else scope, "scope_key": key}
    if action == "cancel-all":
        return "cancel_all", {"reason": args.reason}
    if action == "restricted":
        return "restricted_reload", {}
    raise ValueError(f"no request for the action {action!r}")  # argparse admits only the actions above


def run(args: argparse.Namespace) -> int:
    from engine.config import load_engine_config
    from engine.config.loading import load_or_report
    from engine.ops.client import OpsClient
    from engine.ops.errors import OpsError, TokenFileError
    from engine.ops.token import read_token

    config = load_or_report(load_engine_config, args.config, "ops")
    if config is None:
        return EXIT_REFUSED
    if config.ops.port is None:
        return _fail(f"ops.port is not set in {args.config}: the engine serves no operator channel", EXIT_REFUSED)
    token_path = config.ops_token_file
    try:
        token = read_token(token_path)
    except TokenFileError as error:
        return _fail(str(error), EXIT_REFUSED)
    command, request = request_of(args)
    client = OpsClient(config.ops.host, config.ops.port, token, operator=args.operator, timeout=args.timeout,
                       token_path=token_path)
    try:
        result = client.call(command, request)
    except OpsError as error:
        return _fail(str(error), EXIT_REFUSED if error.refused else EXIT_UNREACHABLE)
    print(_printed(command, result, as_json=args.json))
    return EXIT_OK


def _printed(command: str, result, *, as_json: bool) -> str:
    from engine.ops.render import render_limits, render_message, render_status

    if as_json:
        return json.dumps(result, indent=2)
    if command == "status" and isinstance(result, dict):
        return render_status(result)
    if command == "limits_show" and isinstance(result, dict):
        return render_limits(result)
    return render_message(result)


def _add_common(parser: argparse.ArgumentParser, *, inner: bool) -> None:
    def default(value):
        return argparse.SUPPRESS if inner else value

    parser.add_argument("--config", default=default("config/engine.yaml"),
                        help="the running engine's config: its ops.port, ops.host and token file "
                             "(default: config/engine.yaml)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print the engine's answer as JSON instead of text")
    parser.add_argument("--operator", default=default(None),
                        help="who you are, journaled with each command (default: your login name)")
    parser.add_argument("--timeout", type=float, default=default(15.0), metavar="S",
                        help="give up after S seconds without an answer (default 15)")


def _add_scope(parser: argparse.ArgumentParser, verb: str) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--session", metavar="S", help=f"{verb} this trader session only (default: everything)")
    scope.add_argument("--symbol", metavar="X", help=f"{verb} this symbol only")
    scope.add_argument("--venue", metavar="V", help=f"{verb} this venue only")


def _scope_of(args: argparse.Namespace) -> tuple[str, str | None]:
    for scope in SCOPES:
        key = getattr(args, scope, None)
        if key is not None:
            return scope, key
    return "global", None


def _fail(message: str, status: int) -> int:
    print(f"dark-agg ops: {message}", file=sys.stderr)
    return status
