"""The outbox: the only way out of the order manager, and where the write-ahead is kept.

Everything the manager sends (children, cancels and status requests to the venues; execution
reports and refusals to the traders) is queued here, in order, and sent by :meth:`Outbox.flush`
only after the journal has committed every row recorded before it (:meth:`Journal.commit_now`).
So a child is durable, with the id it goes out under, before its NewOrderSingle leaves, a fill is
durable before the trader hears of it, and an acknowledged parent survives a crash. A flush is
scheduled on the loop at the first queued message, so the messages of one loop callback (a
sweep's twelve children, a burst of venue reports) share one commit: at once (``call_soon``) for
anything but a Trade report, since a venue's order is a sweep's latency and a final report ends a
trader's wait; within ``TRADER_GROUP_COMMIT_SECONDS`` when only Trade reports wait, so that the
fills of several venue reports share a commit (group commit: a trader hears of a fill up to 2 ms
later, and the loop commits less often while a sweep's reports arrive). Measured (`make bench`):
grouping every trader report delayed each IOC parent's final report, and the idle gap it left
before the trader's next order made the next sweep 1.7 ms slower; grouping only Trade reports
shows no cost there beyond the machine's noise, and keeps the sustained rate up.

Trader execution reports are journaled themselves (``trader_outbox``) in the same commit, and
removed once handed to QuickFIX: a report a crash caught between the commit and the send is sent
again at the next start, under the same ExecID with PossResend (97=Y), so the trader hears of
every fill exactly once (a copy carries an ExecID it has seen).

When the journal cannot commit nothing is sent: children are reported back as not sent (they
never left), and ``on_journal_failure`` is told, so the engine stops taking risk (fail closed).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Callable

import structlog

from engine.domain.messages import (BusinessRefusal, CancelChild, CancelRefused, ParentReport, QueryChild,
                                    ReportKind, SubmitChild, report_record)
from engine.journal import Journal, JournalError
from engine.manager.ports import TraderPort, VenuePort

log = structlog.get_logger("engine.outbox")

_SUBMIT, _CANCEL, _QUERY, _REPORT, _REFUSE_CANCEL, _REFUSE_BUSINESS = range(6)
TRADER_GROUP_COMMIT_SECONDS = 0.002


class Outbox:
    def __init__(self, journal: Journal, venues: VenuePort, traders: TraderPort,
                 on_journal_failure: Callable[[JournalError], None]) -> None:
        self.journal = journal
        self.venues = venues
        self.traders = traders
        self.on_journal_failure = on_journal_failure
        self.after_commit: Callable[[], None] | None = None  # e.g. the trader inbox letting go
        self.not_sent: Counter[str] = Counter()
        self.flushes = 0
        self._queue: list[tuple[int, object, object]] = []  # (kind, message, callback or report number)
        self._soon = False                                   # a flush is due in this loop iteration
        self._later: asyncio.TimerHandle | None = None       # a group-commit flush is due
        self._failed = False

    # -- to the venues ---------------------------------------------------------------------------

    def submit(self, command: SubmitChild, not_sent: Callable[[], None]) -> None:
        """``not_sent`` is called (at the flush) when the order did not leave: its session was down,
        or the journal could not hold it."""
        self._put(_SUBMIT, command, not_sent)

    def cancel(self, command: CancelChild, sent: Callable[[], None] | None = None) -> None:
        self._put(_CANCEL, command, sent)

    def query(self, command: QueryChild) -> None:
        self._put(_QUERY, command, None)

    # -- to the traders --------------------------------------------------------------------------

    def report(self, report: ParentReport) -> None:
        number = self.journal.record_trader_report(report.exec_id, report.order_id, report.session,
                                                   report_record(report))
        self._put(_REPORT, report, number)

    def refuse_cancel(self, refusal: CancelRefused) -> None:
        self._put(_REFUSE_CANCEL, refusal, None)

    def refuse_business(self, refusal: BusinessRefusal) -> None:
        self._put(_REFUSE_BUSINESS, refusal, None)

    # -- sending ---------------------------------------------------------------------------------

    def _put(self, kind: int, item: object, extra: object) -> None:
        self._queue.append((kind, item, extra))
        if self._soon:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): send now
            self.flush()
            return
        if kind != _REPORT or item.kind is not ReportKind.TRADE:
            self._soon = True
            loop.call_soon(self.flush)
        elif self._later is None:
            self._later = loop.call_later(TRADER_GROUP_COMMIT_SECONDS, self.flush)

    def flush(self) -> None:
        """Commit the journal, then send everything queued, in order. Also commits when nothing is
        queued (the manager calls it periodically, so rows that send nothing are not held long)."""
        self._soon = False
        if self._later is not None:
            self._later.cancel()
            self._later = None
        queue, self._queue = self._queue, []
        try:
            self.journal.commit_now()
        except JournalError as error:
            self._refuse_all(queue, error)
            return
        self.flushes += 1
        if self.after_commit is not None:
            self.after_commit()
        for kind, item, extra in queue:
            self._send(kind, item, extra)

    def _send(self, kind: int, item, extra) -> None:
        if kind == _SUBMIT:
            if not self.venues.submit(item):
                self.not_sent["child"] += 1
                extra()
        elif kind == _CANCEL:
            if self.venues.cancel(item):
                if extra is not None:
                    extra()
            else:
                self.not_sent["cancel"] += 1
        elif kind == _QUERY:
            if not self.venues.query(item):
                self.not_sent["status request"] += 1
        elif kind == _REPORT:
            if not self.traders.report(item):
                self.not_sent["trader report"] += 1  # the session is gone (a memory store): nothing to resend
            self.journal.trader_reports_sent(extra)  # the report's number
        elif kind == _REFUSE_CANCEL:
            if not self.traders.refuse_cancel(item):
                self.not_sent["cancel refusal"] += 1
        elif not self.traders.refuse_business(item):
            self.not_sent["business refusal"] += 1

    def _refuse_all(self, queue: list, error: JournalError) -> None:
        """Fail closed: nothing whose record is not durable leaves."""
        if not self._failed:
            self._failed = True
            log.critical("journal cannot commit: nothing is sent", error=str(error), held=len(queue))
        for kind, item, extra in queue:
            self.not_sent["journal failed"] += 1
            if kind == _SUBMIT:
                extra()  # the child's not-sent callback
        self.on_journal_failure(error)
