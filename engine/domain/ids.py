"""Typed identifiers: a parent id is never passed where a child id is expected.

Child ids derive from their parent's, so any report a venue sends names the parent it belongs to:
``<parent>.<sweep>.<venue>``.
"""

from __future__ import annotations

from typing import NewType

ParentId = NewType("ParentId", str)    # our OrderID towards the trader
ChildId = NewType("ChildId", str)      # our ClOrdID towards a venue
ClOrdId = NewType("ClOrdId", str)      # the trader's ClOrdID
ExecId = NewType("ExecId", str)        # a venue's ExecID, or ours towards the trader
VenueName = NewType("VenueName", str)  # as in the market file: V1, V2, ...
SessionKey = NewType("SessionKey", str)  # a trader session, e.g. FIX.4.4:DARKAGG->TRADER1
Symbol = NewType("Symbol", str)


def child_id(parent: ParentId, sweep: int, venue: VenueName) -> ChildId:
    return ChildId(f"{parent}.{sweep}.{venue}")


def parent_of(child: str) -> ParentId | None:
    """The parent a child id names, or None when the id is not one of ours."""
    parts = child.rsplit(".", 2)
    return ParentId(parts[0]) if len(parts) == 3 and parts[1].isdigit() else None


class IdFactory:
    """Parent ids and our own ExecIDs, unique across restarts: ``prefix`` must differ per engine run
    (the composition root derives it from the start time) and the counters are per run."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._parents = 0
        self._execs = 0

    def parent(self) -> ParentId:
        self._parents += 1
        return ParentId(f"{self._prefix}P{self._parents}")

    def exec_id(self) -> ExecId:
        self._execs += 1
        return ExecId(f"{self._prefix}E{self._execs}")

    def cancel_id(self, child: ChildId, attempt: int) -> ChildId:
        return ChildId(f"{child}.X{attempt}")
