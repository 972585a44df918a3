"""A QuickFIX Application that does nothing: for a session that only needs to exist (the TLS build
check, test sessions)."""

from __future__ import annotations

import quickfix as fix

from engine.fix import restore_sigint

restore_sigint()


class QuietApplication(fix.Application):
    def onCreate(self, sessionID): pass
    def onLogon(self, sessionID): pass
    def onLogout(self, sessionID): pass
    def toAdmin(self, message, sessionID): pass
    def fromAdmin(self, message, sessionID): pass
    def toApp(self, message, sessionID): pass
    def fromApp(self, message, sessionID): pass
