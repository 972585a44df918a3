"""The engine file's ``risk:`` section -> the domain's :class:`RiskLimits`.

    risk:
      reference_prices: {VOD.L: 25.0}      # used until a fill gives a newer price
      reference_max_age_seconds: 86400     # an older reference cannot price an order: refused
      order:   {max_quantity: {hard: 1000000, soft: 500000}, max_notional: {hard: 25000000}, collar_bps: {hard: 500}}
      session: {max_open_notional: {hard: 100000000}, max_daily_notional: {hard: 500000000},
                max_messages_per_second: {hard: 100}}
      child:   {max_quantity: {hard: 500000}, max_notional: {hard: 10000000}, max_orders_per_second: {hard: 500}}
      symbols:  {BARC.L: {max_quantity: {hard: 200000}}}      # replaces `order` for that symbol
      sessions: {TRADER2: {max_open_notional: {hard: 5000000}}}  # by trader CompID, replaces `session`
      venues:   {V11: {max_orders_per_second: {hard: 50}}}     # replaces `child` for that venue
      restricted: [XYZ.L]
      restricted_file: restricted.txt      # one symbol per line (# comments); `dark-agg ops restricted reload`
      duplicate_window_seconds: 2          # same session, side, symbol and quantity: refused (omit: off)

The names of each group's limits are the domain's own (one declaration): a key the domain does not
have is an error naming the allowed ones.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Callable, Literal

from pydantic import Field, model_validator

from engine.config.fields import FilePath, Positive, Text, config_dataclass, problems
from engine.domain.risk import (ChildLimits, Limit, OrderLimits, ReferencePrice, RiskLimits, SessionLimits)

Level = Annotated[float, Field(strict=True, ge=0)]


@config_dataclass
class LimitLevels:
    hard: Level | None = None
    """an order over this is refused (OrdRejReason 3, a Text naming the limit)"""
    soft: Level | None = None
    """an order over this is accepted, warned about in the log and counted"""

    @model_validator(mode="after")
    def _soft_below_hard(self) -> "LimitLevels":
        problems([(("soft",), self.soft, f"a level <= hard ({self.hard})")]
                 if self.hard is not None and self.soft is not None and self.soft > self.hard else [])
        return self

    @property
    def limit(self) -> Limit:
        return Limit(hard=self.hard, soft=self.soft)


def _levels_of(group: type) -> type:
    """A mapping from the domain group's limit names to their levels."""
    return dict[Literal[tuple(f.name for f in dataclasses.fields(group))], LimitLevels]


OrderLevels = _levels_of(OrderLimits)
SessionLevels = _levels_of(SessionLimits)
ChildLevels = _levels_of(ChildLimits)


def _group(group: type, levels: dict[str, LimitLevels]) -> object:
    return group(**{name: entry.limit for name, entry in levels.items()})


@config_dataclass
class RiskConfig:
    order: OrderLevels = Field(default_factory=dict)
    """per parent: max_quantity (shares), max_notional, collar_bps (a limit price's distance from the
    reference, in basis points)"""
    session: SessionLevels = Field(default_factory=dict)
    """per trader session: max_open_notional (working parents' leaves), max_daily_notional (filled,
    per UTC day), max_messages_per_second (new, cancel, replace)"""
    child: ChildLevels = Field(default_factory=dict)
    """per child, just before it leaves: max_quantity, max_notional, max_orders_per_second (per venue)"""
    symbols: dict[Text, OrderLevels] = Field(default_factory=dict)
    sessions: dict[Text, SessionLevels] = Field(default_factory=dict)
    venues: dict[Text, ChildLevels] = Field(default_factory=dict)
    reference_prices: dict[Text, Positive] = Field(default_factory=dict)
    reference_max_age_seconds: Positive = 86_400.0
    restricted: tuple[Text, ...] = ()
    """symbols refused (OrdRejReason 2)"""
    restricted_file: FilePath | None = None
    """more restricted symbols, one per line (# starts a comment): read at start and by
    `dark-agg ops restricted reload`"""
    duplicate_window_seconds: Positive | None = None
    """same session, side, symbol and quantity within this many seconds: refused (OrdRejReason 6)"""

    @model_validator(mode="after")
    def _restricted_file_readable(self) -> "RiskConfig":
        path = self.restricted_file
        problems([(("restricted_file",), str(path), "a readable file of symbols")]
                 if path is not None and not path.is_file() else [])
        return self

    def restricted_symbols(self) -> frozenset[str]:
        """The configured list and the file's, read now (OSError when the file cannot be read)."""
        symbols = set(self.restricted)
        if self.restricted_file is not None:
            for line in self.restricted_file.read_text().splitlines():
                symbol = line.split("#", 1)[0].strip()
                if symbol:
                    symbols.add(symbol)
        return frozenset(symbols)

    def limits(self, now: float, session_key: Callable[[str], str]) -> RiskLimits:
        """The domain's limits; configured reference prices count as of ``now`` (the engine's start),
        ``session_key`` turns a trader CompID into the session's key."""
        return RiskLimits(
            order=_group(OrderLimits, self.order), session=_group(SessionLimits, self.session),
            child=_group(ChildLimits, self.child),
            by_symbol={symbol: _group(OrderLimits, levels) for symbol, levels in self.symbols.items()},
            by_session={session_key(comp_id): _group(SessionLimits, levels) for comp_id, levels in self.sessions.items()},
            by_venue={venue: _group(ChildLimits, levels) for venue, levels in self.venues.items()},
            references={symbol: ReferencePrice(price, now) for symbol, price in self.reference_prices.items()},
            reference_max_age_seconds=self.reference_max_age_seconds, restricted=self.restricted_symbols(),
            duplicate_window_seconds=self.duplicate_window_seconds)
