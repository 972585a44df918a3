"""Process-wide settings of the long-running processes."""

from __future__ import annotations

import gc

from engine.process.runtime import freeze_startup_heap


def test_freezing_takes_the_startup_heap_out_of_the_collectors_view():
    startup = [[index] for index in range(10_000)]  # long-lived start-up state
    try:
        frozen = freeze_startup_heap()
        assert frozen >= len(startup)
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(entry) in tracked for entry in startup)  # full collections no longer walk them
        work = [[index] for index in range(10)]  # lists are always tracked
        tracked = {id(o) for o in gc.get_objects()}
        assert all(id(entry) in tracked for entry in work)  # what the work allocates is still collected
    finally:
        gc.unfreeze()  # the rest of the test session keeps the default collector
