"""The venue side of the FIX edge: a ``quickfix.Application`` for the initiator's venue sessions
(one per enabled venue), which is also the order manager's :class:`~engine.manager.ports.VenuePort`.

Same rules as the trader side: ``fromApp`` only translates the ``toString()`` copy into a
:class:`VenueReport` or :class:`VenueCancelRefused` and puts it on the bridge; ``onLogon`` /
``onLogout`` put :class:`VenueSessionChanged`; every callback is guarded. A venue's
BusinessMessageReject, or a session-level Reject of one of our messages, is logged and dropped: the
manager gives up on the child at its sweep deadline, so the sweep never waits for it.

The port methods run on the loop thread and answer False when the venue is not logged on (a child
sent while down would go out, if ever, long after its sweep gave up on it), unknown, or disabled.
"""

from __future__ import annotations

import threading
from typing import Mapping

import quickfix as fix
import structlog

from engine.domain.ids import VenueName
from engine.domain.messages import CancelChild, QueryChild, SubmitChild, VenueSessionChanged
from engine.config import VenueSessionConfig
from engine.fix import restore_sigint
from engine.fix import translate
from engine.fix.bridge import LoopBridge
from engine.fix.thread_state import keep_thread_state
from engine.fix.sending import EdgeCounts
from engine.fix.settings import BEGIN_STRING
from engine.fix.trader_edge import QUICKFIX_CALLBACK_ERRORS
from engine.security import VenueCredential

restore_sigint()

log = structlog.get_logger("engine.fix.venue")


class VenueEdge(fix.Application):
    def __init__(self, venues: tuple[VenueSessionConfig, ...], bridge: LoopBridge,
                 credentials: Mapping[str, VenueCredential] | None = None) -> None:
        """``credentials``: venue name -> what its Logon carries (``engine.security``)."""
        super().__init__()
        self._bridge = bridge
        self._credentials = dict(credentials or {})
        self._session_ids: dict[str, fix.SessionID] = {}  # venue name -> our own SessionID copy
        self._names: dict[str, VenueName] = {}            # SessionID string -> venue name
        self._by_comp_ids: dict[tuple[str, str], VenueName] = {}  # (our CompID, theirs) -> venue name
        for venue in venues:
            if venue.enabled:
                session_id = fix.SessionID(BEGIN_STRING, venue.sender_comp_id, venue.target_comp_id)
                self._session_ids[venue.name] = session_id
                self._names[session_id.toString()] = VenueName(venue.name)
                self._by_comp_ids[(venue.sender_comp_id, venue.target_comp_id)] = VenueName(venue.name)
        self._logged_on = dict.fromkeys(self._session_ids, False)
        self.counts = EdgeCounts(log, "venue")
        self.rejects = 0  # venue BusinessMessageRejects and session-level Rejects of ours (QuickFIX's thread)
        self._sender_thread: int | None = None  # the loop's thread, once it has sent
        self.orders_not_resent = 0  # old NewOrderSingles a venue's ResendRequest asked for (gap-filled)

    @property
    def names(self) -> tuple[VenueName, ...]:
        return tuple(VenueName(name) for name in self._session_ids)

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
            venue = self._names[sessionID.toString()]
            self._logged_on[venue] = up
            self._bridge.put(VenueSessionChanged(venue, up))
            log.debug("venue session logged on" if up else "venue session logged out", venue=venue)
        except Exception:  # noqa: BLE001 - see module docstring
            self.counts.callback_failed("onLogon" if up else "onLogout")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        if not self._credentials:
            return
        try:
            keep_thread_state()
            if message.getHeader().getField(35) != "A":
                return
            credential = self._credentials.get(self._names.get(sessionID.toString()))
            if credential is not None:  # the venue's Logon: its Username, Password and extra tags
                for tag, value in ((553, credential.username), (554, credential.password)):
                    if value is not None:
                        message.setField(tag, value)
                for tag, value in credential.logon_tags.items():
                    message.setField(tag, value)
        except Exception:  # noqa: BLE001 - the venue refuses a logon without them; we log it
            self.counts.callback_failed("toAdmin")

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            keep_thread_state()
            text = message.toString()
            if "\x0135=3\x01" in text:
                self.rejects += 1
                fields = translate.fields_of(text)
                log.error("venue rejected our message at session level", venue=self._names.get(sessionID.toString()),
                          ref_seq_num=fields.get("45"), ref_tag=fields.get("371"), reason=fields.get("373"),
                          text=fields.get("58"))
            elif "\x0135=5\x01" in text and "\x0158=" in text:
                log.warning("venue logout", venue=self._names.get(sessionID.toString()),
                            text=translate.fields_of(text).get("58"))
        except Exception:  # noqa: BLE001
            self.counts.callback_failed("fromAdmin")

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        # QuickFIX calls this on the thread that sends: the loop for what the manager sends, its own
        # thread when it answers a venue's ResendRequest. A venue that asks for a resend (its store
        # lost our messages, or it restarted) gets no old NewOrderSingle again: the child was given
        # up at its sweep's deadline and its shares reconciled, so the order going out late would
        # trade shares already re-used. QuickFIX sends a gap fill in its place; cancels and status
        # requests are harmless and do go again.
        if threading.get_ident() == self._sender_thread:
            return  # our own send from the loop (the normal case): no SWIG call, no GIL hand-over
        try:
            header = message.getHeader()
            resent = header.isSetField(43) and header.getField(43) == "Y" and header.getField(35) == "D"
        except Exception:  # noqa: BLE001 - see module docstring
            self.counts.callback_failed("toApp")
            return
        if resent:
            self.orders_not_resent += 1
            raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            keep_thread_state()
            self.counts.received += 1
            # The venue comes from the CompIDs inside the text rather than sessionID.toString():
            # every SWIG call releases the GIL, and each release costs a hand-over to the loop thread
            # and back (one call fewer per report, measurable in the sweep latency).
            fields = translate.fields_of(message.toString())
            venue = self._by_comp_ids.get((fields.get("56", ""), fields.get("49", "")))
            if venue is None:
                venue = self._names[sessionID.toString()]
            result = translate.venue_message_fields(fields, venue)
            if isinstance(result, translate.Ignored):
                if result.msg_type == "j":
                    self.rejects += 1
                log.warning("venue message dropped", venue=venue, msg_type=result.msg_type,
                            ref_msg_type=result.fields.get("372"), ref_seq_num=result.fields.get("45"),
                            reason=result.fields.get("380"), text=result.fields.get("58"))
                return
            self._bridge.put(result)
        except QUICKFIX_CALLBACK_ERRORS:
            raise
        except Exception:  # noqa: BLE001
            self.counts.callback_failed("fromApp")

    # -- VenuePort (the loop's thread) ----------------------------------------------------------

    def submit(self, command: SubmitChild) -> bool:
        return self._send(command.venue, translate.new_order_single, command)

    def cancel(self, command: CancelChild) -> bool:
        return self._send(command.venue, translate.order_cancel_request, command)

    def query(self, command: QueryChild) -> bool:
        return self._send(command.venue, translate.order_status_request, command)

    def logged_on(self, venue: str) -> bool:
        return self._logged_on.get(venue, False)

    def _send(self, venue: str, build, command) -> bool:
        self._sender_thread = threading.get_ident()  # the loop's: one thread sends all we send
        if not self._logged_on.get(venue, False):
            return self.counts.not_sent()
        return self.counts.send(build, command, self._session_ids[venue], venue)
