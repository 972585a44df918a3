"""Logon lockout: refused logons of one CompID from one address, counted in a sliding window.

Pure (the caller passes the time). ``failures`` refusals within ``window_seconds`` lock that
(CompID, address) out for ``lock_seconds``: every logon from it is refused unchecked until then,
so a counterparty's initiator retrying a wrong password every ReconnectInterval, or someone trying
passwords, gets nowhere. A good logon clears the key's count. The key's address is None where the
acceptor cannot tell it (QuickFIX's SSL acceptor): then the CompID is locked from everywhere,
which is the safe side.

    lockout = LogonLockout(failures=5, window_seconds=60, lock_seconds=300)
    if lockout.locked(key, now): refuse
    elif bad password: lockout.failed(key, now)   # True when this failure locked the key
    else: lockout.succeeded(key)
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple


class LogonKey(NamedTuple):
    comp_id: str
    address: str | None


class LogonLockout:
    def __init__(self, failures: int, window_seconds: float, lock_seconds: float) -> None:
        if failures < 1 or window_seconds <= 0 or lock_seconds <= 0:
            raise ValueError("failures >= 1, window_seconds > 0 and lock_seconds > 0 expected")
        self.failures = failures
        self.window_seconds = window_seconds
        self.lock_seconds = lock_seconds
        self._recent: dict[LogonKey, deque[float]] = {}
        self._locked_until: dict[LogonKey, float] = {}

    def locked(self, key: LogonKey, now: float) -> bool:
        until = self._locked_until.get(key)
        if until is None:
            return False
        if now >= until:  # expired: the key starts afresh
            del self._locked_until[key]
            self._recent.pop(key, None)
            return False
        return True

    def failed(self, key: LogonKey, now: float) -> bool:
        """Count a refusal; True when it locks the key out."""
        if self.locked(key, now):
            return False
        recent = self._recent.setdefault(key, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window_seconds:
            recent.popleft()
        if len(recent) >= self.failures:
            self._locked_until[key] = now + self.lock_seconds
            recent.clear()
            return True
        self._forget_idle(now)
        return False

    def succeeded(self, key: LogonKey) -> None:
        self._recent.pop(key, None)

    def locked_keys(self, now: float) -> list[tuple[LogonKey, float]]:
        """(key, seconds left) of every key locked out now."""
        return [(key, until - now) for key, until in list(self._locked_until.items()) if self.locked(key, now)]

    def _forget_idle(self, now: float) -> None:
        # bounded memory under a scan of many CompIDs or addresses: windows that have emptied go
        if len(self._recent) > 10_000:
            for key in [k for k, times in self._recent.items() if not times or times[-1] <= now - self.window_seconds]:
                del self._recent[key]
