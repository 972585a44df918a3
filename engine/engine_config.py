"""Engine configuration (`dark-agg run --config config/engine.yaml`): YAML -> frozen, validated
dataclasses, checked once at load. Unknown keys are errors; every error names the key, the value
and what was expected. Relative paths are resolved against the config file's directory.

Venue rules (lot size, minimum and maximum order size) come from the market file by venue name and
may be overridden per venue here; the market file also gives the range of order sizes the
allocation grid covers. Its liquidity numbers are not used by the engine, which learns its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.allocation.profiles import MarketProfile, VenueProfile
from engine.allocation.registry import POLICY_NAMES
from engine.config import ConfigError, load_market, read_yaml_document
from engine.config_fields import (check_keys, choice, expect, flag, mapping, number, path_field, text,
                                  whole)

STORES = ("memory", "file")
LOG_FORMATS = ("auto", "console", "json")


@dataclass(frozen=True, kw_only=True)
class VenueSessionPolicy:
    """How a venue keeps its FIX session: that venue's rule, so it is configured per venue.

    ``memory`` with every reset (the default, the sim venues' default): each logon starts at
    sequence 1 and open children are reconciled with OrderStatusRequest after a reconnect.
    ``file`` with the resets off: sequence numbers and sent messages survive reconnects and
    restarts, so a venue that resends what we missed (ResendRequest, PossDup) is handled by QuickFIX
    itself; ``reset_time`` (UTC, HH:MM:SS) is then the venue's daily reset (a 24-hour session from
    that time to the same time the next day), None for a session that never resets."""

    store: str = "memory"
    reset_on_logon: bool = True
    reset_on_logout: bool = True
    reset_on_disconnect: bool = True
    reset_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class VenueSessionConfig:
    name: str
    host: str
    port: int
    sender_comp_id: str   # ours
    target_comp_id: str   # the venue's
    enabled: bool = True
    min_qty: int | None = None  # MinQty (110) on every child; capped at the child's quantity
    profile: VenueProfile       # rules: lot_size, min_order_size, max_order_size
    session: VenueSessionPolicy = field(default_factory=VenueSessionPolicy)


@dataclass(frozen=True, kw_only=True)
class TraderSessionConfig:
    comp_id: str  # the trader's CompID (TargetCompID of our session)


@dataclass(frozen=True, kw_only=True)
class FixConfig:
    data_dictionary: Path
    heartbeat_seconds: int = 30
    reconnect_seconds: int = 1
    message_log: Path | None = None
    trader_port: int
    trader_host: str = "127.0.0.1"  # where `dark-agg order` connects
    trader_sender_comp_id: str      # ours towards traders
    trader_sessions: tuple[TraderSessionConfig, ...]
    trader_store: str = "file"      # traders must not lose reports across a restart
    store_path: Path | None = None  # file stores live here


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    deadline_ms: float = 250.0   # give up on a child's final report after this
    interval_ms: float = 20.0    # wait between two sweeps of one parent
    cancel_retry_ms: float = 500.0
    max_in_flight: int = 4       # sweeps in flight at once, across parents
    max_interval_ms: float = 1000.0  # the interval doubles after each empty sweep, up to this
    reject_bench_ms: float = 30000.0  # a venue rejecting 5 children in a row sits out this long
    resolve_wait_ms: float = 2000.0   # a parent's final report waits this long for withdrawn children


@dataclass(frozen=True, kw_only=True)
class WeightsConfig:
    min_symbol_history: int = 200  # sweeps of a symbol before it uses its own weights
    snapshot_seconds: float = 10.0  # the live weights are journaled this often when they changed (and at stop)
    keep_snapshots: int = 60        # newest snapshots kept per key (older ones are deleted)


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    path: Path
    market: MarketProfile
    policy: str = "expgrad"
    seed: int = 0
    symbols: tuple[str, ...]
    journal: Path
    log_format: str = "auto"
    log_level: str = "info"
    sweep: SweepConfig = field(default_factory=SweepConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    fix: FixConfig
    venues: tuple[VenueSessionConfig, ...]

    def venue(self, name: str) -> VenueSessionConfig:
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise ConfigError(f"no venue named {name!r}; configured: {[v.name for v in self.venues]}")

    def with_changes(self, **changes: Any) -> "EngineConfig":
        return dataclasses.replace(self, **changes)


_TOP_KEYS = {"market", "policy", "seed", "symbols", "journal", "log_format", "log_level", "sweep",
             "weights", "fix", "venue_defaults", "venues"}
_VENUE_KEYS = {"name", "host", "port", "sender_comp_id", "target_comp_id", "enabled", "min_qty", "lot_size",
               "min_order_size", "max_order_size", "session"}
_SESSION_KEYS = {"store", "reset_on_logon", "reset_on_logout", "reset_on_disconnect", "reset_time"}
_FIX_KEYS = {"data_dictionary", "heartbeat_seconds", "reconnect_seconds", "message_log", "trader",
             "store_path"}
_TRADER_KEYS = {"port", "host", "sender_comp_id", "sessions", "store"}


def load_engine_config(path: str | Path) -> EngineConfig:
    path = Path(path).resolve()
    document = read_yaml_document(path, "engine config")
    try:
        return engine_config_from_dict(document, base_dir=path.parent, path=path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def engine_config_from_dict(document: Any, *, base_dir: Path, path: Path | None = None) -> EngineConfig:
    document = mapping(document, "engine config")
    check_keys(document, _TOP_KEYS, {"market", "symbols", "journal", "fix", "venues"}, "engine config")
    market = load_market(path_field(document["market"], base_dir, "market"))
    policy = choice(document.get("policy", "expgrad"), "policy", tuple(n for n in POLICY_NAMES if n != "oracle"))
    symbols = document["symbols"]
    expect(isinstance(symbols, list) and symbols and all(isinstance(s, str) and s for s in symbols),
           "symbols", symbols, "a non-empty list of symbols")
    defaults = mapping(document.get("venue_defaults", {}), "venue_defaults")
    entries = document["venues"]
    expect(isinstance(entries, list) and entries, "venues", entries, "a non-empty list of venues")
    venues = tuple(_venue({**defaults, **mapping(entry, f"venues[{i}]")}, i, market) for i, entry in enumerate(entries))
    names = [v.name for v in venues]
    expect(len(set(names)) == len(names), "venues", names, "distinct venue names")
    fix = _fix(document["fix"], base_dir)
    for index, venue in enumerate(venues):
        expect(venue.session.store != "file" or fix.store_path is not None, f"venues[{index}].session.store",
               "file", "fix.store_path set (the venue file stores live under it)")
    return EngineConfig(
        path=path or base_dir / "engine.yaml",
        market=market,
        policy=policy,
        seed=whole(document.get("seed", 0), "seed", minimum=0),
        symbols=tuple(symbols),
        journal=path_field(document["journal"], base_dir, "journal"),
        log_format=choice(document.get("log_format", "auto"), "log_format", LOG_FORMATS),
        log_level=choice(document.get("log_level", "info"), "log_level", ("debug", "info", "warning", "error")),
        sweep=_sweep(document.get("sweep", {})),
        weights=_weights(document.get("weights", {})),
        fix=fix,
        venues=venues,
    )


def _venue(entry: dict, index: int, market: MarketProfile) -> VenueSessionConfig:
    where = f"venues[{index}]"
    check_keys(entry, _VENUE_KEYS, {"name", "port", "sender_comp_id", "target_comp_id"}, where)
    name = text(entry["name"], f"{where}.name")
    profile = next((v for v in market.venues if v.name == name), None)
    expect(profile is not None, f"{where}.name", name, f"a venue of the market file ({[v.name for v in market.venues]})")
    rules = {key: whole(entry[key], f"{where}.{key}", minimum=1) for key in ("lot_size", "min_order_size", "max_order_size")
             if entry.get(key) is not None}
    min_qty = entry.get("min_qty")
    return VenueSessionConfig(
        name=name, host=text(entry.get("host", "127.0.0.1"), f"{where}.host"),
        port=whole(entry["port"], f"{where}.port", minimum=1, maximum=65535),
        sender_comp_id=text(entry["sender_comp_id"], f"{where}.sender_comp_id"),
        target_comp_id=text(entry["target_comp_id"], f"{where}.target_comp_id"),
        enabled=flag(entry.get("enabled", True), f"{where}.enabled"),
        min_qty=None if min_qty is None else whole(min_qty, f"{where}.min_qty", minimum=1),
        profile=dataclasses.replace(profile, **rules) if rules else profile,
        session=session_policy(entry.get("session", {}), f"{where}.session"))


def session_policy(entry: Any, where: str, store: str | None = None) -> VenueSessionPolicy:
    """A ``session:`` mapping. ``store`` given (the sim venues, whose store is the host's): the
    mapping may not name one, and the resets default from it."""
    entry = mapping(entry, where)
    check_keys(entry, _SESSION_KEYS - ({"store"} if store is not None else set()), set(), where)
    store = store or choice(entry.get("store", "memory"), f"{where}.store", STORES)
    resets = {key: flag(entry.get(key, store == "memory"), f"{where}.{key}")
              for key in ("reset_on_logon", "reset_on_logout", "reset_on_disconnect")}
    reset_time = entry.get("reset_time")
    if reset_time is not None:
        expect(isinstance(reset_time, str) and _is_time_of_day(reset_time), f"{where}.reset_time", reset_time,
               "a UTC time of day as HH:MM:SS (quoted in YAML)")
    return VenueSessionPolicy(store=store, reset_time=reset_time, **resets)


def _is_time_of_day(text: str) -> bool:
    parts = text.split(":")
    return (len(parts) == 3 and all(len(p) == 2 and p.isdigit() for p in parts)
            and int(parts[0]) < 24 and int(parts[1]) < 60 and int(parts[2]) < 60)


def _sweep(entry: Any) -> SweepConfig:
    entry = mapping(entry, "sweep")
    check_keys(entry, {"deadline_ms", "interval_ms", "cancel_retry_ms", "max_in_flight", "max_interval_ms",
                       "reject_bench_ms", "resolve_wait_ms"}, set(),
               "sweep")
    values = {key: number(value, f"sweep.{key}", positive=key != "interval_ms") for key, value in entry.items()
              if key != "max_in_flight"}
    if "max_in_flight" in entry:
        values["max_in_flight"] = whole(entry["max_in_flight"], "sweep.max_in_flight", minimum=1)
    return SweepConfig(**values)


def _weights(entry: Any) -> WeightsConfig:
    entry = mapping(entry, "weights")
    check_keys(entry, {"min_symbol_history", "snapshot_seconds", "keep_snapshots"}, set(), "weights")
    return WeightsConfig(**{key: number(value, f"weights.{key}", positive=True) if key == "snapshot_seconds"
                            else whole(value, f"weights.{key}", minimum=1) for key, value in entry.items()})


def _fix(entry: Any, base_dir: Path) -> FixConfig:
    entry = mapping(entry, "fix")
    check_keys(entry, _FIX_KEYS, {"trader"}, "fix")
    trader = mapping(entry["trader"], "fix.trader")
    check_keys(trader, _TRADER_KEYS, {"port", "sender_comp_id", "sessions"}, "fix.trader")
    sessions = trader["sessions"]
    expect(isinstance(sessions, list) and sessions and all(isinstance(s, str) and s for s in sessions),
           "fix.trader.sessions", sessions, "a non-empty list of trader CompIDs")
    store = choice(trader.get("store", "file"), "fix.trader.store", STORES)
    store_path = entry.get("store_path")
    expect(store != "file" or store_path is not None, "fix.store_path", store_path, "a directory for the file store")
    dictionary = entry.get("data_dictionary", str(Path(__file__).resolve().parents[1] / "fix_specs" / "FIX44.xml"))
    message_log = entry.get("message_log")
    return FixConfig(
        data_dictionary=path_field(dictionary, base_dir, "fix.data_dictionary"),
        heartbeat_seconds=whole(entry.get("heartbeat_seconds", 30), "fix.heartbeat_seconds", minimum=1),
        reconnect_seconds=whole(entry.get("reconnect_seconds", 1), "fix.reconnect_seconds", minimum=1),
        message_log=None if message_log is None else path_field(message_log, base_dir, "fix.message_log"),
        trader_port=whole(trader["port"], "fix.trader.port", minimum=1, maximum=65535),
        trader_host=text(trader.get("host", "127.0.0.1"), "fix.trader.host"),
        trader_sender_comp_id=text(trader["sender_comp_id"], "fix.trader.sender_comp_id"),
        trader_sessions=tuple(TraderSessionConfig(comp_id=s) for s in sessions),
        trader_store=store,
        store_path=None if store_path is None else path_field(store_path, base_dir, "fix.store_path"))
