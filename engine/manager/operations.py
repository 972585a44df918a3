"""What an operator does to the running engine: halt and resume (globally, per trader session, per
symbol, per venue), cancel working parents, change a limit, reload the restricted list. The
operator's channel (engine.ops) calls these on the loop's thread.

Every change is journaled with its time and origin before it is answered, and replayed at the next
start (:meth:`Operations.restore`): an engine that stops halted restarts halted, a changed limit
stays changed, and parents an operator cancelled that a crash left open are cancelled again. The
restricted list is the exception: its file is read at every start and at every reload, so the file
stays the truth.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

import structlog

from engine.domain.child import ChildState
from engine.domain.controls import GLOBAL, Halt, Scope, Target
from engine.domain.limit_changes import LimitChange, LimitChangeError, apply_change, describe_limits
from engine.domain.parent import ParentOrder
from engine.journal import controls as journaled_controls
from engine.manager.parent_tasks import ManagerPart, ParentTasks
from engine.manager.shared import SharedState
from engine.manager.status import trader_session_names

log = structlog.get_logger("engine.ops")


class OperationRefused(ValueError):
    """The operator's command cannot be carried out as given; nothing was changed."""


class Operations(ManagerPart):
    def __init__(self, shared: SharedState, parent_tasks: ParentTasks,
                 read_restricted: Callable[[], frozenset[str]] | None = None) -> None:
        super().__init__(shared, parent_tasks)
        self._read_restricted = read_restricted  # the configured list and file, read afresh
        self.changes: list[dict] = []  # limit changes in force since the config was read (journaled ones too)

    # -- halts -----------------------------------------------------------------------------------

    def halt(self, target: Target, reason: str, origin: str, cancel: bool = False) -> dict:
        self._check_target(target)
        shared = self._shared
        shared.halt(Halt(target, reason, origin, shared.clock(), cancel=cancel))
        cancelled = self._cancel_in_scope(target, f"canceled by operator: {reason}", origin) if cancel else []
        self._commit()
        what = "disabled" if target.scope is Scope.VENUE else "halted"
        return {"message": f"{target.describe()} {what}: {reason}"
                           + (f"; {len(cancelled)} working parent(s) being cancelled" if cancel else ""),
                "cancelled": cancelled}

    def resume(self, target: Target, origin: str) -> dict:
        self._check_target(target)
        shared = self._shared
        ended = shared.controls.resume(target)
        if ended is None:
            active = ", ".join(h.target.describe() for h in shared.controls.halts) or "none"
            raise OperationRefused(f"{target.describe()} is not halted (active halts: {active})")
        shared.journal.record_control("resume", {"scope": target.scope.value, "key": target.key}, origin,
                                      shared.clock())
        self._commit()
        log.warning("trading resumed", scope=target.describe(), origin=origin, halted_since=ended.at)
        self._parent_tasks.wake_all()  # paused parents sweep again now, not at their next poll
        what = "enabled" if target.scope is Scope.VENUE else "resumed"
        return {"message": f"{target.describe()} {what} (halted by {ended.origin}: {ended.reason})"}

    def cancel_all(self, reason: str, origin: str) -> dict:
        cancelled = self._cancel_in_scope(GLOBAL, f"canceled by operator: {reason}", origin)
        self._commit()
        return {"message": f"{len(cancelled)} working parent(s) being cancelled", "cancelled": cancelled}

    def _cancel_in_scope(self, target: Target, text: str, origin: str) -> list[str]:
        """Cancels every working parent in scope (a venue's scope: its open children are withdrawn,
        its parents go on elsewhere); journals which, so a restart finishes the job."""
        shared = self._shared
        if target.scope is Scope.VENUE:
            for child in list(shared.children.values()):
                if child.venue == target.key and not child.is_final and child.state is not ChildState.UNRESOLVED:
                    shared.runner.cancel(child)
            return []
        cancelled = [p.parent_id for p in working_in_scope(shared.parents.values(), target) if self._parent_tasks.cancel_by_operator(p, text)]
        shared.journal.record_control("cancel", {"parents": cancelled, "text": text}, origin, shared.clock())
        log.warning("working parents cancelled by operator", scope=target.describe(), parents=len(cancelled),
                    origin=origin)
        return cancelled

    def _check_target(self, target: Target) -> None:
        config = self._shared.config
        names = {Scope.VENUE: [v.name for v in config.venues], Scope.SYMBOL: list(config.symbols),
                 Scope.SESSION: trader_session_names(self._shared)}.get(target.scope)
        if names is not None and target.key not in names:
            raise OperationRefused(f"unknown {target.scope.value} {target.key!r}: expected one of {names}")

    # -- limits ----------------------------------------------------------------------------------

    def set_limit(self, change: LimitChange, origin: str) -> dict:
        risk = self._shared.risk
        try:
            limits = apply_change(risk.limits, change)
        except LimitChangeError as error:
            raise OperationRefused(str(error)) from None
        record = _change_record(change)
        self._shared.journal.record_control("limit", record, origin, change.at)
        risk.change_limits(limits)
        self._commit()
        self.changes.append({**record, "at": change.at, "origin": origin})
        log.warning("risk limit changed", change=change.describe(), origin=origin)
        return {"message": f"{change.describe()} (in force now, journaled)"}

    def show_limits(self) -> dict:
        return {"limits": describe_limits(self._shared.risk.limits), "changes": list(self.changes)}

    def reload_restricted(self, origin: str) -> dict:
        if self._read_restricted is None:
            raise OperationRefused("no risk.restricted_file is configured: the restricted list is the config's")
        try:
            symbols = self._read_restricted()
        except (OSError, ValueError) as error:
            raise OperationRefused(f"restricted list not reloaded (the old one stays): {error}") from None
        risk = self._shared.risk
        before = risk.limits.restricted
        risk.change_limits(dataclasses.replace(risk.limits, restricted=symbols))
        self._shared.journal.record_control("restricted", {"symbols": sorted(symbols)}, origin, self._shared.clock())
        self._commit()
        added, removed = sorted(symbols - before), sorted(before - symbols)
        log.warning("restricted list reloaded", added=added, removed=removed, origin=origin)
        return {"message": f"restricted list reloaded: {len(symbols)} symbol(s), added {added or 'none'}, "
                           f"removed {removed or 'none'}"}

    # -- restart ---------------------------------------------------------------------------------

    def restore(self) -> int:
        """Replays the journaled controls onto this start's state; returns how many were replayed."""
        shared = self._shared
        path = shared.config.journal
        rows = journaled_controls(path) if path.exists() else []
        cancelled: dict[str, str] = {}
        for row in rows:
            detail, action = row["detail"], row["action"]
            if action == "halt":
                target = Target(Scope(detail["scope"]), detail["key"])
                shared.controls.halt(Halt(target, detail["reason"], row["origin"], row["at"], detail["automatic"],
                                          detail["cancel"]))
            elif action == "resume":
                shared.controls.resume(Target(Scope(detail["scope"]), detail["key"]))
            elif action == "limit":
                self._replay_limit(detail, row)
            elif action == "cancel":
                cancelled.update({parent_id: detail["text"] for parent_id in detail["parents"]})
        for parent_id, text in cancelled.items():  # cancelled before the stop, left open by it
            parent = shared.parents.get(parent_id)
            if parent is not None and self._parent_tasks.cancel_by_operator(parent, text):
                log.warning("operator's cancel carried out after the restart", parent=parent_id)
        if shared.controls.halts:
            log.warning("restarted halted", halts=[h.text for h in shared.controls.halts])
        if self.changes:  # over the config file's values: say which, so an edited file is not a surprise
            log.warning("limit changes from the journal in force", changes=[
                LimitChange(c["key"], c["value"], c["level"], c["scope_key"]).describe() for c in self.changes])
        return len(rows)

    def _replay_limit(self, detail: dict, row: dict) -> None:
        change = LimitChange(detail["key"], detail["value"], detail["level"], detail["scope_key"], row["at"])
        try:
            self._shared.risk.change_limits(apply_change(self._shared.risk.limits, change))
        except LimitChangeError as error:  # the config changed under it: said, and left out
            log.warning("journaled limit change no longer applies", change=change.describe(), error=str(error))
            return
        self.changes.append({**detail, "at": row["at"], "origin": row["origin"]})

    def _commit(self) -> None:
        """The change is durable before the operator hears it was made."""
        self._shared.outbox.flush()


def _change_record(change: LimitChange) -> dict:
    return {"key": change.key, "value": change.value, "level": change.level, "scope_key": change.scope_key}


def working_in_scope(parents: Iterable[ParentOrder], target: Target) -> list[ParentOrder]:
    return [p for p in parents if not p.is_final and target.covers(str(p.spec.session), p.spec.symbol)]
