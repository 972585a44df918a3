"""Sending one outbound message for a port: the same rules on both edges."""

from __future__ import annotations

from typing import Callable

import quickfix as fix
import structlog

from engine.fix import restore_sigint

restore_sigint()

log = structlog.get_logger("engine.fix")


def send_built(build: Callable[[object], str], item: object, session_id: fix.SessionID, peer: str) -> bool:
    """Builds ``item``'s tag=value text and sends it; False (never an exception: a port does not
    raise) when QuickFIX has no such session or refuses. The header and checksum are QuickFIX's."""
    try:
        return bool(fix.Session.sendToTarget(fix.Message(build(item), False), session_id))
    except fix.SessionNotFound:  # not started yet, or already stopped
        return False
    except Exception:  # noqa: BLE001
        log.exception("could not send", peer=peer, item=type(item).__name__)
        return False
