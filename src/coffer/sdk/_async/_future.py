"""Async transfer futures: pause, resume and cancel of a transfer running as a task on the loop.

:class:`AsyncTransferFuture` is the sync :class:`TransferFuture` (state, progress, subscribers,
``bytes_resumed``) with an asyncio gate: ``pause()`` closes it, so the transfer takes no new request
slot (parts already on the wire finish); ``resume()`` opens it; ``cancel()`` cancels the task that
runs the transfer, whose clean-up aborts a multipart upload or removes a partial download, and
awaiting the future then raises :class:`TransferCancelled`. A directory's future passes pause,
resume and cancel on to the file transfers it runs, and pauses the ones it starts while paused.

The caller-side methods may be called from the loop or from another thread (they then hop onto the
loop). ``await future`` (or ``await future.wait()``) gives the result; the inherited blocking
``result(timeout)`` is for other threads only: on the loop it refuses to block.

:class:`TransferSlots` is one transfer's view of the manager's request slots: acquiring one parks
while the transfer is paused, and a slot won while it was paused is handed back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterable
from typing import Any

from coffer.sdk._errors import TransferCancelled
from coffer.sdk._transfer._future import TransferFuture


class AsyncTransferFuture(TransferFuture):
    """The handle (and status record) of one transfer the async manager runs; see docs/sdk.md."""

    def __init__(self, kind: str, meta: dict[str, Any], subscribers: Iterable[Any] | None = None) -> None:
        super().__init__(kind, meta, subscribers)
        self._gate = asyncio.Event()  # set while running; bound to a loop on first wait
        self._gate.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled_by_handle = False
        self.children: set[AsyncTransferFuture] = set()  # the live file transfers of a directory

    def __repr__(self) -> str:
        return "<Async" + super().__repr__()[1:]

    # --- caller side --------------------------------------------------------------------------------

    def pause(self) -> bool:
        ok = super().pause()
        if ok:
            self._on_loop(self._close_gate)
        for child in list(self.children):
            child.pause()
        return ok

    def resume(self) -> bool:
        ok = super().resume()
        if ok:
            self._on_loop(self._gate.set)
        for child in list(self.children):
            child.resume()
        return ok

    def cancel(self) -> bool:
        ok = super().cancel()
        if ok:
            self._on_loop(self._cancel_task)
        for child in list(self.children):
            child.cancel()
        return ok

    def result(self, timeout: float | None = None) -> Any:
        """The result once done; from a thread other than the loop's, waits up to ``timeout``."""
        self._refuse_to_block()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._refuse_to_block()
        return super().exception(timeout)

    async def wait(self) -> Any:
        """Wait for the transfer; its result, or its error (TransferCancelled once cancelled)."""
        if self._task is None:
            raise RuntimeError("this transfer was not started as a task")
        try:
            return await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._task.cancelled() and self._exception is not None and \
                    not (current is not None and current.cancelling()):
                raise self._exception from None  # the transfer was cancelled, not this waiter
            raise

    def __await__(self) -> Generator[Any, None, Any]:
        return self.wait().__await__()

    # --- coordinator side ---------------------------------------------------------------------------

    async def until_running(self) -> None:
        """Park while paused; raise TransferCancelled once cancel() was called."""
        while not self._gate.is_set():
            await self._gate.wait()
        if self.cancel_requested:
            raise TransferCancelled("transfer cancelled", resource=self.meta.get("key"))

    def started(self, task: asyncio.Task[Any]) -> None:
        self._loop = task.get_loop()
        self._task = task
        task.add_done_callback(self._task_done)
        if self.cancel_requested:
            self._cancel_task()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            if not self.done():  # cancelled before it ever ran: nothing to clean up
                self.set_exception(TransferCancelled("transfer cancelled", resource=self.meta.get("key")))
        else:
            # The error stays in this future (as in the sync manager); retrieving it here keeps
            # asyncio from logging "exception never retrieved" for a future nobody awaits.
            task.exception()

    def cancelled_by_handle(self) -> bool:
        """Whether the running task was cancelled through :meth:`cancel` (not from outside)."""
        return self._cancelled_by_handle

    # --- plumbing -----------------------------------------------------------------------------------

    def _close_gate(self) -> None:
        if self.paused():  # a resume() may have overtaken this call on its way to the loop
            self._gate.clear()

    def _cancel_task(self) -> None:
        self._gate.set()
        if self._task is not None and not self._task.done():
            self._cancelled_by_handle = True
            self._task.cancel()

    def _on_loop(self, fn: Callable[[], None]) -> None:
        if self._loop is None or self._loop.is_closed() or _running_loop() is self._loop:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    def _refuse_to_block(self) -> None:
        if not self.done() and self._loop is not None and _running_loop() is self._loop:
            raise asyncio.InvalidStateError("the transfer is not finished: await it on the event loop")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class TransferSlots:
    """One transfer's view of the manager's request slots (an ``asyncio.Semaphore``)."""

    def __init__(self, slots: asyncio.Semaphore, future: AsyncTransferFuture) -> None:
        self.slots = slots
        self.future = future

    async def acquire(self) -> bool:
        while True:
            await self.future.until_running()
            await self.slots.acquire()
            if self.future.paused() or self.future.cancel_requested:
                self.slots.release()  # paused (or cancelled) while it waited: give the slot back
                continue
            return True

    def release(self) -> None:
        self.slots.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()
