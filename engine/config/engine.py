"""The engine's configuration (`dark-agg run --config config/engine.yaml`), declared once.

Venue rules (lot size, minimum and maximum order size) come from the market file by venue name and
may be overridden per venue here; the market file also gives the range of order sizes the
allocation grid covers. Its liquidity numbers are not used by the engine, which learns its own.
``venue_defaults`` is merged under every venue entry.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, model_validator

from engine.allocation.profiles import MarketProfile, ProfileError, VenueProfile
from engine.allocation.registry import POLICY_NAMES
from engine.config.fields import (CompId, Count, FilePath, Flag, Number, Port, Positive, Quantity, Store, Text,
                                  TimeOfDay, Whole, config_dataclass, duplicates, merge_venue_defaults, problems)
from engine.config.loading import ConfigError, Document, load_file, validate
from engine.config.market import MarketRef
from engine.config.operations import MarketDataConfig, MetricsConfig, OpsConfig, TripsConfig
from engine.config.risk import RiskConfig
from engine.config.security import AcceptorTlsConfig, InitiatorTlsConfig, IpAddress, LockoutConfig

DEFAULT_DATA_DICTIONARY = Path(__file__).resolve().parents[2] / "fix_specs" / "FIX44.xml"


def _shipped_dictionary_schema(schema: dict) -> None:
    """The schema names the shipped dictionary, not this checkout's absolute path."""
    schema.pop("default", None)
    schema["description"] = "QuickFIX data dictionary (default: the shipped fix_specs/FIX44.xml)"


DATA_DICTIONARY_FIELD = Field(default=DEFAULT_DATA_DICTIONARY, json_schema_extra=_shipped_dictionary_schema)
EnginePolicy = Literal[tuple(name for name in POLICY_NAMES if name != "oracle")]  # the oracle needs hindsight


@config_dataclass
class SessionRules:
    """What a venue decides for its FIX session: its resets and its daily reset time."""

    reset_on_logon: Flag | None = None
    """None: the store's default (on for a memory store, off for a file store)"""
    reset_on_logout: Flag | None = None
    reset_on_disconnect: Flag | None = None
    reset_time: TimeOfDay | None = None
    """UTC HH:MM:SS of the daily reset (a 24-hour session from that time to the same time the next
    day); None for a session that never resets"""


@config_dataclass
class VenueSessionPolicy(SessionRules):
    """How we keep a venue's session: that venue's rule, so it is configured per venue.

    ``memory`` with every reset (the default, the sim venues' default): each logon starts at
    sequence 1 and open children are reconciled with OrderStatusRequest after a reconnect.
    ``file`` with the resets off: sequence numbers and sent messages survive reconnects and
    restarts, so a venue that resends what we missed (ResendRequest, PossDup) is handled by QuickFIX."""

    store: Store = "memory"


@config_dataclass
class VenueSessionConfig:
    name: Text
    """a venue of the market file"""
    port: Port
    sender_comp_id: CompId
    """our CompID towards this venue"""
    target_comp_id: CompId
    """the venue's CompID"""
    host: Text = "127.0.0.1"
    enabled: Flag = True
    min_qty: Quantity | None = None
    """MinQty (110) on every child; capped at the child's quantity"""
    lot_size: Quantity | None = None
    """overrides the market file's rule for this venue"""
    min_order_size: Quantity | None = None
    max_order_size: Quantity | None = None
    session: VenueSessionPolicy = VenueSessionPolicy()
    credentials: Flag = False
    """send Username (553), Password (554) and any extra Logon tags from the secrets store's entry
    for this venue's name"""
    tls: InitiatorTlsConfig | None = None
    """connect over TLS; the venue's certificate must chain to ``tls.ca``"""

    def rules_over(self, market_venue: VenueProfile) -> VenueProfile:
        """The market's profile of this venue with this entry's rule overrides."""
        rules = {key: getattr(self, key) for key in ("lot_size", "min_order_size", "max_order_size")
                 if getattr(self, key) is not None}
        return dataclasses.replace(market_venue, **rules) if rules else market_venue


@config_dataclass
class TraderConfig:
    port: Port
    sender_comp_id: CompId
    """ours towards traders"""
    sessions: Annotated[tuple[CompId, ...], Field(min_length=1)]
    """the traders' CompIDs (TargetCompID of our sessions)"""
    host: Text = "127.0.0.1"
    """where `dark-agg order` connects"""
    store: Store = "file"
    """traders must not lose reports across a restart"""
    credentials: Flag = False
    """every trader logs on with Username (553) and Password (554), checked against the secrets
    store (``fix.secrets_file`` or DARKAGG_TRADER_<COMPID> variables); a failure gets "logon refused" """
    allowed_addresses: dict[CompId, tuple[IpAddress, ...]] = Field(default_factory=dict)
    """per trader session, the only addresses it may log on from (a session not named: any);
    QuickFIX enforces it on the plain-TCP acceptor only, so it cannot be combined with ``tls``"""
    lockout: LockoutConfig = LockoutConfig()
    """refused logons of one CompID from one address within a window lock both out for a while"""
    tls: AcceptorTlsConfig | None = None
    """accept traders over TLS only (TLS 1.2 and 1.3)"""

    @model_validator(mode="after")
    def _enforceable(self) -> "TraderConfig":
        found = [(("allowed_addresses", session), session, f"one of the sessions {list(self.sessions)}")
                 for session in self.allowed_addresses if session not in self.sessions]
        if self.tls is not None and self.allowed_addresses:
            found.append((("allowed_addresses",), "...", "none with tls: QuickFIX 1.16's SSL acceptor ignores "
                          "AllowedRemoteAddresses (restrict the port with a firewall instead)"))
        problems(found)
        return self


@config_dataclass
class FixConfig:
    trader: TraderConfig
    data_dictionary: FilePath = DATA_DICTIONARY_FIELD
    heartbeat_seconds: Count = 30
    reconnect_seconds: Count = 1
    message_log: FilePath | None = None
    """QuickFIX message logs go under this directory (none when unset)"""
    store_path: FilePath | None = None
    """file stores (trader sessions, venues with a file store) live here"""
    secrets_file: FilePath | None = None
    """hashed trader passwords and venue credentials (`dark-agg secrets`), outside the repo, mode
    0600; the engine refuses to start when others can read it"""


@config_dataclass
class SweepConfig:
    deadline_ms: Positive = 250.0
    """give up on a child's final report after this"""
    interval_ms: Number = 20.0
    """wait between two sweeps of one parent"""
    cancel_retry_ms: Positive = 500.0
    """how often children given up on are asked about again"""
    max_in_flight: Count = 4
    """sweeps in flight at once, across parents"""
    max_interval_ms: Positive = 1000.0
    """the interval doubles after each empty sweep, up to this"""
    reject_bench_ms: Positive = 30000.0
    """a venue rejecting 5 children in a row sits out this long"""
    resolve_wait_ms: Positive = 2000.0
    """a parent's final report waits this long for withdrawn children"""


@config_dataclass
class WeightsConfig:
    min_symbol_history: Count = 200
    """sweeps of a symbol before it uses its own weights"""
    snapshot_seconds: Positive = 10.0
    """the live weights are journaled this often when they changed (and at stop)"""
    keep_snapshots: Count = 60
    """newest snapshots kept per key (older ones are deleted)"""
    fill_value_bps: Positive | None = None
    """what a dark fill saves against the alternative, in bps: a share filled at a venue is worth
    this minus the venue's mean adverse markout at ``markout_horizon_seconds`` (learned online from
    the market-data feed), and a venue worth nothing gets nothing. None (the default): every filled
    share is worth the same, the fill-only objective"""
    markout_horizon_seconds: Positive = 1.0
    """the markout horizon the net value learns from (one of ``market_data.markout_horizons_seconds``):
    the shortest that holds a venue's own adverse move, since every second longer adds the market's
    and our other fills' moves to it (README: Adverse selection in the engine)"""
    markout_prior_fills: Number = 10.0
    """a venue's mean markout is shrunk towards 0 as if it had this many more fills at 0"""


@config_dataclass
class EngineConfig:
    market: MarketRef
    """venue rules and the order-size range of the weight grid"""
    symbols: Annotated[tuple[Text, ...], Field(min_length=1)]
    journal: FilePath
    """parents, children, fills, sweeps, weight snapshots (SQLite, with its write-ahead log)"""
    fix: FixConfig
    venues: tuple[VenueSessionConfig, ...] = Field(json_schema_extra={"minItems": 1})
    """the venue sessions (a file needs at least one; code-built configs may have none)"""
    policy: EnginePolicy = "expgrad"
    seed: Annotated[Whole, Field(ge=0)] = 0
    """randomised rounding"""
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    sweep: SweepConfig = SweepConfig()
    weights: WeightsConfig = WeightsConfig()
    risk: RiskConfig = RiskConfig()
    """pre-trade risk limits (none by default; see config/engine.yaml and the README)"""
    trips: TripsConfig = TripsConfig()
    """automatic kill switches: a venue's reject storm or overfill disables it"""
    ops: OpsConfig = OpsConfig()
    """the operator's channel (`dark-agg ops`)"""
    metrics: MetricsConfig = MetricsConfig()
    """Prometheus metrics and health checks"""
    market_data: MarketDataConfig | None = None
    """the primary's market-data feed (none: the collar's reference is the last fill or the configured price)"""

    venue_entry: ClassVar[type] = VenueSessionConfig  # what ``venue_defaults`` holds (the schema says so)
    _merge_defaults = model_validator(mode="before")(merge_venue_defaults)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "EngineConfig":
        market_venues = {venue.name: venue for venue in self.market.venues}
        found = duplicates([v.name for v in self.venues], lambda i: ("venues", i, "name"), "a name no other venue has")
        if info.context is not None and not self.venues:  # read from a file
            found.append((("venues",), [], "a non-empty list of venues"))
        for index, venue in enumerate(self.venues):
            if venue.name not in market_venues:
                found.append((("venues", index, "name"), venue.name,
                              f"a venue of the market file {list(market_venues)}"))
            else:
                try:
                    venue.rules_over(market_venues[venue.name])
                except ProfileError as error:
                    found.append((("venues", index), venue.name, f"rules a venue can have ({error})"))
            if venue.session.store == "file" and self.fix.store_path is None:
                found.append((("venues", index, "session", "store"), "file",
                              "fix.store_path set (the venue file stores live under it)"))
        for section, names in (("symbols", self.symbols), ("sessions", self.fix.trader.sessions),
                               ("venues", [v.name for v in self.venues])):
            found += [(("risk", section, key), key, f"one of the configured {section} {list(names)}")
                      for key in getattr(self.risk, section) if key not in names]
        if self.fix.trader.store == "file" and self.fix.store_path is None:
            found.append((("fix", "store_path"), None, "a directory for the trader file store"))
        if self.weights.fill_value_bps is not None:  # the net value learns from the feed's markouts
            if self.market_data is None:
                found.append((("weights", "fill_value_bps"), self.weights.fill_value_bps,
                              "a market_data feed to learn markouts from (or no fill value)"))
            elif self.weights.markout_horizon_seconds not in self.market_data.markout_horizons_seconds:
                found.append((("weights", "markout_horizon_seconds"), self.weights.markout_horizon_seconds,
                              f"one of market_data.markout_horizons_seconds "
                              f"{list(self.market_data.markout_horizons_seconds)}"))
        problems(found)
        return self

    @property
    def ops_token_file(self) -> Path:
        return self.ops.token_file or self.journal.with_name("ops.token")

    @functools.cached_property
    def venue_profiles(self) -> tuple[VenueProfile, ...]:
        """Each venue's rules: the market file's, with this config's overrides (in venue order)."""
        market_venues = {venue.name: venue for venue in self.market.venues}
        return tuple(venue.rules_over(market_venues[venue.name]) for venue in self.venues)

    @property
    def venue_market(self) -> MarketProfile:
        """The market as the engine trades it: its configured venues, in order, with their rules."""
        return dataclasses.replace(self.market, venues=self.venue_profiles)

    def venue(self, name: str) -> VenueSessionConfig:
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise ConfigError(f"no venue named {name!r}; configured: {[v.name for v in self.venues]}")

    def with_changes(self, **changes: Any) -> "EngineConfig":
        return dataclasses.replace(self, **changes)


def load_engine_config(path: str | Path) -> EngineConfig:
    return load_file(EngineConfig, path, "engine config")


def engine_config_from_dict(document: Any, *, base_dir: Path) -> EngineConfig:
    return validate(EngineConfig, Document(None, document), base_dir=base_dir)
