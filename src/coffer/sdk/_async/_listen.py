"""Live bucket events on asyncio: :class:`AsyncEventStream`, the async twin of ``sdk/_listen.py``.

    async with bucket.listen(events=["s3:ObjectCreated:*"], prefix="logs/") as stream:
        async for ev in stream:          # BucketEvent
            ...

The request goes out when the ``async with`` (or ``await stream.open()``) starts; the stream is live
once that returns. Iteration stops when the server ends the stream; a broken connection raises
:class:`ConnectionFailed`. The events are the sync SDK's :class:`BucketEvent`.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp

from coffer.sdk._errors import ConnectionFailed
from coffer.sdk._listen import BucketEvent, parse_line

if TYPE_CHECKING:
    from coffer.sdk._async._transport import AsyncResponse, AsyncTransport


class AsyncEventStream:
    def __init__(self, transport: AsyncTransport, bucket: str | None, query: list[tuple[str, str]]) -> None:
        self._t, self._bucket, self._query = transport, bucket, query
        self._resp: AsyncResponse | None = None
        self._pending: list[BucketEvent] = []
        self._opened = False

    async def open(self) -> AsyncEventStream:
        if not self._opened:
            self._opened = True
            self._resp = await self._t.request("GET", self._bucket, query=self._query, stream=True)
        return self

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> BucketEvent:
        await self.open()
        while not self._pending:
            if self._resp is None or self._resp.raw is None:
                raise StopAsyncIteration
            try:
                line = await self._resp.raw.content.readline()
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                self.close()
                raise ConnectionFailed(f"listen stream: {e}") from e
            if not line:
                self.close()
                raise StopAsyncIteration
            try:
                self._pending = parse_line(line)  # none on a keep-alive line: read the next
            except ConnectionFailed:
                self.close()
                raise
        return self._pending.pop(0)

    def close(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.discard()  # not read to its end: the connection cannot be reused

    async def __aenter__(self) -> AsyncEventStream:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()
