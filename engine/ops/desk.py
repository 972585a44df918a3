"""The loop side of the operator's channel: a command and its arguments, as the ops server received
them, checked and carried out by the order manager's :class:`~engine.manager.operations.Operations`.

Runs on the event loop's thread (the server hands each request over with
``run_coroutine_threadsafe``). Bad input is refused with :class:`OpsRefused` before anything
changes; every change is journaled with its origin by the operations themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from engine.domain.controls import Scope, Target
from engine.domain.ids import trader_session_key
from engine.domain.limit_changes import LimitChange, LimitChangeError, parse_value, scope_of
from engine.manager.operations import OperationRefused
from engine.ops.errors import OpsRefused

SCOPES = {scope.value: scope for scope in Scope}


class OpsDesk:
    def __init__(self, manager, publish: Callable[[], None] = lambda: None) -> None:
        self._manager = manager
        self._publish = publish  # a fresh view for the metrics after a change
        self._handlers: dict[str, Callable[[dict, str], dict]] = {
            "status": self._status, "halt": self._halt, "resume": self._resume, "venue": self._venue,
            "limits_show": lambda args, origin: self._manager.operations.show_limits(),
            "limits_set": self._limits_set, "cancel_all": self._cancel_all,
            "restricted_reload": lambda args, origin: self._manager.operations.reload_restricted(origin)}

    def handle(self, command: str, args: dict, origin: str) -> dict:
        handler = self._handlers.get(command)
        if handler is None:
            raise OpsRefused(f"unknown command {command!r}: expected one of {sorted(self._handlers)}")
        try:
            result = handler(args, origin)
        except (OperationRefused, LimitChangeError) as error:
            raise OpsRefused(str(error)) from None
        if command != "status":
            self._publish()
        return result

    def _status(self, args: dict, origin: str) -> dict:
        return dataclasses.asdict(self._manager.view())

    def _halt(self, args: dict, origin: str) -> dict:
        return self._manager.operations.halt(self._target(args), _text(args, "reason", "operator halt"), origin,
                                             cancel=_flag(args, "cancel"))

    def _resume(self, args: dict, origin: str) -> dict:
        return self._manager.operations.resume(self._target(args), origin)

    def _venue(self, args: dict, origin: str) -> dict:
        action = args.get("action")
        if action not in ("disable", "enable"):
            raise OpsRefused(f"venue action {action!r}: expected disable or enable")
        target = Target(Scope.VENUE, _text(args, "venue"))
        if action == "enable":
            return self._manager.operations.resume(target, origin)
        return self._manager.operations.halt(target, _text(args, "reason", "disabled by operator"), origin)

    def _cancel_all(self, args: dict, origin: str) -> dict:
        return self._manager.operations.cancel_all(_text(args, "reason", "cancel-all"), origin)

    def _limits_set(self, args: dict, origin: str) -> dict:
        key = _text(args, "key")
        scope, scope_key = args.get("scope"), args.get("scope_key")
        wanted = scope_of(key)
        if scope is not None and scope != wanted:
            raise OpsRefused(f"{key} takes {'no scope' if wanted is None else '--' + wanted}, not --{scope}")
        if scope == "session" and scope_key is not None:
            scope_key = self._session_key(scope_key)
        change = LimitChange(key, parse_value(str(args.get("value", ""))), str(args.get("level") or "hard"),
                             scope_key, self._manager.clock())
        return self._manager.operations.set_limit(change, origin)

    def _target(self, args: dict) -> Target:
        scope = SCOPES.get(str(args.get("scope") or "global"))
        if scope is None:
            raise OpsRefused(f"scope {args.get('scope')!r}: expected one of {sorted(SCOPES)}")
        key = args.get("key")
        if scope is Scope.GLOBAL:
            return Target(scope)
        if not isinstance(key, str) or not key:
            raise OpsRefused(f"a {scope.value} halt needs the {scope.value} it applies to")
        return Target(scope, self._session_key(key) if scope is Scope.SESSION else key)

    def _session_key(self, name: str) -> str:
        """An operator names a trader session by its CompID; the full session key is accepted too."""
        return name if ":" in name else trader_session_key(self._manager.config.fix.trader.sender_comp_id, name)


def _text(args: dict, name: str, default: str | None = None) -> str:
    value: Any = args.get(name) or default
    if not isinstance(value, str) or not value.strip():
        raise OpsRefused(f"{name} is required")
    return value.strip()


def _flag(args: dict, name: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise OpsRefused(f"{name} must be true or false")
    return value
