"""`dark-agg run --config config/engine.yaml`: the aggregator, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from engine.config import load_engine_config
from engine.config.loading import load_or_report
from engine.process.runtime import freeze_startup_heap


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/engine.yaml",
                        help="engine config (default: %(default)s); `dark-agg config check` validates it")
    parser.add_argument("--log-format", choices=["auto", "console", "json"],
                        help="override the config's log_format (auto: readable on a terminal, JSON otherwise)")


def run(args: argparse.Namespace) -> int:
    from engine.process.logs import configure_logging

    config = load_or_report(load_engine_config, args.config, "run")
    if config is None:
        return 2
    configure_logging(args.log_format or config.log_format, config.log_level)
    return asyncio.run(serve(config))


async def serve(config) -> int:
    from engine.app import Engine
    from engine.process.logs import write_line

    engine = Engine(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also undoes quickfix's reset of SIGINT
        loop.add_signal_handler(signum, stop.set)
    try:
        await engine.start()
    except OSError as error:
        print(f"dark-agg run: cannot start: {error}", file=sys.stderr)
        await engine.stop()
        return 2
    freeze_startup_heap()  # a process-wide setting: here, not in Engine, which tests run in their own process
    write_line("ready")  # what scripts wait for (engine.process.launch): one whole line, never glued to a log line
    failed = asyncio.ensure_future(engine.manager.failed.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (failed, stopped):
        waiter.cancel()
    await engine.stop()
    return 1 if engine.manager.failed.is_set() else 0
