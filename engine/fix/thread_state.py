"""Keep one Python thread state per QuickFIX thread, instead of one per callback.

QuickFIX calls Python from its own C++ threads through SWIG directors, and SWIG wraps every
callback in ``PyGILState_Ensure`` / ``PyGILState_Release``. On a thread Python has not seen before
(or no longer holds a state for), that pair creates a fresh ``PyThreadState`` and destroys it again
when the callback returns, and CPython 3.11 maps and unmaps a new 16 KiB frame stack for it each
time (the ``mmap``/``munmap`` py-spy shows under ``SwigDirector_Application::fromApp``).
One extra ``PyGILState_Ensure``, never released, taken on the QuickFIX thread during its first
callback, keeps that thread's state alive, so every later callback on the thread only takes the
GIL. The state is freed with the interpreter; a gateway that is stopped and started again leaves
one small state per old thread behind.

Measured on the bench (sweep of 12 IOC children): see the README's engine section.
"""

from __future__ import annotations

import ctypes
import threading

_kept: set[int] = set()
_lock = threading.Lock()
_ensure = ctypes.pythonapi.PyGILState_Ensure
_ensure.restype = ctypes.c_int
_ensure.argtypes = []


def keep_thread_state() -> None:
    """Call first in every QuickFIX callback; costs one set lookup after the thread's first call."""
    ident = threading.get_ident()
    if ident in _kept:
        return
    with _lock:
        if ident not in _kept:
            _ensure()  # the GIL is held here: this only raises the state's nesting count
            _kept.add(ident)
