"""Sending one outbound message for a port, and counting what an edge did: the same rules on both edges."""

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


class EdgeCounts:
    """One FIX edge's message counters, with the two steps both edges share: sending a built message
    and recording a callback that failed. Each counter has one writer: ``received`` and
    ``callback_errors`` QuickFIX's thread, ``sent`` and ``send_failures`` the loop's."""

    def __init__(self, edge_log, edge: str) -> None:
        self._log = edge_log
        self._edge = edge
        self.received = 0
        self.sent = 0
        self.send_failures = 0
        self.callback_errors = 0

    def send(self, build: Callable[[object], str], item: object, session_id: fix.SessionID, peer: str) -> bool:
        sent = send_built(build, item, session_id, peer)
        if sent:
            self.sent += 1
        else:
            self.send_failures += 1
        return sent

    def not_sent(self) -> bool:
        """A message the port refused before QuickFIX saw it (session down, unknown peer)."""
        self.send_failures += 1
        return False

    def callback_failed(self, where: str) -> None:
        """Call from inside the ``except`` of a guarded QuickFIX callback."""
        self.callback_errors += 1
        self._log.exception(f"{self._edge} callback failed", callback=where)
