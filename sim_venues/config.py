"""Simulated-venue configuration: YAML -> frozen, validated dataclasses, checked once at load.

Unknown keys are errors and every error names the key, the value and what was expected. Relative
paths are resolved against the directory of the config file (never the working directory, so
`dark-agg venues` behaves the same from anywhere). Each venue's liquidity profile and order rules
(lot, minimum and maximum order size) come from the market file by venue name; this file adds the
FIX session (port, CompIDs), accepted times in force, latency, report style, liquidity mode and
faults. A ``venue_defaults`` mapping is merged under every venue entry to avoid repetition.

    market: markets/lse.yaml
    seed: 7
    ground_truth_log: ../out/venues/ground_truth.jsonl
    symbols:
      VOD.L: {reference_price: 25.0, tick: 0.01, walk_step_probability: 0.2}
    venue_defaults: {target_comp_id: DARKAGG, latency: {fixed_ms: 0, jitter_ms: 0}}
    venues:
      - {name: V1, port: 9101, sender_comp_id: V1}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.allocation.profiles import MarketProfile, VenueProfile
from engine.config import ConfigError, load_market, read_yaml_document
from engine.engine_config import VenueSessionPolicy, session_policy
from engine.config_fields import (check_keys as _check_keys, expect as _expect, flag as _flag, mapping as _mapping,
                                  number as _number, path_field as _path, whole as _whole)

TIME_IN_FORCE_CODES = {"DAY": "0", "IOC": "3"}  # FIX 59 values this simulator can honour
REPORT_STYLES = ("fill_then_cancel", "single_final")
LIQUIDITY_MODES = ("iid", "book")
STORES = ("memory", "file")
ACCEPTORS = ("single_thread", "thread_per_connection")


@dataclass(frozen=True, kw_only=True)
class SymbolConfig:
    symbol: str
    reference_price: float
    tick: float
    # Before each order a venue sees for the symbol, its midpoint moves one tick up or down with this
    # probability: a random walk driven by the venue's own seeded generator and its own order flow,
    # so it is reproducible and unaffected by traffic to other venues.
    walk_step_probability: float = 0.0
    market: MarketProfile | None = None  # per-symbol liquidity (else the host's market)


@dataclass(frozen=True, kw_only=True)
class LatencyConfig:
    fixed_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform in [0, jitter_ms), one draw per order

    @property
    def is_zero(self) -> bool:
        return self.fixed_ms == 0.0 and self.jitter_ms == 0.0


@dataclass(frozen=True, kw_only=True)
class ReportFault:
    """Applies to every ``every``-th ExecutionReport whose ExecType is in ``exec_types``."""

    every: int = 0  # 0: off
    exec_types: tuple[str, ...] = ("0", "F", "4")
    seconds: float = 0.0  # only for delays: how late the report goes out


@dataclass(frozen=True, kw_only=True)
class FaultConfig:
    refuse_logon: bool = False
    disconnect_after_orders: int | None = None  # drop the connection once this many orders were handled
    disconnect_every_orders: int | None = None  # ... and again after every further this many orders
    disconnect_after_seconds: float | None = None  # ... or this long after the first logon
    drop_reports: ReportFault = ReportFault()
    delay_reports: ReportFault = ReportFault()
    duplicate_reports: ReportFault = ReportFault()


@dataclass(frozen=True, kw_only=True)
class BookConfig:
    capacity: int  # hidden shares per symbol and side when full
    replenish_per_second: float  # shares added per second up to capacity
    initial: int | None = None  # starting level (default: capacity)


@dataclass(frozen=True, kw_only=True)
class VenueConfig:
    name: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    profile: VenueProfile  # liquidity + lot/min/max rules, from the market file
    symbol_profiles: dict[str, VenueProfile] = field(default_factory=dict)  # per-symbol overrides
    time_in_force: tuple[str, ...] = ("IOC", "DAY")
    report_style: str = "fill_then_cancel"
    ack_new: bool = True  # send ExecType New before the outcome (some venues only send the outcome)
    mode: str = "iid"
    book: BookConfig | None = None
    latency: LatencyConfig = LatencyConfig()
    faults: FaultConfig = FaultConfig()
    # the FIX session's resets and daily reset time (the store is the host's): what a real venue
    # decides for its sessions, so the engine's policy for it can be tested against the real thing
    session: VenueSessionPolicy = field(default_factory=VenueSessionPolicy)

    def profile_for(self, symbol: str) -> VenueProfile:
        return self.symbol_profiles.get(symbol, self.profile)


@dataclass(frozen=True, kw_only=True)
class HostConfig:
    market: MarketProfile
    seed: int
    symbols: dict[str, SymbolConfig]
    venues: tuple[VenueConfig, ...]
    data_dictionary: Path
    ground_truth_log: Path | None = None
    store: str = "memory"
    store_path: Path | None = None
    acceptor: str = "single_thread"
    # QuickFIX 1.16 binds acceptor ports on every interface (it has no SocketAcceptHost); logons from
    # other addresses are refused at the session level instead.
    allowed_remote_addresses: tuple[str, ...] = ("127.0.0.1",)
    check_latency: bool = False
    max_latency_seconds: int = 120
    log_fix_messages: Path | None = None  # QuickFIX FileLog directory; None keeps no message log
    history_limit: int = 200_000  # finished orders remembered per venue (duplicates, late cancels)

    def venue(self, name: str) -> VenueConfig:
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise KeyError(name)

    def with_venue(self, name: str, **changes: Any) -> "HostConfig":
        venues = tuple(replace(v, **changes) if v.name == name else v for v in self.venues)
        return replace(self, venues=venues)


_PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DICTIONARY = _PROJECT_ROOT / "fix_specs" / "FIX44.xml"

_HOST_KEYS = {"market", "seed", "symbols", "venues", "venue_defaults", "data_dictionary",
              "ground_truth_log", "store", "store_path", "acceptor", "allowed_remote_addresses", "check_latency",
              "max_latency_seconds", "log_fix_messages", "history_limit"}
_SYMBOL_KEYS = {"reference_price", "tick", "walk_step_probability", "market"}
_VENUE_KEYS = {"name", "port", "sender_comp_id", "target_comp_id", "time_in_force", "report_style",
               "ack_new", "mode", "book", "latency", "faults", "session"}
_FAULT_KEYS = {"refuse_logon", "disconnect_after_orders", "disconnect_every_orders", "disconnect_after_seconds",
               "drop_reports",
               "delay_reports", "duplicate_reports"}


def load_config(path: str | Path) -> HostConfig:
    path = Path(path)
    document = read_yaml_document(path, "venue config file")
    try:
        return config_from_dict(document, base_dir=path.resolve().parent)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_from_dict(document: Any, *, base_dir: Path, market: MarketProfile | None = None) -> HostConfig:
    """Build a HostConfig; ``market`` lets tests pass a profile built in code instead of a file."""
    _expect(isinstance(document, dict), "top level", document, "a mapping")
    _check_keys(document, _HOST_KEYS, {"symbols", "venues"} | (set() if market else {"market"}), "config")
    if market is None:
        market = load_market(_path(document["market"], base_dir))
    symbols = _mapping(document["symbols"], "symbols")
    _expect(len(symbols) > 0, "symbols", symbols, "at least one symbol")
    symbol_configs = {str(name): _symbol(str(name), entry, market, base_dir) for name, entry in symbols.items()}
    defaults = _mapping(document.get("venue_defaults", {}), "venue_defaults")
    _check_keys(defaults, _VENUE_KEYS - {"name", "port"}, set(), "venue_defaults")
    entries = document["venues"]
    _expect(isinstance(entries, list) and len(entries) > 0, "venues", entries, "a non-empty list")
    store = document.get("store", "memory")
    _expect(store in STORES, "store", store, f"one of {STORES}")
    venues = tuple(_venue({**defaults, **_mapping(entry, f"venues[{i}]")}, i, market, symbol_configs, store)
                   for i, entry in enumerate(entries))
    for key in ("name", "port"):
        values = [getattr(v, key) for v in venues]
        _expect(len(set(values)) == len(values), f"venues.{key}", values, "unique values")
    sessions = [(v.sender_comp_id, v.target_comp_id) for v in venues]
    _expect(len(set(sessions)) == len(sessions), "venues.comp_ids", sessions, "a unique pair per venue")
    store_path = document.get("store_path")
    _expect(store != "file" or store_path is not None, "store_path", store_path,
            "a directory when store is file")
    acceptor = document.get("acceptor", "single_thread")
    _expect(acceptor in ACCEPTORS, "acceptor", acceptor, f"one of {ACCEPTORS}")
    optional_path = lambda key: _path(document[key], base_dir) if document.get(key) is not None else None
    return HostConfig(
        market=market,
        seed=_whole(document.get("seed", 0), "seed", minimum=0),
        symbols=symbol_configs,
        venues=venues,
        data_dictionary=optional_path("data_dictionary") or DEFAULT_DATA_DICTIONARY,
        ground_truth_log=optional_path("ground_truth_log"),
        store=store,
        store_path=optional_path("store_path"),
        acceptor=acceptor,
        allowed_remote_addresses=_addresses(document.get("allowed_remote_addresses", ["127.0.0.1"])),
        check_latency=_flag(document.get("check_latency", False), "check_latency"),
        max_latency_seconds=_whole(document.get("max_latency_seconds", 120), "max_latency_seconds", minimum=1),
        log_fix_messages=optional_path("log_fix_messages"),
        history_limit=_whole(document.get("history_limit", 200_000), "history_limit", minimum=1),
    )


def _symbol(name: str, entry: Any, market: MarketProfile, base_dir: Path) -> SymbolConfig:
    where = f"symbols.{name}"
    entry = _mapping(entry, where)
    _check_keys(entry, _SYMBOL_KEYS, {"tick"}, where)
    symbol_market = load_market(_path(entry["market"], base_dir)) if "market" in entry else None
    reference = _number(entry.get("reference_price", (symbol_market or market).reference_price),
                        f"{where}.reference_price", positive=True)
    tick = _number(entry["tick"], f"{where}.tick", positive=True)
    step = _number(entry.get("walk_step_probability", 0.0), f"{where}.walk_step_probability")
    _expect(0.0 <= step <= 1.0, f"{where}.walk_step_probability", step, "a probability in [0, 1]")
    _expect(reference >= tick, f"{where}.reference_price", reference, f"at least one tick ({tick})")
    return SymbolConfig(symbol=name, reference_price=reference, tick=tick, walk_step_probability=step,
                        market=symbol_market)


def _venue(entry: dict, index: int, market: MarketProfile, symbols: dict[str, SymbolConfig],
           store: str) -> VenueConfig:
    where = f"venues[{index}]"
    _check_keys(entry, _VENUE_KEYS, {"name", "port", "sender_comp_id", "target_comp_id"}, where)
    name = str(entry["name"])
    where = f"venues[{index}] ({name})"
    profiles = {v.name: v for v in market.venues}
    _expect(name in profiles, f"{where}.name", name, f"a venue of market {market.name!r}: {sorted(profiles)}")
    symbol_profiles = {}
    for symbol in symbols.values():
        if symbol.market is not None:
            own = {v.name: v for v in symbol.market.venues}
            _expect(name in own, f"symbols.{symbol.symbol}.market", symbol.market.name,
                    f"a market with venue {name!r}")
            symbol_profiles[symbol.symbol] = own[name]
    tifs = entry.get("time_in_force", ["IOC", "DAY"])
    _expect(isinstance(tifs, list) and tifs and all(t in TIME_IN_FORCE_CODES for t in tifs),
            f"{where}.time_in_force", tifs, f"a non-empty list drawn from {sorted(TIME_IN_FORCE_CODES)}")
    style = entry.get("report_style", "fill_then_cancel")
    _expect(style in REPORT_STYLES, f"{where}.report_style", style, f"one of {REPORT_STYLES}")
    mode = entry.get("mode", "iid")
    _expect(mode in LIQUIDITY_MODES, f"{where}.mode", mode, f"one of {LIQUIDITY_MODES}")
    book = _book(entry["book"], f"{where}.book") if entry.get("book") is not None else None
    _expect(mode != "book" or book is not None, f"{where}.book", None, "a book section when mode is book")
    for key in ("sender_comp_id", "target_comp_id"):
        value = entry[key]
        _expect(isinstance(value, str) and value and "|" not in value and " " not in value,
                f"{where}.{key}", value, "a non-empty CompID without spaces")
    return VenueConfig(
        name=name,
        port=_whole(entry["port"], f"{where}.port", minimum=1, maximum=65535),
        sender_comp_id=entry["sender_comp_id"],
        target_comp_id=entry["target_comp_id"],
        profile=profiles[name],
        symbol_profiles=symbol_profiles,
        time_in_force=tuple(tifs),
        report_style=style,
        ack_new=_flag(entry.get("ack_new", True), f"{where}.ack_new"),
        mode=mode,
        book=book,
        latency=_latency(entry.get("latency", {}), f"{where}.latency"),
        faults=faults_from_dict(entry.get("faults", {}), f"{where}.faults"),
        session=session_policy(entry.get("session", {}), f"{where}.session", store),
    )


def _book(entry: Any, where: str) -> BookConfig:
    entry = _mapping(entry, where)
    _check_keys(entry, {"capacity", "replenish_per_second", "initial"}, {"capacity", "replenish_per_second"}, where)
    capacity = _whole(entry["capacity"], f"{where}.capacity", minimum=1)
    initial = entry.get("initial")
    return BookConfig(
        capacity=capacity,
        replenish_per_second=_number(entry["replenish_per_second"], f"{where}.replenish_per_second"),
        initial=None if initial is None else _whole(initial, f"{where}.initial", minimum=0, maximum=capacity),
    )


def _latency(entry: Any, where: str) -> LatencyConfig:
    entry = _mapping(entry, where)
    _check_keys(entry, {"fixed_ms", "jitter_ms"}, set(), where)
    return LatencyConfig(fixed_ms=_number(entry.get("fixed_ms", 0.0), f"{where}.fixed_ms"),
                         jitter_ms=_number(entry.get("jitter_ms", 0.0), f"{where}.jitter_ms"))


def faults_from_dict(entry: Any, where: str = "faults") -> FaultConfig:
    """Also used by tests and the host to change a venue's faults while it runs."""
    entry = _mapping(entry, where)
    _check_keys(entry, _FAULT_KEYS, set(), where)
    after_orders = entry.get("disconnect_after_orders")
    every_orders = entry.get("disconnect_every_orders")
    after_seconds = entry.get("disconnect_after_seconds")
    return FaultConfig(
        refuse_logon=_flag(entry.get("refuse_logon", False), f"{where}.refuse_logon"),
        disconnect_after_orders=None if after_orders is None else _whole(
            after_orders, f"{where}.disconnect_after_orders", minimum=1),
        disconnect_every_orders=None if every_orders is None else _whole(
            every_orders, f"{where}.disconnect_every_orders", minimum=1),
        disconnect_after_seconds=None if after_seconds is None else _number(
            after_seconds, f"{where}.disconnect_after_seconds"),
        drop_reports=_report_fault(entry.get("drop_reports", {}), f"{where}.drop_reports", False),
        delay_reports=_report_fault(entry.get("delay_reports", {}), f"{where}.delay_reports", True),
        duplicate_reports=_report_fault(entry.get("duplicate_reports", {}), f"{where}.duplicate_reports", False),
    )


def _report_fault(entry: Any, where: str, has_delay: bool) -> ReportFault:
    entry = _mapping(entry, where)
    _check_keys(entry, {"every", "exec_types"} | ({"seconds"} if has_delay else set()), set(), where)
    exec_types = entry.get("exec_types", ["0", "F", "4"])
    exec_types = [str(t) for t in exec_types] if isinstance(exec_types, list) else exec_types
    _expect(isinstance(exec_types, list) and all(t in {"0", "F", "4", "8", "I"} for t in exec_types),
            f"{where}.exec_types", exec_types, "a list of ExecType values among 0, F, 4, 8, I")
    return ReportFault(every=_whole(entry.get("every", 0), f"{where}.every", minimum=0),
                       exec_types=tuple(exec_types),
                       seconds=_number(entry.get("seconds", 0.0), f"{where}.seconds"))


def _addresses(value: Any) -> tuple[str, ...]:
    _expect(isinstance(value, list) and all(isinstance(v, str) and v for v in value),
            "allowed_remote_addresses", value, "a list of IP addresses (empty: accept any)")
    return tuple(value)
