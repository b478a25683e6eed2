"""The asyncio SDK (aiohttp): :class:`AsyncClient` and its async bucket/object handles, readers and
writers, with the same API shape as the sync SDK. Public names are exported from ``coffer``.

Modules and packages:
  _client     The asyncio entry point: :class:`AsyncClient`, the sync ``Client`` as coroutines on aiohttp.
  _future     Async transfer futures: pause, resume and cancel of a transfer running as a task on the loop.
  _handles    Async bucket and object handles: the sync ``Bucket``/``Object`` API as coroutines.
  _listen     Live bucket events on asyncio: :class:`AsyncEventStream`, the async twin of ``sdk/_listen.py``.
  _transfer   The async transfer manager: many files up and down at once on one event loop.
  _io         Async readers and writers: streaming GETs and whole-object / multipart PUTs on aiohttp.
  _transport  The async SDK's HTTP core: one aiohttp session, SigV4 signing, retries, tracing.
"""
