"""The two edges as the order manager sees them. The FIX edge implements them with QuickFIX; tests
plug in hand-written fakes. Every method is called on the event loop's thread, must not block, and
must not raise on a transport problem (a session that is down answers False, and the manager
treats the message as not sent)."""

from __future__ import annotations

from typing import Protocol

from engine.domain.messages import (BusinessRefusal, CancelChild, CancelRefused, ParentReport, QueryChild,
                                    SubmitChild)


class VenuePort(Protocol):
    def submit(self, command: SubmitChild) -> bool: ...

    def cancel(self, command: CancelChild) -> bool: ...

    def query(self, command: QueryChild) -> bool: ...

    def logged_on(self, venue: str) -> bool: ...


class TraderPort(Protocol):
    def report(self, report: ParentReport) -> bool: ...

    def refuse_cancel(self, refusal: CancelRefused) -> bool: ...

    def refuse_business(self, refusal: BusinessRefusal) -> bool: ...


class Inbox(Protocol):
    """Where the edges deliver what arrives (on the loop's thread, in arrival order): the domain
    messages of engine.domain.messages (NewParent, InvalidParent, CancelParent, ReplaceParent,
    ParentStatusQuery, UnsupportedMessage, VenueReport, VenueCancelRefused, VenueSessionChanged,
    TraderSessionChanged)."""

    def deliver(self, message: object) -> None: ...


class Metrics(Protocol):
    """What the manager tells the metrics (engine.observability implements it with prometheus_client;
    :class:`NoMetrics` when none are served). Called on the loop's thread; must not block."""

    def parent_ended(self, outcome: str) -> None: ...          # accepted, rejected, filled, canceled, expired

    def child_ended(self, venue: str, outcome: str) -> None: ...  # filled, partially_filled, unfilled, rejected,
                                                                  # timed_out, not_sent

    def fill(self, venue: str, shares: int) -> None: ...

    def sweep_latency(self, seconds: float) -> None: ...

    def child_ack_latency(self, venue: str, seconds: float) -> None: ...  # child sent -> its first report

    def markout(self, venue: str, horizon_seconds: float, bps: float, mean_bps: float | None) -> None: ...

    def net_value(self, venue: str, bps: float) -> None: ...  # the venue's value of a filled share

    def risk_refusal(self, limit: str) -> None: ...

    def risk_warning(self, limit: str) -> None: ...

    def incident(self, kind: str) -> None: ...

    def ops_command(self, command: str, result: str) -> None: ...  # result: ok, refused, error


class NoMetrics:
    def __getattr__(self, name: str):
        return _ignore


def _ignore(*args, **kwargs) -> None:
    return None
