"""A timer thread that runs small actions (send a report, drop a connection) at a due time.

Latency, delayed reports and disconnects must never sleep on a QuickFIX thread (it serves every
session of the acceptor), and disconnecting from inside a callback is unsafe; this thread does both.
Actions with the same due time run in the order they were scheduled, so the reports of one order
keep their sequence. A failing action is reported and never kills the thread.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable


class Scheduler:
    def __init__(self, on_error: Callable[[BaseException], None], clock: Callable[[], float] = time.monotonic,
                 name: str = "sim-venues-scheduler") -> None:
        self._on_error = on_error
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._wake = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def at(self, due: float, action: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._heap, (due, next(self._sequence), action))
            if self._heap[0][2] is action:
                self._wake.notify()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.at(self._clock() + delay, action)

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(timeout)

    def pending(self) -> int:
        with self._wake:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._running and (not self._heap or self._heap[0][0] > self._clock()):
                    timeout = self._heap[0][0] - self._clock() if self._heap else None
                    self._wake.wait(timeout)
                if not self._running:
                    return
                _, _, action = heapq.heappop(self._heap)
            # Run outside the lock: actions call into QuickFIX, which must never be entered holding
            # a Python lock another thread may want.
            try:
                action()
            except BaseException as error:  # noqa: BLE001 - the thread must survive any action
                self._on_error(error)
