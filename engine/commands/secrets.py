"""``dark-agg secrets``: manage the FIX logon secrets file without ever showing a secret.

    dark-agg secrets add-trader TRADER1 [--username trader1] [--secrets-file PATH] [--password-stdin]
    dark-agg secrets add-venue V1 [V2 ...] --username U [--secrets-file PATH] [--password-stdin]
    dark-agg secrets check [--secrets-file PATH | --config config/engine.yaml]
    dark-agg secrets make-certificates DIR [--days 30]

``add-trader`` stores a salted scrypt hash of the trader's password (asked twice on the terminal,
or one line from stdin for scripts) and keeps every other entry; ``add-venue`` stores the
Username/Password we send venues on our Logon (as given: we must send it); ``check`` loads the file and the
``DARKAGG_*`` variables exactly as the engine does and lists whose credentials they hold. The file
is the one ``--secrets-file`` names, else the engine config's ``fix.secrets_file``.
``make-certificates`` writes a throwaway CA and the certificates the secure configs name, to try
them on one machine (production uses the desk's own CA). Exit 0
when done, 2 on any problem (on stderr). Neither prints a password or a hash.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED = 0, 2


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add-trader", help="add or replace a trader's hashed password",
                             description="Add or replace a trader's Username/Password (553/554) in the "
                                         "secrets file; the password is stored as a salted scrypt hash.")
    add.add_argument("comp_id", metavar="COMPID", help="the trader's CompID (a fix.trader.sessions entry)")
    add.add_argument("--username", default=None, help="the Username (553) it sends (default: COMPID lowercased)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from one line of stdin instead of asking twice")
    _source_options(add)
    venue = actions.add_parser("add-venue", help="add or replace the credentials we send venues",
                               description="Add or replace the Username/Password (553/554) the engine sends "
                                           "on its Logon to each named venue (one password for all named).")
    venue.add_argument("venues", metavar="VENUE", nargs="+", help="venue names (entries of the config's venues:)")
    venue.add_argument("--username", required=True, help="the Username (553) the venue gave us")
    venue.add_argument("--password-stdin", action="store_true",
                       help="read the password from one line of stdin instead of asking twice")
    _source_options(venue)
    certificates = actions.add_parser(
        "make-certificates", help="write a throwaway CA and certificates for the secure configs",
        description="Write ca.pem and the engine's (engine, engine-client), the venues' (venue) and a "
                    "trader's (trader) certificates and keys (keys mode 0600) into DIRECTORY, as "
                    "config/engine.secure.yaml and config/sim_venues.secure.yaml name them. For trying "
                    "TLS on one machine only: production certificates come from the desk's own CA.")
    certificates.add_argument("directory", metavar="DIRECTORY", type=Path,
                              help="where to write them (e.g. out/secure/tls); existing files are replaced")
    certificates.add_argument("--days", type=float, default=30.0, help="validity in days (default: %(default)s)")
    check = actions.add_parser("check", help="load the secrets as the engine does and list whose they hold",
                               description="Load the secrets file and DARKAGG_* variables and list the "
                                           "trader CompIDs and venues they hold (never a secret).")
    _source_options(check)


def _source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--secrets-file", type=Path, default=None, help="the secrets file (mode 0600)")
    source.add_argument("--config", type=Path, default=Path("config/engine.yaml"),
                        help="engine config naming it in fix.secrets_file (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from engine.security import SecretsError

    try:
        actions = {"add-trader": _add_trader, "add-venue": _add_venue, "check": _check,
                   "make-certificates": _make_certificates}
        return actions[args.action](args)
    except SecretsError as error:
        return _fail(str(error))


def _add_trader(args: argparse.Namespace) -> int:
    from engine.security import write_trader

    path, _config = _secrets_path(args)
    if path is None:
        return EXIT_FAILED
    password = _password_from_stdin() if args.password_stdin else _password_from_terminal(args.comp_id)
    if password is None:
        return EXIT_FAILED
    username = args.username if args.username is not None else args.comp_id.lower()
    replaced = write_trader(path, args.comp_id, username, password)
    print(f"replaced {args.comp_id} in {path}" if replaced else f"added {args.comp_id} to {path}")
    return EXIT_OK


def _add_venue(args: argparse.Namespace) -> int:
    from engine.security import write_venue

    path, config = _secrets_path(args)
    if path is None:
        return EXIT_FAILED
    if config is not None:  # a name the engine does not know would never be sent: say so now
        unknown = sorted(set(args.venues) - {v.name for v in config.venues})
        if unknown:
            return _fail(f"not venues of {args.config}: {', '.join(unknown)}")
    password = _password_from_stdin() if args.password_stdin else _password_from_terminal(" ".join(args.venues))
    if password is None:
        return EXIT_FAILED
    for name in args.venues:
        replaced = write_venue(path, name, args.username, password)
        print(f"replaced {name} in {path}" if replaced else f"added {name} to {path}")
    return EXIT_OK


def _make_certificates(args: argparse.Namespace) -> int:
    from engine.security.certificates import write_trial_certificates

    if args.days <= 0:
        return _fail("--days must be positive")
    try:
        written = write_trial_certificates(args.directory, days=args.days)
    except OSError as error:
        return _fail(f"could not write to {args.directory}: {error.strerror or error}")
    print(f"wrote {', '.join(sorted(written))} to {args.directory} (valid {args.days:g} days; "
          "throwaway: not for production)")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from engine.security import SecretStore

    path, config = _secrets_path(args, required=False)
    if path is None and config is None:
        return EXIT_FAILED  # the config itself could not be loaded (already reported)
    store = SecretStore.load(path, os.environ)
    traders, venues = sorted(store.trader_ids()), sorted(store.venue_names())
    print(f"{path if path is not None else '(no secrets file)'}: ok, from {store.source}")
    print(f"traders ({len(traders)}): {', '.join(traders) or 'none'}")
    print(f"venues ({len(venues)}): {', '.join(venues) or 'none'}")
    if config is not None:  # sessions the engine serves whose logons would all be refused
        lacking = [comp_id for comp_id in config.fix.trader.sessions if not store.has_trader(comp_id)]
        if lacking:
            print(f"note: no credential for trader session(s) {', '.join(lacking)} of {args.config}")
    return EXIT_OK


def _secrets_path(args: argparse.Namespace, *, required: bool = True) -> tuple[Path | None, object | None]:
    """(the secrets file, the engine config if it was read); (None, None) after reporting a problem."""
    if args.secrets_file is not None:
        return args.secrets_file, None
    from engine.config import load_engine_config
    from engine.config.loading import load_or_report

    config = load_or_report(load_engine_config, args.config, "secrets")
    if config is None:
        return None, None
    configured = config.fix.secrets_file
    if configured is None:
        if required:
            _fail(f"no secrets file: pass --secrets-file PATH or set fix.secrets_file in {args.config}")
        return None, config
    return Path(configured), config  # FilePath: already resolved against the config's directory


def _password_from_stdin() -> str | None:
    line = sys.stdin.readline()
    if not line:
        _fail("--password-stdin: stdin is empty; pipe the password as one line")
        return None
    return line.rstrip("\r\n")


def _password_from_terminal(comp_id: str) -> str | None:
    first = getpass.getpass(f"Password for {comp_id}: ")
    if getpass.getpass("Again: ") != first:
        _fail("the two passwords do not match; nothing written")
        return None
    return first


def _fail(message: str) -> int:
    print(f"dark-agg secrets: {message}", file=sys.stderr)
    return EXIT_FAILED
