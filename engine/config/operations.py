"""The engine file's operations sections: the operator's channel (``ops:``), the metrics and health
endpoint (``metrics:``) and the automatic trips (``trips:``).

    ops:     {port: 9878, token_file: ../out/ops.token}   # loopback HTTP, bearer token from the file
    metrics: {port: 9879}                                  # /metrics, /healthz, /readyz (loopback)
    trips:   {venue_rejects: 20, venue_reject_window_seconds: 10}

Both endpoints listen on loopback only: they are for the operator on this host (a remote dashboard
scrapes through whatever the host exposes on purpose, never through a wildcard bind).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from engine.config.fields import CompId, Count, FilePath, Flag, Port, Positive, Text, config_dataclass, expected
from engine.config.security import InitiatorTlsConfig


def _loopback(host: str) -> str:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise expected("a loopback address (127.0.0.1, ::1 or localhost): this endpoint is for this host only")
    return host


LoopbackHost = Annotated[Text, AfterValidator(_loopback)]


@config_dataclass
class OpsConfig:
    port: Port | None = None
    """loopback HTTP port of `dark-agg ops` (None: no operator channel)"""
    host: LoopbackHost = "127.0.0.1"
    token_file: FilePath | None = None
    """the bearer token (created with mode 0600 when missing; refused when others can read it);
    default: ops.token beside the journal"""


@config_dataclass
class MetricsConfig:
    port: Port | None = None
    """loopback HTTP port of /metrics (Prometheus), /healthz and /readyz (None: not served)"""
    host: LoopbackHost = "127.0.0.1"


@config_dataclass
class TripsConfig:
    """Automatic kill switches (each alerts in the log and the metrics, and is journaled)."""

    venue_rejects: Count = 20
    """this many children rejected by one venue within the window disables that venue"""
    venue_reject_window_seconds: Positive = 10.0
    venue_overfill: Flag = True
    """a venue filling more than a child's quantity disables that venue"""


@config_dataclass
class MarketDataConfig:
    """The primary market's FIX market-data feed (``market_data:``): its midpoint per symbol is the
    risk collar's reference while the feed is up."""

    port: Port
    sender_comp_id: CompId
    """our CompID on the feed's session"""
    target_comp_id: CompId
    """the feed's CompID"""
    host: Text = "127.0.0.1"
    heartbeat_seconds: Count = 5
    """QuickFIX drops a feed silent for longer than this (with a TestRequest's grace): its
    midpoints then stop counting as the reference"""
    reconnect_seconds: Count = 1
    tls: InitiatorTlsConfig | None = None
    """TLS to the feed (its server certificate must chain to ``ca``); None: plain TCP"""
    markout_horizons_seconds: Annotated[tuple[Positive, ...], Field(min_length=1)] = (1.0, 10.0, 60.0)
    """each fill's markout (the midpoint's move after it, bps, positive in our favour) is taken at
    these horizons: journaled (`dark-agg report`) and in the metrics per venue"""
