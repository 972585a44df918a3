"""A (state, trigger) -> next state table. An impossible transition is an answer (None), not an
exception: the caller logs and counts it and keeps the order as it was (nautilus_trader's FSM, made
non-fatal because a venue's bad report must never crash the engine)."""

from __future__ import annotations

from enum import Enum
from typing import Generic, Iterable, Mapping, TypeVar

State = TypeVar("State", bound=Enum)
Trigger = TypeVar("Trigger", bound=Enum)


class StateTable(Generic[State, Trigger]):
    def __init__(self, rows: Mapping[tuple[State, Trigger], State]) -> None:
        self._rows = dict(rows)

    @classmethod
    def from_rules(cls, rules: Iterable[tuple[Iterable[State], Trigger, State | None]]) -> "StateTable":
        """Rows from (sources, trigger, target) rules; target None means 'stay in the source state'."""
        rows = {}
        for sources, trigger, target in rules:
            for source in sources:
                rows[(source, trigger)] = source if target is None else target
        return cls(rows)

    def next(self, state: State, trigger: Trigger) -> State | None:
        return self._rows.get((state, trigger))

    def allows(self, state: State, trigger: Trigger) -> bool:
        return (state, trigger) in self._rows

    def rows(self) -> dict[tuple[State, Trigger], State]:
        return dict(self._rows)
