"""The trader acceptor's QuickFIX log, in Python: where each logon comes from, and what QuickFIX
refused before our callbacks saw it.

QuickFIX's Python API gives ``fromAdmin`` no remote address. Its log does: the thread-per-connection
acceptor writes "Allows connections to the acceptor from ADDR" (or "Deny ...") to a session's log
on that connection's own thread, just before the Logon reaches ``fromAdmin`` on the same thread.
So :class:`ConnectionLogFactory` keeps, per QuickFIX thread, the address of the connection it
serves. It also reports what never reaches ``fromAdmin``: a CompID QuickFIX has no session for
("Session not found for incoming message", dropped without a reply) and an address an allowlist
denies. The SSL acceptor serves every connection on one thread and writes only "Accepted SSL
connection from ADDR", so there the address of a logon is not known (None), never guessed.

Message logging (``fix.message_log``) is forwarded to QuickFIX's own FileLog, so the files are the
ones the other sessions write. Costs one Python call per trader message (traders send few).

Log objects are handed to QuickFIX with ``__disown__`` (QuickFIX deletes what its factory made; a
Python-owned log is freed twice) and kept referenced here, as the gateway keeps its factories.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable

import quickfix as fix
import structlog

from engine.fix import restore_sigint
from engine.fix.thread_state import keep_thread_state

restore_sigint()

log = structlog.get_logger("engine.fix.trader")

_ALLOWED = "Allows connections to the acceptor from "
_DENIED = "Deny connections to the acceptor from "
_NO_SESSION = "Session not found for incoming message: "
_FIELD = re.compile(r"(?:^|\x01)(49|56)=([^\x01]*)")

# (comp_id or None, address or None, reason) -> None; called on QuickFIX's threads
RefusalSink = Callable[[str | None, str | None, str], None]


class RemoteAddresses:
    """Per QuickFIX thread, the remote address of the trader connection it serves."""

    def __init__(self, on_refused: RefusalSink) -> None:
        self._by_thread: dict[int, str] = {}
        self._on_refused = on_refused

    def current(self) -> str | None:
        """The address of the connection the calling QuickFIX thread serves (None: not known)."""
        return self._by_thread.get(threading.get_ident())

    def event(self, session: str | None, text: str) -> None:
        if text.startswith(_ALLOWED):
            self._by_thread[threading.get_ident()] = text[len(_ALLOWED):].strip()
        elif text.startswith(_DENIED):
            address = text[len(_DENIED):].strip()
            self._by_thread[threading.get_ident()] = address
            self._on_refused(_comp_id_of(session), address, "address not allowed")
        elif text.startswith(_NO_SESSION):
            # the raw message may hold a password: only its CompIDs are read, nothing is logged
            fields = dict(_FIELD.findall(text[len(_NO_SESSION):]))
            self._on_refused(fields.get("49"), self.current(), "unknown CompID")


def _comp_id_of(session: str | None) -> str | None:
    # "FIX.4.4:ENGINE->DESK1": the trader's CompID is the target
    return session.rsplit("->", 1)[-1] if session and "->" in session else None


class _SessionLog(fix.Log):
    def __init__(self, session: str | None, addresses: RemoteAddresses, file_log) -> None:
        super().__init__()
        self._session = session
        self._addresses = addresses
        self._file_log = file_log

    def clear(self) -> None:
        if self._file_log is not None:
            self._file_log.clear()

    def backup(self) -> None:
        if self._file_log is not None:
            self._file_log.backup()

    def onIncoming(self, text) -> None:
        if self._file_log is not None:
            keep_thread_state()
            self._file_log.onIncoming(text)

    def onOutgoing(self, text) -> None:
        if self._file_log is not None:
            keep_thread_state()
            self._file_log.onOutgoing(text)

    def onEvent(self, text) -> None:
        try:
            keep_thread_state()
            self._addresses.event(self._session, text)
            if self._file_log is not None:
                self._file_log.onEvent(text)
        except Exception:  # noqa: BLE001 - a log must never end a QuickFIX thread
            log.exception("trader connection log failed", session=self._session)


class ConnectionLogFactory(fix.LogFactory):
    def __init__(self, addresses: RemoteAddresses, message_log: Path | None = None) -> None:
        super().__init__()
        self._addresses = addresses
        self._path = str(message_log) if message_log is not None else None
        self._logs: list[_SessionLog] = []
        self._lock = threading.Lock()

    def create(self, *session_id) -> _SessionLog:
        keep_thread_state()
        session = session_id[0].toString() if session_id else None
        file_log = None
        if self._path is not None:
            file_log = fix.FileLog(self._path, session_id[0]) if session_id else fix.FileLog(self._path)
        session_log = _SessionLog(session, self._addresses, file_log)
        with self._lock:
            self._logs.append(session_log)
        session_log.__disown__()
        return session_log

    def destroy(self, session_log) -> None:
        pass  # kept in self._logs until the factory goes, after the acceptor that used them
