"""Runs a whole Engine (FIX gateway, order manager, journal) on its own asyncio loop in a thread, so
a test can drive it with the blocking TraderClient like a real trader would."""

from __future__ import annotations

import asyncio
import threading

from engine.app import Engine
from engine.config import EngineConfig


class EngineThread:
    def __init__(self, config: EngineConfig) -> None:
        self.engine = Engine(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="engine-loop", daemon=True)

    def start(self) -> "EngineThread":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.engine.start(), self.loop).result(30)
        return self

    def call(self, function):
        """Runs ``function()`` on the engine's loop (the manager's state is only touched there)."""
        async def run():
            return function()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.engine.stop(), self.loop).result(60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    @property
    def manager(self):
        return self.engine.manager
