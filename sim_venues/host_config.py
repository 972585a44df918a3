"""Simulated-venue configuration (`dark-agg venues --config config/sim_venues.yaml`), declared once
with the engine's field types and loading (engine.config), so its errors read the same.

Each venue's liquidity profile and order rules (lot, minimum and maximum order size) come from the
market file by venue name; this file adds the FIX session (port, CompIDs), accepted times in force,
latency, report style, liquidity mode and faults. ``venue_defaults`` is merged under every venue.
Session security (config/sim_venues.secure.yaml) is the host's ``tls`` and ``secrets_file`` and a
venue's ``require_credentials``, so the engine's venue credentials and TLS meet a venue that checks them.
Prices are one primary market per symbol shared by every venue (:mod:`sim_venues.market`): the
symbol's ``volatility_bps_per_sqrt_second`` walk, stepped every ``market_step_seconds``, plus the
informed moves of toxic venues (the market file's ``toxicity``); ``market_data`` publishes it over FIX.

    market: markets/lse.yaml
    seed: 7
    ground_truth_log: ../out/venues/ground_truth.jsonl
    symbols:
      VOD.L: {reference_price: 25.0, tick: 0.01, volatility_bps_per_sqrt_second: 2.0}
    market_data: {port: 9113, sender_comp_id: MD, target_comp_id: DARKAGG}
    venue_defaults: {target_comp_id: DARKAGG, latency: {fixed_ms: 0, jitter_ms: 0}}
    venues:
      - {name: V1, port: 9101, sender_comp_id: V1}
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from engine.allocation.profiles import MarketProfile, VenueProfile
from engine.config.engine import DATA_DICTIONARY_FIELD, SessionRules
from engine.config.security import AcceptorTlsConfig
from engine.config.fields import (CompId, Count, FilePath, Flag, Number, Port, Positive, Probability, Store, Text,
                                  Whole, config_dataclass, duplicates, merge_venue_defaults, problems)
from engine.config.loading import Document, load_file, validate
from engine.config.market import MarketRef

TIME_IN_FORCE_CODES = {"DAY": "0", "IOC": "3"}  # FIX 59 values this simulator can honour
ExecType = Literal["0", "F", "4", "8", "I"]
_as_text = BeforeValidator(lambda value: [str(v) for v in value] if isinstance(value, list) else value)


@config_dataclass
class SymbolConfig:
    tick: Positive
    reference_price: Positive | None = None
    """the starting midpoint (default: the market's reference price)"""
    volatility_bps_per_sqrt_second: Number = 0.0
    """The shared midpoint's random walk in time: every ``market_step_seconds`` its log moves by a
    normal step, so log-returns have this standard deviation (bps) per square root of a second.
    0 (the default) keeps the midpoint still but for informed moves and ``walk_step_probability``."""
    walk_step_probability: Probability = 0.0
    """Before each order any venue of the host prices for the symbol, the shared midpoint moves one
    tick up or down with this probability (an order-driven walk, reproducible given the order flow
    across the host's venues; ``volatility_bps_per_sqrt_second`` is the time-driven one)."""
    spread_ticks: Count = 2
    """market data: the primary's bid and offer are the midpoint -/+ half this many ticks (an odd
    number puts them half a tick off the grid)"""
    quote_size: Count = 1000
    """market data: the size (271) shown on the bid and on the offer"""
    market: MarketRef | None = None
    """per-symbol liquidity (else the host's market)"""


@config_dataclass
class MarketDataConfig:
    """A FIX 4.4 market-data session publishing the shared midpoint of every symbol as a primary
    exchange's top of book (MarketDataRequest V, snapshots W, incremental refreshes X, rejects Y)."""

    port: Port
    sender_comp_id: CompId = "MD"
    target_comp_id: CompId = "DARKAGG"
    """the client's CompID"""
    require_credentials: Flag = False
    """as a venue's: the client logs on with the Username/Password the host's secrets store holds"""


@config_dataclass
class LatencyConfig:
    fixed_ms: Number = 0.0
    jitter_ms: Number = 0.0
    """uniform in [0, jitter_ms), one draw per order"""

    @property
    def is_zero(self) -> bool:
        return self.fixed_ms == 0.0 and self.jitter_ms == 0.0


@config_dataclass
class ReportFault:
    """Applies to every ``every``-th ExecutionReport whose ExecType is in ``exec_types``."""

    every: Annotated[Whole, Field(ge=0)] = 0
    """0: off"""
    exec_types: Annotated[tuple[ExecType, ...], _as_text] = ("0", "F", "4")
    seconds: Number = 0.0
    """only for delays: how late the report goes out"""


@config_dataclass
class FaultConfig:
    refuse_logon: Flag = False
    disconnect_after_orders: Count | None = None
    """drop the connection once this many orders were handled"""
    disconnect_every_orders: Count | None = None
    """... and again after every further this many orders"""
    disconnect_after_seconds: Number | None = None
    """... or this long after the first logon"""
    drop_reports: ReportFault = ReportFault()
    delay_reports: ReportFault = ReportFault()
    duplicate_reports: ReportFault = ReportFault()

    @model_validator(mode="after")
    def _delays_only_delay(self) -> "FaultConfig":
        problems(((key, "seconds"), getattr(self, key).seconds, "no seconds (only delay_reports has them)")
                 for key in ("drop_reports", "duplicate_reports") if getattr(self, key).seconds)
        return self


@config_dataclass
class BookConfig:
    capacity: Count
    """hidden shares per symbol and side when full"""
    replenish_per_second: Number
    """shares added per second up to capacity"""
    initial: Annotated[Whole, Field(ge=0)] | None = None
    """starting level (default: capacity)"""

    @model_validator(mode="after")
    def _initial_fits(self) -> "BookConfig":
        problems([(("initial",), self.initial, f"a whole number <= capacity ({self.capacity})")]
                 if self.initial is not None and self.initial > self.capacity else [])
        return self


@config_dataclass
class VenueConfig:
    name: Text
    """a venue of the market file: its liquidity and order rules"""
    port: Port
    sender_comp_id: CompId
    target_comp_id: CompId
    time_in_force: Annotated[tuple[Literal["IOC", "DAY"], ...], Field(min_length=1)] = ("IOC", "DAY")
    report_style: Literal["fill_then_cancel", "single_final"] = "fill_then_cancel"
    ack_new: Flag = True
    """send ExecType New before the outcome (some venues only send the outcome)"""
    mode: Literal["iid", "book"] = "iid"
    book: BookConfig | None = None
    latency: LatencyConfig = LatencyConfig()
    faults: FaultConfig = FaultConfig()
    session: SessionRules = SessionRules()
    """the FIX session's resets and daily reset time (the store is the host's): what a real venue
    decides for its sessions, so the engine's policy for it can be tested against the real thing"""
    require_credentials: Flag = False
    """its client must log on with the Username (553) and Password (554) the host's secrets store
    holds for the client's CompID (``target_comp_id``), else it gets "logon refused"."""

    @model_validator(mode="after")
    def _book_when_book_mode(self) -> "VenueConfig":
        problems([(("book",), None, "a book section when mode is book")] if self.mode == "book" and not self.book
                 else [])
        return self


@config_dataclass
class HostConfig:
    market: MarketRef
    symbols: Annotated[dict[Text, SymbolConfig], Field(min_length=1)]
    venues: Annotated[tuple[VenueConfig, ...], Field(min_length=1)]
    seed: Annotated[Whole, Field(ge=0)] = 0
    data_dictionary: FilePath = DATA_DICTIONARY_FIELD
    ground_truth_log: FilePath | None = None
    """every order, fill and withdrawal of every venue, one JSON line each (the record of truth)"""
    store: Store = "memory"
    store_path: FilePath | None = None
    acceptor: Literal["single_thread", "thread_per_connection"] = "single_thread"
    allowed_remote_addresses: tuple[Text, ...] = ("127.0.0.1",)
    """QuickFIX 1.16 binds acceptor ports on every interface (it has no SocketAcceptHost); logons
    from other addresses are refused at the session level instead. Empty: accept any. Must be
    empty with ``tls``: QuickFIX 1.16's SSL acceptor ignores it."""
    tls: AcceptorTlsConfig | None = None
    """accept clients over TLS 1.2/1.3 only (QuickFIX's SSL acceptor, single-threaded)"""
    secrets_file: FilePath | None = None
    """the clients' Username/Password hashes for venues with ``require_credentials``, keyed by the
    client's CompID (written by `dark-agg secrets add-trader`; mode 0600); DARKAGG_TRADER_<COMPID>
    variables add to it or stand in for it"""
    check_latency: Flag = False
    max_latency_seconds: Count = 120
    log_fix_messages: FilePath | None = None
    """QuickFIX FileLog directory; none keeps no message log"""
    history_limit: Count = 200_000
    """finished orders remembered per venue (duplicates, late cancels)"""
    market_step_seconds: Annotated[float, Field(strict=True, ge=0.005)] = 0.1
    """the shared market's clock (at least 5 ms): every this many seconds each symbol's walk and
    informed moves step, and market data goes out for the symbols whose midpoint changed"""
    market_data: MarketDataConfig | None = None
    """none: no market-data session (the venues still share one midpoint per symbol)"""

    venue_entry: ClassVar[type] = VenueConfig
    _merge_defaults = model_validator(mode="before")(merge_venue_defaults)

    @model_validator(mode="after")
    def _consistent(self) -> "HostConfig":
        found = []
        for key in ("name", "port"):
            found += duplicates([getattr(v, key) for v in self.venues], lambda i, key=key: ("venues", i, key),
                                "a value no other venue has")
        found += duplicates([(v.sender_comp_id, v.target_comp_id) for v in self.venues], lambda i: ("venues", i),
                            "a (sender_comp_id, target_comp_id) pair no other venue has")
        found += self._market_data_apart()
        for index, venue in enumerate(self.venues):
            if venue.name not in self.market.venue_names:
                found.append((("venues", index, "name"), venue.name,
                              f"a venue of market {self.market.name!r}: {list(self.market.venue_names)}"))
            for symbol, spec in self.symbols.items():
                if spec.market is not None and venue.name not in spec.market.venue_names:
                    found.append((("symbols", symbol, "market"), spec.market.name, f"a market with venue {venue.name!r}"))
        for symbol, spec in self.symbols.items():
            if self.reference_price(symbol) < spec.tick:
                found.append((("symbols", symbol, "reference_price"), self.reference_price(symbol),
                              f"at least one tick ({spec.tick})"))
        if self.store == "file" and self.store_path is None:
            found.append((("store_path",), None, "a directory when store is file"))
        found += self._enforceable_security()
        problems(found)
        return self

    def _market_data_apart(self) -> list:
        """The market-data session has CompIDs of its own (QuickFIX's session registry holds one
        session per CompID pair) and a port of its own (each venue endpoint stays one session, as the
        engine's config, one port per venue, assumes)."""
        md = self.market_data
        if md is None:
            return []
        found = []
        if md.port in {v.port for v in self.venues}:
            found.append((("market_data", "port"), md.port, "a port no venue uses"))
        if (md.sender_comp_id, md.target_comp_id) in {(v.sender_comp_id, v.target_comp_id) for v in self.venues}:
            found.append((("market_data", "sender_comp_id"), md.sender_comp_id,
                          "a (sender_comp_id, target_comp_id) pair no venue has"))
        return found

    def _enforceable_security(self) -> list:
        """What QuickFIX 1.16 cannot do with TLS is refused here rather than silently not done."""
        if self.tls is None:
            return []
        found = []
        if self.allowed_remote_addresses:
            found.append((("allowed_remote_addresses",), list(self.allowed_remote_addresses),
                          "[] with tls: QuickFIX 1.16's SSL acceptor ignores AllowedRemoteAddresses "
                          "(restrict the ports with a firewall instead)"))
        if self.acceptor != "single_thread":
            found.append((("acceptor",), self.acceptor,
                          "single_thread with tls: QuickFIX 1.16 has no thread-per-connection SSL acceptor"))
        return found

    @property
    def credentials_required(self) -> bool:
        return (any(venue.require_credentials for venue in self.venues)
                or (self.market_data is not None and self.market_data.require_credentials))

    def reference_price(self, symbol: str) -> float:
        spec = self.symbols[symbol]
        return spec.reference_price or (spec.market or self.market).reference_price

    def profile_of(self, venue: str, symbol: str | None = None) -> VenueProfile:
        """A venue's liquidity and rules: the symbol's own market's where it has one, else the host's."""
        market = (self.symbols[symbol].market if symbol is not None else None) or self.market
        return next(v for v in market.venues if v.name == venue)

    def venue(self, name: str) -> VenueConfig:
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise KeyError(name)

    def with_venue(self, name: str, **changes: Any) -> "HostConfig":
        venues = tuple(replace(v, **changes) if v.name == name else v for v in self.venues)
        return replace(self, venues=venues)


def load_config(path: str | Path) -> HostConfig:
    return load_file(HostConfig, path, "venue config file")


def config_from_dict(document: Any, *, base_dir: Path, market: MarketProfile | None = None) -> HostConfig:
    """A HostConfig; ``market`` lets tests pass a profile built in code instead of a file."""
    if market is not None and isinstance(document, dict):
        document = {"market": market, **document}
    return validate(HostConfig, Document(None, document), base_dir=base_dir)


def faults_from_dict(entry: Any) -> FaultConfig:
    """Also used by tests and the host to change a venue's faults while it runs."""
    return validate(FaultConfig, Document(None, entry), base_dir=Path.cwd())
