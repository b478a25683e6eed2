"""Aspera subscribers and futures over Coffer's TransferFuture: IBM's keyword calls, progress as a
rising running total, ``result()`` that returns once ``on_done`` has run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coffer.compat.aspera.config import AsperaConfig, AsperaTransferFailedError, CancelledError
from coffer.sdk._errors import TransferCancelled
from coffer.sdk._transfer import TransferFuture

log = logging.getLogger("coffer.compat.aspera")


class AsperaBaseSubscriber:
    """Base class of Aspera subscribers: override ``on_queued``, ``on_progress``, ``on_done``.

    ``on_progress`` receives the total bytes moved so far by the transfer (for a directory, by all of
    its files), as IBM's Aspera library reports it.
    """

    def on_queued(self, future: AsperaTransferFuture, **kwargs: Any) -> None:
        pass

    def on_progress(self, future: AsperaTransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        pass

    def on_done(self, future: AsperaTransferFuture, **kwargs: Any) -> None:
        pass


class Relay:
    """A Coffer subscriber that calls Aspera subscribers: progress as a running, rising total."""

    def __init__(self, future: AsperaTransferFuture, subscribers: Iterable[Any]) -> None:
        self.future = future
        self.subscribers = list(subscribers)
        self._lock = threading.Lock()
        self._total = 0
        self._reported = 0
        self._finished = False
        self.delivered = threading.Event()  # set once on_done has run for every subscriber

    def _call(self, event: str, **kwargs: Any) -> None:
        for sub in self.subscribers:
            fn = getattr(sub, event, None)
            if fn is None:
                continue
            try:
                fn(future=self.future, **kwargs)
            except Exception:
                log.exception("Aspera subscriber %r failed in %s", sub, event)

    def on_queued(self, future: TransferFuture) -> None:
        self._call("on_queued")

    def on_progress(self, future: TransferFuture, n: int) -> None:
        # Under the lock so totals reach the subscribers in order; a retried part takes its bytes
        # back (negative n) and the total is reported again only once it rises past what was said.
        with self._lock:
            self._total += n
            if self._finished or self._total <= self._reported:
                return
            self._reported = self._total
            self._call("on_progress", bytes_transferred=self._total)

    def on_done(self, future: TransferFuture) -> None:
        with self._lock:
            self._finished = True
        try:
            self._call("on_done")
        finally:
            self.delivered.set()


@dataclass
class CallArgs:
    """What the transfer was asked to do (IBM's ``future.meta.call_args``)."""

    bucket: str
    key: str
    fileobj: str
    direction: str  # "send" | "receive"
    directory: bool
    transfer_config: AsperaConfig | None
    subscribers: list[Any]


@dataclass
class TransferMeta:
    """IBM's ``future.meta``: ``transfer_id``, ``call_args``, ``size`` (bytes, once known), ``user_context``."""

    call_args: CallArgs
    transfer_id: str
    user_context: dict[str, Any] = field(default_factory=dict)
    _future: AsperaTransferFuture | None = None

    @property
    def size(self) -> int | None:
        fut = self._future.coffer_future if self._future is not None else None
        return fut.total if fut is not None else None

    def provide_transfer_size(self, size: int) -> None:
        """Accepted for IBM compatibility; the size always comes from the file or the listing."""
        del size


class AsperaTransferFuture:
    """The handle of one transfer: ``result()``, ``pause()``, ``resume()``, ``cancel()``, ``is_done()``.

    ``pause()`` stops new requests from starting (requests in flight finish, so the server holds only
    whole parts and at most ``multi_session`` connections were busy); ``resume()`` carries on from
    what is already stored or written; ``cancel()`` removes partial local files and aborts multipart
    uploads, and ``result()`` then raises :class:`CancelledError`.
    """

    def __init__(self, meta: TransferMeta) -> None:
        self._meta = meta
        meta._future = self
        self.coffer_future: TransferFuture | None = None
        self._relay: Relay | None = None

    @property
    def meta(self) -> TransferMeta:
        return self._meta

    @property
    def bytes_transferred(self) -> int:
        return self.coffer_future.bytes_transferred if self.coffer_future is not None else 0

    def _f(self) -> TransferFuture:
        assert self.coffer_future is not None
        return self.coffer_future

    def is_done(self) -> bool:
        if self.coffer_future is None:  # asked from on_queued, before the call has returned
            return False
        return self.coffer_future.done() and (self._relay is None or self._relay.delivered.is_set())

    def done(self) -> bool:
        return self.is_done()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the transfer (and its ``on_done`` subscribers); return Coffer's result or raise."""
        exc = self._f().exception(timeout)
        if self._relay is not None and not self._relay.delivered.wait(timeout):
            raise TimeoutError(f"subscribers not done after {timeout}s")
        if exc is None:
            return self._f().result()
        raise self._translate(exc)

    @staticmethod
    def _translate(exc: BaseException) -> BaseException:
        if isinstance(exc, CancelledError):
            return exc
        if isinstance(exc, TransferCancelled):
            err: BaseException = CancelledError(exc.message, resource=exc.resource)
        else:
            err = AsperaTransferFailedError(f"{type(exc).__name__}: {exc}", exc)
        err.__cause__ = exc
        return err

    def cancel(self) -> bool:
        return self._f().cancel()

    def pause(self) -> bool:
        return self._f().pause()

    def resume(self) -> bool:
        return self._f().resume()

    def is_error(self) -> bool:
        return self._f().state == "failed"

    def is_success(self) -> bool:
        return self._f().state == "done"

    def is_cancelled(self) -> bool:
        return self._f().cancelled()

    def get_last_error(self) -> str:
        exc = self._f().exception(0) if self._f().done() else None
        return "" if exc is None else str(exc)

    def __repr__(self) -> str:
        return f"<AsperaTransferFuture {self._meta.transfer_id} {self.coffer_future!r}>"
