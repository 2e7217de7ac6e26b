"""The server's threads leave signals to the main thread.

``exec`` supervises its child from the main thread, waiting for signals with ``sigtimedwait``
(``cli.supervisor``): a signal the kernel delivered to another thread instead would be handled
there, or run its default action and end the process. Each thread the server starts blocks the
asynchronous signals first; faults (SIGSEGV and the like) stay unblocked.
"""

from __future__ import annotations

import signal

_FAULTS = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGSYS", "SIGABRT"}


def leave_signals_to_the_main_thread() -> None:
    """Block every asynchronous signal in the calling thread (where the platform can)."""
    if not hasattr(signal, "pthread_sigmask"):
        return
    faults = {getattr(signal, name) for name in _FAULTS if hasattr(signal, name)}
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - faults)
