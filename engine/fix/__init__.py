"""The FIX edge: the only engine package that imports quickfix.

- :mod:`engine.fix.settings`: QuickFIX session settings from the engine config (pure tables + builder).
- :mod:`engine.fix.translate`: FIX <-> domain messages as pure functions over tag=value strings.
- :mod:`engine.fix.bridge`: QuickFIX threads -> the asyncio loop (one wake-up per batch).
- :mod:`engine.fix.trader_edge`, :mod:`engine.fix.venue_edge`: the two ``quickfix.Application``
  subclasses, which also implement the manager's ``TraderPort`` and ``VenuePort``.
- :mod:`engine.fix.gateway`: :class:`~engine.fix.gateway.FixGateway` owns both sides.
- :mod:`engine.fix.trader_client`: a FIX 4.4 trader initiator (``dark-agg order``, demo, tests).
  Its reports as plain records: :mod:`engine.fix.trader_reports` (no quickfix).
- Session security: :mod:`engine.fix.logon_guard` (a trader Logon's credentials and lockout),
  :mod:`engine.fix.connection_log` (QuickFIX's connection events: a logon's remote address),
  :mod:`engine.fix.tls_support` (whether this quickfix was built with TLS).

This ``__init__`` does not import quickfix, so the pure modules (settings tables, translate) load
without it.
"""

from __future__ import annotations

import signal
import threading


def restore_sigint() -> None:
    """Undo what ``import quickfix`` does to Ctrl-C. Call it right after importing quickfix.

    The first ``import quickfix`` resets SIGINT to the C default, so Ctrl-C would kill the process
    with no cleanup, yet ``signal.getsignal`` still reports Python's handler (it reads Python's own
    record, not the C state). Re-installing the handler Python believes is set (Python's
    ``default_int_handler`` when there is none) puts the C state back. Idempotent; does nothing
    off the main thread, where the embedding program owns signals.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler if handler is None else handler)
