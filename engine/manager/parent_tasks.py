"""The life of a parent: one named task per parent, sweep after sweep, until it is filled,
cancelled or expired.

Each parent is worked by its own task (:mod:`engine.manager.sweeps` runs one sweep), so a slow
venue delays only the parents it holds; at most ``sweep.max_in_flight`` sweeps run at once. Cancel
and replace requests, acknowledged by the trader requests at once, are carried out here between
sweeps, once the children in flight have resolved. A parent's final report (Canceled, Expired) also
waits, for a bounded time, for children withdrawn at a deadline that their venue has not yet
answered for. An exception in a parent's task is logged and ends the run in a controlled way
(``failed`` is set).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from engine.domain.ids import ClOrdId, ParentId
from engine.domain.messages import CancelRefused, ReplaceParent, ReportKind
from engine.domain.parent import ParentOrder, ParentTrigger
from engine.manager.shared import SharedState
from engine.manager.sweeps import Skipped, Sweep, seconds_until

log = structlog.get_logger("engine.manager")

_IDLE_RETRY_SECONDS = 0.05  # when a sweep could not be sent (no venue up, all shares in flight)
_FORGET_CHILDREN_AFTER = 60.0  # seconds a finished parent's children still match late reports


@dataclass(frozen=True, slots=True)
class _Ending:
    """How a parent is to end once its children have settled."""

    trigger: ParentTrigger
    text: str | None
    cl_ord_id: ClOrdId | None = None       # a cancel request's ClOrdID, answered by the final report
    orig_cl_ord_id: ClOrdId | None = None


def replace_refusal(parent: ParentOrder, request: ReplaceParent, too_late: bool, text: str) -> CancelRefused:
    return CancelRefused(request.session, parent.parent_id, request.cl_ord_id, request.orig_cl_ord_id,
                         parent.state, True, too_late, text)


class ParentTasks:
    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._tasks: dict[ParentId, asyncio.Task] = {}
        self._wake: dict[ParentId, asyncio.Event] = {}
        self._settling: set[ParentId] = set()  # parents whose final report waits for unresolved children
        self._operator_cancels: dict[ParentId, str] = {}  # parents an operator cancelled -> the report's Text
        # Sweeps in flight at once: beyond what the FIX sessions and the loop can carry, more
        # concurrency only queues reports behind new orders, so latency grows and children miss
        # their deadlines while throughput stays the same. Parents wait for a slot instead.
        self._sweep_slots = asyncio.Semaphore(shared.config.sweep.max_in_flight)
        self.stopping = False

    def spawn(self, parent: ParentOrder) -> None:
        self._wake[parent.parent_id] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._work(parent), name=f"parent-{parent.parent_id}")
        self._tasks[parent.parent_id] = task
        task.add_done_callback(self._task_done)

    def wake(self, parent_id: ParentId) -> None:
        """The parent's task looks at once at a request it is to carry out."""
        self._wake[parent_id].set()

    def wake_all(self) -> None:
        """Every parent looks again now (trading resumed: the paused ones sweep at once)."""
        for event in self._wake.values():
            event.set()

    def cancel_by_operator(self, parent: ParentOrder, text: str) -> bool:
        """The parent ends Canceled after the sweep in flight (its children withdrawn at the
        deadline, the final report after the resolve wait), as a trader's cancel would; ``text`` goes
        into the Canceled report. False when it has ended already."""
        if parent.is_final or parent.parent_id not in self._wake:
            return False
        self._operator_cancels.setdefault(parent.parent_id, text)
        self.wake(parent.parent_id)
        return True

    def after_child_change(self, parent: ParentOrder, child_ended: bool) -> None:
        """A parent that has ended, or waits for its children to settle, looks again when one changes."""
        if parent.is_final or (child_ended and parent.parent_id in self._settling):
            wake = self._wake.get(parent.parent_id)
            if wake is not None:
                wake.set()

    async def stop(self) -> None:
        """Let the sweeps in flight finish (withdrawing at their deadline), then cancel the tasks.
        Open parents stay open in the journal and resume at the next start."""
        self.stopping = True
        for event in self._wake.values():
            event.set()
        grace = self._shared.config.sweep.deadline_ms / 1000.0 + 1.0
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in self._tasks.values():
            if not task.done():
                task.cancel()

    def _task_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("parent task failed", task=task.get_name(), error=repr(error), exc_info=error)
            self._shared.failed.set()

    async def _work(self, parent: ParentOrder) -> None:
        # each task runs in its own copy of the context: every event logged while working this
        # parent (sweeps, withdrawals, its end) carries its id without passing it around
        structlog.contextvars.bind_contextvars(parent=parent.parent_id, symbol=parent.spec.symbol)
        log_ = log
        shared = self._shared
        empty_sweeps = 0
        ending: _Ending | None = None
        while not self.stopping and not parent.is_final:
            ending = self._ending_due(parent)
            if ending is not None:
                break
            if parent.pending_replace is not None:  # the reduction must know what is still in flight
                await self._settle_children(parent, "a replace")
                if self.stopping:
                    break  # the request is journaled: the next start carries it out
                self._carry_out_replace(parent)
                continue
            async with self._sweep_slots:
                if self._ending_due(parent) is not None or parent.pending_replace is not None:
                    continue  # a request came while waiting for a slot: carried out at the top
                outcome = shared.runner.start(parent, shared.clock())
                if isinstance(outcome, Sweep):
                    await outcome.done.wait()
                    row = shared.runner.finish(outcome, shared.clock())
                    shared.journal.record_parent(parent)
                    empty_sweeps = 0 if sum(row.filled) else empty_sweeps + 1
            if parent.is_final:
                break
            if isinstance(outcome, Sweep) and parent.is_ioc:
                # a replace still pending is moot now: refused as too late once the parent ends
                ending = self._ending_due(parent) or _Ending(ParentTrigger.CANCEL, "IOC: the one sweep is done")
                break
            if not isinstance(outcome, Sweep) and not parent.open_children and (
                    parent.is_ioc or outcome is Skipped.BELOW_MINIMUMS):
                # nothing in flight could free more shares: this parent cannot be worked further
                ending = _Ending(ParentTrigger.CANCEL, f"not worked further: {outcome.value}")
                break
            await self._pause(parent, self._pause_after(outcome, empty_sweeps))
        if ending is not None and not parent.is_final:
            await self._settle_children(parent, "the final report")
            # stopping with children unresolved, the parent stays open in the journal: the next
            # start reconciles them, then ends it
            if not parent.is_final and not (self.stopping and parent.open_children):
                self._end(parent, ending.trigger, ending.text, cl_ord_id=ending.cl_ord_id,
                          orig_cl_ord_id=ending.orig_cl_ord_id)
        if parent.is_final:
            self._answer_requests_too_late(parent)
            # one line for every end, whatever ended it (a fill, a cancel, an expiry, IOC's one sweep)
            shared.metrics.parent_ended(parent.state.name.lower())
            log_.info("parent done", state=parent.state.value, cum_qty=parent.cum_qty, quantity=parent.quantity,
                      sweeps=parent.sweeps, reason=ending.text if ending is not None else "filled")
        log_.debug("parent task ends", state=parent.state.value)
        if parent.is_final:
            self.forget_later(parent)

    async def _settle_children(self, parent: ParentOrder, waiting: str) -> None:
        """Children given up on at a sweep deadline stay live at their venue until it answers the
        withdrawal: the parent's final report, or a replace, waits for them (up to
        ``sweep.resolve_wait_ms``), so the trader hears of every fill before the order is reported
        done, and a reduction knows what is in flight. After the wait the parent goes on anyway; a
        fill arriving after its final report is reported after it and journaled as an incident."""
        if not parent.open_children:
            return
        shared = self._shared
        limit = shared.clock() + shared.config.sweep.resolve_wait_ms / 1000.0
        self._settling.add(parent.parent_id)
        try:
            while parent.open_children and not parent.is_final and not self.stopping:
                left = limit - shared.clock()
                if left <= 0:
                    shared.incident("children unresolved after the resolve wait",
                                    f"{parent.parent_id}, for {waiting}: {', '.join(parent.open_children)}")
                    return
                await self._pause(parent, left)
        finally:
            self._settling.discard(parent.parent_id)

    def _answer_requests_too_late(self, parent: ParentOrder) -> None:
        """A cancel or replace still pending when the parent ended otherwise (filled completely, say)
        is refused as too late."""
        requests = ((parent.pending_cancel, False), (parent.pending_replace, True))
        if not any(request is not None for request, _ in requests):
            return
        for request, for_replace in requests:
            if request is not None:
                self._shared.outbox.refuse_cancel(CancelRefused(request.session, parent.parent_id, request.cl_ord_id,
                                                                request.orig_cl_ord_id, parent.state, for_replace,
                                                                True, f"too late: the order is {parent.state.value}"))
        parent.pending_cancel = parent.pending_replace = None
        self._shared.journal.record_parent(parent)

    def _pause_after(self, outcome: Sweep | Skipped, empty_sweeps: int) -> float:
        """The sweep interval, doubled after each sweep in a row that filled nothing (up to
        ``max_interval_ms``): a parent the dark cannot fill now (a limit away from the midpoint, no
        contra) stops hammering every venue, and one fill brings it back to full speed."""
        sweep = self._shared.config.sweep
        if outcome is Skipped.HALTED:  # woken at once by a resume
            return sweep.max_interval_ms / 1000.0
        if not isinstance(outcome, Sweep):
            return _IDLE_RETRY_SECONDS
        return min(sweep.interval_ms * 2.0 ** min(empty_sweeps, 30), sweep.max_interval_ms) / 1000.0

    def _ending_due(self, parent: ParentOrder) -> _Ending | None:
        """A cancel request (a trader's or an operator's) or the GTD ExpireTime ends the parent (between
        sweeps, never during one)."""
        if parent.parent_id in self._operator_cancels:
            return _Ending(ParentTrigger.CANCEL, self._operator_cancels[parent.parent_id])
        if parent.pending_cancel is not None:
            request = parent.pending_cancel
            return _Ending(ParentTrigger.CANCEL, None, request.cl_ord_id, request.orig_cl_ord_id)
        if seconds_until(parent.spec.expire_at, self._shared.clock()) <= 0:
            return _Ending(ParentTrigger.EXPIRE, "GTD: ExpireTime reached")
        return None

    def _carry_out_replace(self, parent: ParentOrder) -> None:
        if parent.pending_replace is None:
            return
        shared = self._shared
        now = shared.clock()
        request, parent.pending_replace = parent.pending_replace, None
        previous = parent.cl_ord_id
        problem = parent.replace_quantity(request)
        resume = ParentTrigger.RESUME_PARTIAL if parent.cum_qty else ParentTrigger.RESUME_NEW
        if problem is not None:
            parent.transition(resume, now)
            shared.outbox.refuse_cancel(replace_refusal(parent, request, True, problem))
            shared.journal.record_parent(parent)
            return
        trigger = ParentTrigger.FILL_COMPLETE if parent.cum_qty >= parent.quantity else resume
        parent.transition(trigger, now)
        shared.send(parent, ReportKind.REPLACED, cl_ord_id=request.cl_ord_id, orig_cl_ord_id=previous)
        shared.journal.record_parent(parent)

    def _end(self, parent: ParentOrder, trigger: ParentTrigger, text: str | None, *,
             cl_ord_id: ClOrdId | None = None, orig_cl_ord_id: ClOrdId | None = None) -> None:
        shared = self._shared
        anomaly = parent.transition(trigger, shared.clock())
        if anomaly is not None:
            shared.incident("impossible transition", anomaly)
            return
        kind = ReportKind.EXPIRED if trigger is ParentTrigger.EXPIRE else ReportKind.CANCELED
        shared.send(parent, kind, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id, text=text)
        if parent.pending_cancel is not None and parent.pending_cancel.cl_ord_id == cl_ord_id:
            parent.pending_cancel = None  # answered by this report
        shared.journal.record_parent(parent)

    async def _pause(self, parent: ParentOrder, seconds: float) -> None:
        seconds = min(seconds, max(0.0, seconds_until(parent.spec.expire_at, self._shared.clock())))
        wake = self._wake[parent.parent_id]
        if seconds > 0 and not wake.is_set():
            try:
                await asyncio.wait_for(wake.wait(), seconds)
            except asyncio.TimeoutError:
                pass
        wake.clear()

    def forget_later(self, parent: ParentOrder) -> None:
        """Finished parents keep their children matchable for a while (late and duplicate reports),
        then leave memory; the journal keeps everything, and a status query or cancel for an old
        order is answered from it (only its ClOrdIDs stay in memory)."""
        def forget() -> None:
            if self._shared.runner.forget(parent.parent_id) and not parent.open_children:
                self._tasks.pop(parent.parent_id, None)
                self._wake.pop(parent.parent_id, None)
                self._operator_cancels.pop(parent.parent_id, None)
                self._shared.parents.pop(parent.parent_id, None)
        asyncio.get_running_loop().call_later(_FORGET_CHILDREN_AFTER, forget)


class ManagerPart:
    """A part of the order manager (trader requests, venue reports): it acts on the shared state and
    hands parents to their tasks."""

    def __init__(self, shared: SharedState, parent_tasks: ParentTasks) -> None:
        self._shared = shared
        self._parent_tasks = parent_tasks
