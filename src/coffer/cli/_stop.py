"""How the long-running commands (``mirror --watch``, ``watch``) stop on SIGTERM or Ctrl-C: promptly and cleanly.

No exception is raised into the main thread from a signal handler. Python runs a handler wherever the
main thread happens to be, and an exception raised while it is inside a finalizer (urllib3 closing a
dropped connection pool, for one) is printed as "Exception ignored" and dropped: the signal is lost and
the command waits on its listen stream forever. Instead, while a :class:`Stopper` is active, SIGTERM and
SIGINT are blocked in every thread and one daemon thread takes them with ``sigwait``; it sets the stop
flag and ends whatever the main thread may be blocked on: the listen stream (its socket is shut down,
``EventStream.interrupt``) and the transfers in flight (cancelled through the callbacks registered with
``on_stop``: an upload is aborted, a partial download removed). The main loop sees the flag and returns.
A second signal ends the process at once (exit code 130).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from coffer.cli._output import EXIT_INTERRUPTED

SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


class Stopper:
    """``with Stopper() as stop:`` … ``while not stop.requested``; ``stop.wait(s)`` sleeps until the stop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) when a stop was asked for."""
        return self.event.wait(seconds)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (in the signal thread) when the stop comes; at once if it came already."""
        with self._lock:
            if not self.event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @contextmanager
    def interrupting(self, stream: Interruptible) -> Iterator[None]:
        """While the block runs, a stop interrupts ``stream`` (a blocked read returns at once)."""
        callback = stream.interrupt
        self.on_stop(callback)
        try:
            yield
        finally:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

    def stop(self) -> None:
        """Ask for the stop (what a signal does): set the flag, then run the callbacks."""
        with self._lock:
            self.event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # stopping goes on whatever one callback does
                pass

    def _take_signals(self) -> None:
        signal.sigwait(SIGNALS)
        self.stop()
        signal.sigwait(SIGNALS)
        os._exit(EXIT_INTERRUPTED)  # a second signal: the user means it

    def __enter__(self) -> Stopper:
        # Blocked before the thread starts, so it (and every thread started later) inherits the mask.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        threading.Thread(target=self._take_signals, name="coffer-signals", daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # The signal thread stays in sigwait (a daemon: it ends with the process) and the signals stay
        # blocked, so one that comes while the command winds up is still taken there, never raised.
        return None
