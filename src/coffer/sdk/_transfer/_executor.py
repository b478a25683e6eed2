"""Scheduling for the transfer manager: bounded worker pools, request slots and the part runner.

Two pools: coordinators (one per running transfer: plan, create, complete) and I/O workers (one
part each). A shared semaphore of ``max_concurrency`` slots bounds the requests in flight across all
transfers of a manager; a coordinator takes a slot *before* a part is read into memory and the worker
gives it back, so memory stays under ``max_concurrency x part size`` however many transfers queue up.
Waiting for a slot is where pause and cancel take effect.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from coffer.sdk._body import Throttle
from coffer.sdk._errors import ConnectionFailed, IntegrityError, ServerError, TransferCancelled
from coffer.sdk._transfer._future import TransferFuture

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

    def inline(self, future: TransferFuture, fn: Callable[[], T]) -> T:
        """Run one request on the coordinator thread under a slot (small files need no worker hop)."""
        self.acquire(future)
        try:
            return with_retries(fn, future)
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
    future: TransferFuture, sched: Scheduler, tasks: Iterable[Callable[[], T]], keep_going: bool = False
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
            return with_retries(fn, future)
        finally:
            sched.release()

    count = 0
    try:
        for index, task in enumerate(tasks):
            reap(block=False)
            if error is not None and not keep_going:
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
