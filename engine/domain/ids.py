"""Typed identifiers: a parent id is never passed where a child id is expected.

Child ids derive from their parent's, so any report a venue sends names the parent it belongs to:
``<parent>.<run>.<sweep>.<venue>``. ``run`` is the engine run's number, committed in the journal
before the run sends anything, so an id is never sent twice even when a crash lost the rows of the
sweep before (the next run has another number); ``sweep`` counts the parent's sweeps. Our cancel
and status-request ids carry the run too. Parent ids carry the run and the start time, so they
stay unique even across journals (a desk that starts a fresh journal keeps talking to the same
venues).
"""

from __future__ import annotations

from typing import NewType

ParentId = NewType("ParentId", str)    # our OrderID towards the trader
ChildId = NewType("ChildId", str)      # our ClOrdID towards a venue
ClOrdId = NewType("ClOrdId", str)      # the trader's ClOrdID
ExecId = NewType("ExecId", str)        # a venue's ExecID, or ours towards the trader
VenueName = NewType("VenueName", str)  # as in the market file: V1, V2, ...
SessionKey = NewType("SessionKey", str)  # a trader session, e.g. FIX.4.4:DARKAGG->TRADER1
BEGIN_STRING = "FIX.4.4"
Symbol = NewType("Symbol", str)


def child_id(parent: ParentId, run: int, sweep: int, venue: VenueName) -> ChildId:
    return ChildId(f"{parent}.{run}.{sweep}.{venue}")


def sweep_key(child: str) -> str:
    """What the children of one sweep share in their ids: ``parent.run.sweep`` (a venue name may hold
    a dot, the rest never does)."""
    return ".".join(child.split(".", 3)[:3])


def parent_of(child: str) -> ParentId | None:
    """The parent a child id names, or None when the id is not one of ours (parent ids hold no dot;
    a venue name may)."""
    parts = child.split(".", 3)
    if len(parts) == 4 and parts[0] and parts[1].isdigit() and parts[2].isdigit() and parts[3]:
        return ParentId(parts[0])
    return None


def run_prefix(run: int, started_at: float) -> str:
    """The prefix of a run's parent ids and ExecIDs: the journal's run number (unique within a
    journal, whatever the clock does) and the start time in ms (unique across journals)."""
    return f"{int(started_at * 1000):x}R{run}-"


class IdFactory:
    """Parent ids, our own ExecIDs, cancel and status-request ids, unique across restarts: ``prefix``
    must differ per engine run (:func:`run_prefix`) and ``run`` is the journal's run number."""

    def __init__(self, prefix: str, run: int = 0) -> None:
        self._prefix = prefix
        self.run = run
        self._parents = 0
        self._execs = 0
        self._queries = 0

    def parent(self) -> ParentId:
        self._parents += 1
        return ParentId(f"{self._prefix}P{self._parents}")

    def exec_id(self) -> ExecId:
        self._execs += 1
        return ExecId(f"{self._prefix}E{self._execs}")

    def child_id(self, parent: ParentId, sweep: int, venue: VenueName) -> ChildId:
        return child_id(parent, self.run, sweep, venue)

    def cancel_id(self, child: ChildId, attempt: int) -> ChildId:
        return ChildId(f"{child}.X{self.run}-{attempt}")

    def status_request_id(self, child: ChildId) -> str:
        """OrdStatusReqID (790) of a status request: ClOrdID stays the child's, as FIX requires."""
        self._queries += 1
        return f"{self._prefix}Q{self._queries}"


def trader_session_key(engine_comp_id: str, trader_comp_id: str) -> SessionKey:
    """A trader session's key as QuickFIX spells its SessionID (what the trader edge delivers)."""
    return SessionKey(f"{BEGIN_STRING}:{engine_comp_id}->{trader_comp_id}")
