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
