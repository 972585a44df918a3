"""The trader side of the FIX edge: a ``quickfix.Application`` for the acceptor's trader sessions,
which is also the order manager's :class:`~engine.manager.ports.TraderPort`.

On QuickFIX's thread it only translates: ``fromApp`` turns the message into a domain message at once
(the ``toString()`` copy is all it keeps: the borrowed message and SessionID die with the callback)
and puts it on the bridge; ``onLogon``/``onLogout`` put :class:`TraderSessionChanged`. A Logon is
first checked by the :class:`LogonGuard` (credentials, lockout) and refused with "logon refused". Every callback
is guarded: anything but QuickFIX's own exceptions is logged and counted, never allowed to kill the
QuickFIX thread.

The port methods run on the loop thread. With ``trader_store: file`` a report for a trader who is
not logged on is still handed to QuickFIX, which stores it and resends it when the trader logs back
on and asks for the gap: ``report`` then answers True. With a memory store it answers False.
"""

from __future__ import annotations

import quickfix as fix
import structlog

from engine.domain.ids import SessionKey
from engine.domain.messages import (STATE_CHANGING_REQUESTS, BusinessRefusal, CancelRefused, ParentReport,
                                    TraderSessionChanged)
from engine.config import FixConfig
from engine.fix import restore_sigint
from engine.fix import translate
from engine.fix.bridge import LoopBridge
from engine.fix.connection_log import RemoteAddresses
from engine.fix.logon_guard import LogonGuard
from engine.fix.sending import EdgeCounts
from engine.fix.settings import BEGIN_STRING
from engine.fix.thread_state import keep_thread_state
from engine.fix.trader_inbox import TraderInbox
from engine.security import REFUSED_LOGON_TEXT

restore_sigint()

log = structlog.get_logger("engine.fix.trader")

# The only exceptions a callback may let out (QuickFIX turns them into rejects); anything else
# would end the QuickFIX thread.
QUICKFIX_CALLBACK_ERRORS = (fix.DoNotSend, fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue,
                            fix.RejectLogon, fix.UnsupportedMessageType)


class TraderEdge(fix.Application):
    def __init__(self, config: FixConfig, bridge: LoopBridge, inbox: TraderInbox | None = None,
                 guard: LogonGuard | None = None, addresses: RemoteAddresses | None = None) -> None:
        super().__init__()
        self._bridge = bridge
        self._inbox = inbox
        self._guard = guard
        self._addresses = addresses
        # Our own SessionID copies, built from config: safe to use from any thread at any time.
        self._session_ids: dict[str, fix.SessionID] = {}
        for trader in config.trader.sessions:
            session_id = fix.SessionID(BEGIN_STRING, config.trader.sender_comp_id, trader)
            self._session_ids[session_id.toString()] = session_id
        self._logged_on = dict.fromkeys(self._session_ids, False)
        self._store_while_down = config.trader.store == "file"
        self.counts = EdgeCounts(log, "trader")

    @property
    def sessions(self) -> tuple[SessionKey, ...]:
        return tuple(SessionKey(key) for key in self._session_ids)

    def logged_on(self, session: str) -> bool:
        return self._logged_on.get(session, False)

    # -- QuickFIX callbacks (QuickFIX's thread) -------------------------------------------------

    def onCreate(self, sessionID: fix.SessionID) -> None:
        pass

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self._session_changed(sessionID, True)

    def onLogout(self, sessionID: fix.SessionID) -> None:
        self._session_changed(sessionID, False)

    def _session_changed(self, sessionID: fix.SessionID, up: bool) -> None:
        try:
            keep_thread_state()
            key = sessionID.toString()
            self._logged_on[key] = up
            self._bridge.put(TraderSessionChanged(SessionKey(key), up))
            log.debug("trader session logged on" if up else "trader session logged out", session=key)
        except Exception:  # noqa: BLE001 - see module docstring
            self.counts.callback_failed("onLogon" if up else "onLogout")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        logon = True  # until the message is known not to be one: a logon we cannot read is refused
        try:
            keep_thread_state()
            text = message.toString()
            logon = "\x0135=A\x01" in text
            if logon:
                self._check_logon(text, sessionID)
            elif "\x0135=3\x01" in text:  # the trader's QuickFIX refused one of our messages: our bug
                fields = translate.fields_of(text)
                log.error("trader rejected a message at session level", session=sessionID.toString(),
                          ref_seq_num=fields.get("45"), ref_tag=fields.get("371"), reason=fields.get("373"),
                          text=fields.get("58"))
        except fix.RejectLogon:
            raise
        except Exception:  # noqa: BLE001 - fail closed: a logon we could not check is refused
            self.counts.callback_failed("fromAdmin")
            if logon:
                raise fix.RejectLogon(REFUSED_LOGON_TEXT) from None

    def _check_logon(self, text: str, sessionID: fix.SessionID) -> None:
        if self._guard is None:
            return
        fields = translate.fields_of(text)  # holds the password: never logged
        address = self._addresses.current() if self._addresses is not None else None
        if self._guard.check(sessionID.getTargetCompID().getValue(), address, fields.get("553"), fields.get("554")):
            raise fix.RejectLogon(REFUSED_LOGON_TEXT)

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            keep_thread_state()
            self.counts.received += 1
            text = message.toString()
            session = SessionKey(sessionID.toString())
            request = translate.trader_message(text, session)
            if self._inbox is not None and isinstance(request, STATE_CHANGING_REQUESTS):
                self._inbox.record(session, text)  # before QuickFIX counts it as received (see trader_inbox)
            self._bridge.put(request)
        except QUICKFIX_CALLBACK_ERRORS:
            raise
        except Exception:  # noqa: BLE001
            self.counts.callback_failed("fromApp")

    # -- TraderPort (the loop's thread) ---------------------------------------------------------

    def report(self, report: ParentReport) -> bool:
        return self._send(report.session, translate.execution_report, report)

    def refuse_cancel(self, refusal: CancelRefused) -> bool:
        return self._send(refusal.session, translate.order_cancel_reject, refusal)

    def refuse_business(self, refusal: BusinessRefusal) -> bool:
        return self._send(refusal.session, translate.business_message_reject, refusal)

    def _send(self, session: str, build, item) -> bool:
        session_id = self._session_ids.get(session)
        if session_id is None or not (self._logged_on[session] or self._store_while_down):
            if session_id is None:
                log.warning("no such trader session", session=session, item=type(item).__name__)
            return self.counts.not_sent()
        return self.counts.send(build, item, session_id, session)
