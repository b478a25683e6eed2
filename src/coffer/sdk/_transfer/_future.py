"""Transfer futures: the state of one transfer, how callers wait for it, pause, resume and cancel it.

A future moves queued -> running -> done | failed | cancelled, and may sit in "paused" in between.
Pausing stops new parts from starting (parts already on the wire finish, so nothing is half-sent);
the coordinator parks at its next checkpoint until resume() or cancel(). Progress is counted here
and fanned out to subscribers; a subscriber that raises is logged and ignored, never allowed to
break the transfer it watches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from coffer.sdk._errors import TransferCancelled

log = logging.getLogger("coffer.transfer")

QUEUED, RUNNING, PAUSED, DONE, FAILED, CANCELLED = "queued", "running", "paused", "done", "failed", "cancelled"
FINAL = (DONE, FAILED, CANCELLED)


class Subscriber:
    """Base class for progress callbacks; override what you need (duck typing works too).

    ``on_progress`` gets the bytes moved since its previous call (negative when a failed attempt is
    taken back before a retry); ``future.bytes_transferred`` is the running total.
    """

    def on_queued(self, future: TransferFuture) -> None:
        pass

    def on_progress(self, future: TransferFuture, bytes_transferred: int) -> None:
        pass

    def on_done(self, future: TransferFuture) -> None:
        pass


class TransferFuture:
    """The handle a transfer manager returns for each upload, download, copy or directory transfer."""

    def __init__(self, kind: str, meta: dict[str, Any], subscribers: Iterable[Any] | None = None) -> None:
        self.kind = kind
        self.meta = meta
        self.subscribers = list(subscribers or [])
        self.total: int | None = None
        self.bytes_transferred = 0
        self.bytes_resumed = 0  # bytes found already stored (resumed uploads), counted in the total
        self.state = QUEUED
        self._result: Any = None
        self._exception: BaseException | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._cancel = threading.Event()
        self._callbacks: list[Callable[[TransferFuture], None]] = []
        self._notify("on_queued")

    def __repr__(self) -> str:
        target = self.meta.get("key") or self.meta.get("prefix") or ""
        return f"<TransferFuture {self.kind} {target!r} {self.state} {self.bytes_transferred}/{self.total}>"

    # --- caller side --------------------------------------------------------------------------------

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the transfer; return its result or raise its error (TransferCancelled if cancelled)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"transfer not finished after {timeout}s")
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"transfer not finished after {timeout}s")
        return self._exception

    def done(self) -> bool:
        return self._done.is_set()

    def cancelled(self) -> bool:
        return self.state == CANCELLED

    def paused(self) -> bool:
        return not self._running.is_set() and not self.done()

    def cancel(self) -> bool:
        """Stop the transfer and clean up what it stored (aborted upload, removed partial file).

        Returns False if it had already finished. ``result()`` then raises TransferCancelled.
        """
        if self.done():
            return False
        self._cancel.set()
        self._running.set()  # a paused transfer must wake up to notice
        return True

    def pause(self) -> bool:
        """Stop starting new parts; parts in flight finish. Returns False if already finished."""
        if self.done():
            return False
        self._running.clear()
        with self._lock:
            if self.state == RUNNING:
                self.state = PAUSED
        return True

    def resume(self) -> bool:
        if self.done():
            return False
        with self._lock:
            if self.state == PAUSED:
                self.state = RUNNING
        self._running.set()
        return True

    def add_done_callback(self, fn: Callable[[TransferFuture], None]) -> None:
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    # --- coordinator side ---------------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def checkpoint(self) -> None:
        """Park while paused; raise TransferCancelled once cancel() was called."""
        if not self._running.is_set():
            self._running.wait()
        if self._cancel.is_set():
            raise TransferCancelled("transfer cancelled", resource=self.meta.get("key"))

    def set_running(self) -> None:
        with self._lock:
            if self.state == QUEUED:
                self.state = RUNNING if self._running.is_set() else PAUSED

    def add_progress(self, n: int) -> None:
        if not n:
            return
        with self._lock:
            self.bytes_transferred += n
        self._notify("on_progress", n)

    def set_result(self, value: Any) -> None:
        self._finish(DONE, value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._finish(CANCELLED if isinstance(exc, TransferCancelled) else FAILED, None, exc)

    def _finish(self, state: str, value: Any, exc: BaseException | None) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.state, self._result, self._exception = state, value, exc
            callbacks, self._callbacks = self._callbacks, []
            self._done.set()
        self._running.set()
        self._notify("on_done")
        for fn in callbacks:
            try:
                fn(self)
            except Exception:
                log.exception("transfer done-callback failed")

    def _notify(self, event: str, *args: Any) -> None:
        for sub in self.subscribers:
            fn = getattr(sub, event, None)
            if fn is None:
                continue
            try:
                fn(self, *args)
            except Exception:
                log.exception("subscriber %r failed in %s", sub, event)
