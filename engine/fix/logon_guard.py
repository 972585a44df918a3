"""Who may log on to the trader port: credentials, lockout, and the record of every refusal.

The trader edge calls :meth:`LogonGuard.check` from ``fromAdmin`` with each Logon's CompID,
Username (553), Password (554) and the connection's address (``connection_log``), and refuses the
logon when it answers a reason. The trader only ever hears "logon refused": which part was wrong
is for our log and metrics, not for whoever is trying passwords. The log line carries the CompID,
the address and the reason, never a password.

Fails closed: a guard that cannot evaluate a logon (a bug, a missing store) refuses it.
Thread-safe: the thread-per-connection acceptor runs logons of different traders at once.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import structlog

from engine.config import TraderConfig
from engine.domain.lockout import LogonKey, LogonLockout

log = structlog.get_logger("engine.fix.trader")

LOCKED_OUT, BAD_CREDENTIALS = "locked out", "bad credentials"


class LogonGuard:
    def __init__(self, trader: TraderConfig, secrets=None, clock: Callable[[], float] = time.monotonic) -> None:
        """``secrets``: an ``engine.security.SecretStore`` (required when credentials are)."""
        if trader.credentials and secrets is None:
            raise ValueError("trader credentials are required but there is no secrets store")
        self.credentials_required = trader.credentials
        self._secrets = secrets
        self._clock = clock
        lockout = trader.lockout
        self._lockout = LogonLockout(lockout.failures, lockout.window_seconds, lockout.seconds)
        self._lock = threading.Lock()
        self.on_refused: Callable[[str], None] | None = None  # reason -> metrics
        self.refusals = 0
        if secrets is not None and trader.credentials:
            lacking = [s for s in trader.sessions if not secrets.has_trader(s)]
            if lacking:
                log.warning("trader sessions without a credential: their logons will be refused", sessions=lacking)

    def check(self, comp_id: str, address: str | None, username: str | None, password: str | None) -> str | None:
        """None: let the logon in; else the reason it is refused (already logged and counted)."""
        key = LogonKey(comp_id, address)
        try:
            with self._lock:
                locked = self._lockout.locked(key, self._clock())
            if locked:
                return self._refused(key, LOCKED_OUT)
            if not self.credentials_required:
                return None
            good = self._secrets.verify_trader(comp_id, username, password)  # scrypt: outside the lock
            with self._lock:
                if good:
                    self._lockout.succeeded(key)
                    return None
                just_locked = self._lockout.failed(key, self._clock())
            if just_locked:
                log.error("trader logons locked out", session=comp_id, address=address or "unknown",
                          failures=self._lockout.failures, seconds=self._lockout.lock_seconds)
            return self._refused(key, BAD_CREDENTIALS)
        except Exception:  # noqa: BLE001 - fail closed
            log.exception("trader logon could not be checked: refused", session=comp_id)
            return self._refused(key, "check failed")

    def refused_elsewhere(self, comp_id: str | None, address: str | None, reason: str) -> None:
        """A logon QuickFIX refused before ``fromAdmin`` (an unknown CompID, an address not allowed)."""
        self._refused(LogonKey(comp_id or "?", address), reason)

    def locked_out(self) -> list[tuple[LogonKey, float]]:
        with self._lock:
            return self._lockout.locked_keys(self._clock())

    def _refused(self, key: LogonKey, reason: str) -> str:
        self.refusals += 1
        log.warning("trader logon refused", session=key.comp_id, address=key.address or "unknown", reason=reason)
        if self.on_refused is not None:
            self.on_refused(reason)
        return reason
