"""The start-up announcement: the line ``ready`` comes out whole, never glued to a log line, even
while the log writer thread writes batches to the same file (stdout and stderr merged, as
engine.process.launch runs the engine and the sim venues)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import structlog
    import engine.process.logs
    from engine.process.logs import configure_logging, write_line

    engine.process.logs.FLUSH_SECONDS = 0.0002  # batches far more often than in production: collisions likely
    configure_logging("json", "info", stream=sys.stderr)
    log = structlog.get_logger("noise")
    stop = threading.Event()

    def noise():
        while not stop.is_set():
            log.info("a log line long enough to be split across writes", payload="x" * 300)

    threads = [threading.Thread(target=noise) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(1000):
        write_line("ready")
        time.sleep(0.0002)
    stop.set()
    for thread in threads:
        thread.join()
""")


def test_ready_is_always_a_whole_line_among_log_batches_on_a_shared_file(tmp_path):
    output = tmp_path / "out.log"
    with open(output, "w") as file:
        subprocess.run([sys.executable, "-c", _SCRIPT], stdout=file, stderr=subprocess.STDOUT, check=True,
                       timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = output.read_text().splitlines()
    assert sum(line == "ready" for line in lines) == 1000
    assert not [line for line in lines if "ready" in line and line != "ready" and "a log line" not in line]
    assert all(line.startswith("{") and line.endswith("}") for line in lines if line != "ready")
