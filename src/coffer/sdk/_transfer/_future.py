"""Transfer futures (the state of one transfer: wait, pause, resume, cancel) and their scheduler.

A future moves queued -> running -> done | failed | cancelled, and may sit in "paused" in between.
Pausing stops new parts from starting (parts already on the wire finish, so nothing is half-sent);
the coordinator parks at its next checkpoint until resume() or cancel(). Progress is counted here
and fanned out to subscribers; a subscriber that raises is logged and ignored, never allowed to
break the transfer it watches.

The second half runs them: bounded worker pools, request slots and the part runner. There are two
pools: coordinators (one per running transfer: plan, create, complete) and I/O workers (one part
each). A shared semaphore of ``max_concurrency`` slots bounds the requests in flight across all
transfers of a manager; a coordinator takes a slot *before* a part is read into memory and the
worker gives it back, so memory stays under ``max_concurrency x part size`` however many transfers
queue up. Waiting for a slot is where pause and cancel take effect.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from coffer.sdk._body import Throttle
from coffer.sdk._errors import ConnectionFailed, IntegrityError, ServerError, TransferCancelled

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


# --- scheduling ------------------------------------------------------------------------------------

T = TypeVar("T")

PART_ATTEMPTS = 3  # on top of the transport's own retries of each request


class Scheduler:
    def __init__(self, max_concurrency: int, max_bandwidth: int | None) -> None:
        self.max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self.io = ThreadPoolExecutor(max_concurrency, thread_name_prefix="coffer-io")
        self.coordinators = ThreadPoolExecutor(max_concurrency, thread_name_prefix="coffer-xfer")
        self.throttle = Throttle(max_bandwidth) if max_bandwidth else None

    def acquire(self, future: TransferFuture) -> None:
        """Take a request slot, parking while the future is paused; raise if it gets cancelled."""
        while True:
            future.checkpoint()
            if self._slots.acquire(timeout=0.05):
                if future.cancel_requested or future.paused():
                    self._slots.release()
                    continue
                return

    def release(self) -> None:
        self._slots.release()

    def inline(self, future: TransferFuture, fn: Callable[[], T], attempts: int = 0) -> T:
        """Run one request on the coordinator thread under a slot (small files need no worker hop)."""
        self.acquire(future)
        try:
            return with_retries(fn, future, attempts or PART_ATTEMPTS)
        finally:
            self.release()

    def shutdown(self, wait: bool = True) -> None:
        self.coordinators.shutdown(wait=wait, cancel_futures=not wait)
        self.io.shutdown(wait=wait, cancel_futures=not wait)


def with_retries(fn: Callable[[], T], future: TransferFuture, attempts: int = PART_ATTEMPTS) -> T:
    """Run ``fn``, retrying transient failures a few more times than the transport already did."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (ConnectionFailed, ServerError, IntegrityError):
            if attempt == attempts or future.cancel_requested:
                raise
            time.sleep(random.uniform(0.05, 0.3 * attempt))
    raise AssertionError("unreachable")


def run_parts(
    future: TransferFuture, sched: Scheduler, tasks: Iterable[Callable[[], T]], attempts: int = 0
) -> list[T]:
    """Run part tasks in parallel under the scheduler's slots; results in task order.

    The first failure stops new parts from starting; parts in flight settle before the error is
    raised, so the caller can clean up knowing no request is still writing.
    """
    results: dict[int, T] = {}
    pending: dict[Future[Any], int] = {}
    error: BaseException | None = None

    def reap(block: bool) -> None:
        nonlocal error
        if not pending:
            return
        done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for f in done:
            index = pending.pop(f)
            exc = f.exception()
            if exc is not None:
                if error is None or isinstance(error, TransferCancelled):
                    error = exc
            else:
                results[index] = f.result()

    def wrapped(fn: Callable[[], T]) -> T:
        try:
            return with_retries(fn, future, attempts or PART_ATTEMPTS)
        finally:
            sched.release()

    count = 0
    try:
        for index, task in enumerate(tasks):
            reap(block=False)
            if error is not None:
                break
            sched.acquire(future)
            try:
                pending[sched.io.submit(wrapped, task)] = index
            except BaseException:
                sched.release()
                raise
            count += 1
    except TransferCancelled as exc:
        error = error or exc
    while pending:
        reap(block=True)
    if error is not None:
        raise error
    return [results[i] for i in range(count)]
