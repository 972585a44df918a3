"""A running asyncio loop on its own thread, standing in for the engine's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-engine-loop", daemon=True)
        self.ident: int | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.ident = threading.get_ident()
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(5), "the loop did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def engine_loop():
    loop_thread = LoopThread()
    loop_thread.start()
    yield loop_thread
    loop_thread.stop()
