"""Remote volumes: a storage node's volume, used by the erasure-coded engine like a local one.

Owns the gateway's side of the node API (server/node/app.py): ``NodeClient`` (signed requests over
a urllib3 pool, with timeouts) and ``RemoteVolume``, which offers the methods the engine calls on a
local ``Volume`` (``fragments_of``, ``open_sink``, ``open_fragment``, ``unlink_fragment``,
``fragment_size``, ``iter_refs``, ``sweep_tmp``, ``probe``, ``fail``, ``capacity``) so
``VolumeDataStore``, ``StripeWriter``, ``ObjectReader``, repair, scrub and drain run unchanged over
any mix of local and remote volumes.

* Writes: ``RemoteSink`` streams one fragment as a chunked PUT from its own thread, fed through a
  small bounded queue (the encoder never waits for the network unless a node is slower than the
  queue); the header is sent last, and the node writes tmp -> verify -> fdatasync -> rename -> fsync.
  ``seal`` ends every fragment's body before ``finish`` waits for any answer, so the K+M nodes sync
  in parallel.
* Reads: ``RemoteFragmentFile`` serves ``pread``/``preadv`` from a read-ahead window fetched with one
  ranged GET (``READ_AHEAD`` bytes), so a segment read costs one request per window per fragment,
  not one per record; the header comes with the listing, so opening costs no extra round trip.
* Failures: a node that does not answer (refused, timed out, reset) raises ``OSError``
  (EHOSTUNREACH / ETIMEDOUT / ECONNRESET): the engine demotes the volume to offline exactly as for a
  failing disk, writes skip it and reads decode around it; ``probe()`` (GET info) brings it back.
  Errors the node reports carry their errno (ENOSPC, EROFS, EIO...) and demote the same way.
"""

from __future__ import annotations

import errno
import json
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode

import urllib3

from coffer.protocol import node_auth
from coffer.server.data.volumes.bitrot import HEADER_SIZE, FragmentHeader, encode_record
from coffer.server.data.volumes.volume import Capacity, VolumeState

PREFIX = "/_node/v1"
READ_AHEAD = 4 << 20
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 30.0
QUEUE_DEPTH = 8  # stripes in flight per fragment (bounded memory per write)

_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="coffer-remote")


class NodeError(OSError):
    """A node's answer or silence, as the OSError the engine understands."""


class NodeClient:
    """Signed requests to one storage node (thread-safe: urllib3's pool)."""

    def __init__(self, address: str, secret: str, *, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, ca: str | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self.secret = secret
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.pool: urllib3.HTTPConnectionPool
        if ca:  # TLS: the node's certificate must chain to the CA and name the host of its address
            self.pool = urllib3.HTTPSConnectionPool(host.strip("[]"), int(port), maxsize=32, block=False,
                                                    timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
                                                    ca_certs=ca)
        else:
            self.pool = urllib3.HTTPConnectionPool(host.strip("[]"), int(port), maxsize=32, block=False,
                                                   timeout=timeout, retries=False)

    def request(self, method: str, path: str, query: dict[str, str] | None = None, *, body: Any = None,
                headers: dict[str, str] | None = None, stream: bool = False,
                timeout: urllib3.Timeout | None = None) -> urllib3.BaseHTTPResponse:
        """Send; raise ``NodeError`` for no answer or an error status (with the node's errno)."""
        query = query or {}
        full = PREFIX + path
        signed = node_auth.sign(self.secret, method, full, query, time.time(),
                                None if body is not None and not isinstance(body, bytes) else (body or b""))
        url = full + ("?" + urlencode(sorted(query.items())) if query else "")
        kw: dict[str, Any] = {"headers": {**signed, **(headers or {})}, "preload_content": not stream}
        if body is not None:
            kw["body"] = body
            kw["chunked"] = not isinstance(body, bytes)
        if timeout is not None:
            kw["timeout"] = timeout
        try:
            resp = self.pool.urlopen(method, url, **kw)
        except urllib3.exceptions.TimeoutError as exc:
            raise NodeError(errno.ETIMEDOUT, f"node {self.address}: timed out ({exc})") from exc
        except urllib3.exceptions.NewConnectionError as exc:
            raise NodeError(errno.EHOSTUNREACH, f"node {self.address}: unreachable ({exc})") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise NodeError(errno.ECONNRESET, f"node {self.address}: {exc}") from exc
        if resp.status >= 400:
            raw = resp.data if not stream else resp.read()
            try:
                doc = json.loads(raw)
                text, name = str(doc.get("error", "")), str(doc.get("errno", ""))
            except (ValueError, AttributeError):
                text, name = raw[:200].decode("utf-8", "replace"), ""
            code = getattr(errno, name, None) if name else None
            if resp.status == 403:
                # A wrong cluster secret is a configuration error: say it plainly, never degrade silently.
                code = errno.EACCES if code is None else code
                text = f"node {self.address} refused the request (403): {text}"
            raise NodeError(code if isinstance(code, int) else errno.EIO,
                            f"node {self.address}: {resp.status} {text}")
        return resp

    def json(self, method: str, path: str, query: dict[str, str] | None = None, **kw: Any) -> Any:
        return json.loads(self.request(method, path, query, **kw).data)

    def info(self, timeout: float = CONNECT_TIMEOUT) -> dict:
        return self.json("GET", "/info", timeout=urllib3.Timeout(connect=timeout, read=timeout))


class RemoteFragmentFile:
    """A fragment on a node, read through a read-ahead window that is prefetched (module docstring).

    Reads of a fragment go forward, so when a window arrives the next one is requested at once from
    a pool thread: while the decoder works through this window, every fragment's next window is on
    its way from its own node in parallel. ``prefetch(offset)`` starts the first window early
    (the reader calls it for the fragments it will read first, so even the first windows of the K
    fragments travel in parallel instead of one after another)."""

    def __init__(self, client: NodeClient, path: str, size: int, head: bytes) -> None:
        self.client = client
        self.path = path
        self._size = size
        self._start = 0
        self._window = head  # the header came with the listing
        self._next: tuple[int, int, Future[bytes]] | None = None  # (start, length, the fetch)

    def size(self) -> int:
        return self._size

    def _fetch(self, offset: int, length: int) -> bytes:
        return self.client.request("GET", self.path, headers={"Range": f"bytes={offset}-{offset + length - 1}"}).data

    def prefetch(self, offset: int, length: int = READ_AHEAD) -> None:
        length = min(self._size, offset + length) - offset
        if length <= 0 or (self._next is not None and self._next[0] == offset):
            return
        self._next = (offset, length, _pool.submit(self._fetch, offset, length))

    def pread(self, size: int, offset: int) -> bytes:
        end = min(offset + size, self._size)
        if offset >= end:
            return b""
        if not (self._start <= offset and end <= self._start + len(self._window)):
            nxt, self._next = self._next, None
            if nxt is not None and nxt[0] <= offset and end <= nxt[0] + nxt[1]:
                self._start, self._window = nxt[0], nxt[2].result()  # raises the fetch's NodeError
            else:
                want = min(self._size, offset + max(size, READ_AHEAD)) - offset
                self._start, self._window = offset, self._fetch(offset, want)
            self.prefetch(self._start + len(self._window))
        lo = offset - self._start
        return self._window[lo:lo + (end - offset)]

    def preadv(self, buffers: list[bytearray], offset: int) -> int:
        data = self.pread(sum(len(b) for b in buffers), offset)
        pos = 0
        for buf in buffers:
            n = min(len(buf), len(data) - pos)
            buf[:n] = data[pos:pos + n]
            pos += n
        return pos

    def close(self) -> None:
        self._window = b""
        if self._next is not None:
            self._next[2].cancel()  # a fetch already running finishes and is dropped
            self._next = None


class RemoteSink:
    """One fragment streamed to a node (see module docstring)."""

    def __init__(self, volume: RemoteVolume, ref: str, index: int) -> None:
        self.volume = volume
        self.index = index
        self.final = volume.fragment_name(ref, index)
        self._q: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._aborted = False
        self._sealed = False
        self._thread = threading.Thread(target=self._send, daemon=True, name="coffer-put")
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._aborted:
                raise ConnectionAbortedError("fragment write aborted")  # never a clean end: the node discards
            yield item

    def _send(self) -> None:
        try:
            self.volume.client.request("PUT", self.final, body=self._body())
        except BaseException as exc:  # reported to the writer's thread
            self._error = exc
        finally:
            self._done.set()

    def _put(self, data: bytes | None) -> None:
        while True:
            if self._error is not None:
                raise self._as_os_error()
            try:
                self._q.put(data, timeout=0.5)
                return
            except queue.Full:
                if self._done.is_set():
                    raise self._as_os_error() from None

    def _as_os_error(self) -> OSError:
        exc = self._error
        if isinstance(exc, OSError):
            return exc
        return NodeError(errno.ECONNRESET, f"node {self.volume.client.address}: {exc}")

    def append(self, stripe: int, payload: bytes) -> None:
        self._put(b"".join(encode_record(stripe, payload)))

    def append_raw(self, pieces: list[bytes | bytearray | memoryview]) -> None:
        self._put(b"".join(pieces))

    def seal(self, header: FragmentHeader) -> None:
        if not self._sealed:
            self._sealed = True
            self._put(header.pack())
            self._put(None)

    def finish(self, header: FragmentHeader) -> PurePosixPath:
        self.seal(header)
        if not self._done.wait(READ_TIMEOUT + CONNECT_TIMEOUT):
            raise NodeError(errno.ETIMEDOUT, f"node {self.volume.client.address}: no answer to a fragment write")
        if self._error is not None:
            raise self._as_os_error()
        return PurePosixPath(self.final)

    def discard(self) -> None:
        if self._done.is_set():
            return
        self._aborted = True
        try:
            self._q.put_nowait(b"")  # wake the body generator so it raises
        except queue.Full:
            pass  # the generator checks the flag on its next item


class RemoteVolume:
    """A volume on a storage node (see module docstring). States as for local volumes."""

    remote = True

    def __init__(self, client: NodeClient, uuid: str, *, node: str = "", zone: str = "",
                 state: VolumeState = VolumeState.ONLINE) -> None:
        self.client = client
        self.uuid = uuid
        self.node = node
        self.zone = zone
        self.state = state
        self.path = f"{client.address}/{uuid}"
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self.fsync = True
        self.admin_state = "active"  # active | draining | out (the cluster map's word)
        self.weight = 1.0  # placement weight, the cluster map's (volumes.weight)
        self._heads: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._heads_lock = threading.Lock()
        self._capacity: Capacity | None = None

    @property
    def domain(self) -> str:
        return self.zone or self.node or self.uuid

    @property
    def readable(self) -> bool:
        return self.state is not VolumeState.OFFLINE

    @property
    def writable(self) -> bool:
        return self.state is VolumeState.ONLINE

    def fragment_name(self, ref: str, index: int) -> str:
        return f"/volumes/{self.uuid}/fragments/{ref}.{index}"

    def _name_of(self, path: object) -> str:
        return f"/volumes/{self.uuid}/fragments/{PurePosixPath(str(path)).name}"

    # -- state --------------------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> VolumeState:
        code = getattr(exc, "errno", None)
        name = errno.errorcode.get(code, "EUNKNOWN") if isinstance(code, int) else type(exc).__name__
        self.errors[name] += 1
        self.last_error = f"{name}: {exc}"
        if code in (errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPERM):
            if self.state is VolumeState.ONLINE:
                self.state = VolumeState.READ_ONLY
        elif code == errno.ENOENT:
            pass  # a missing fragment is not a volume failure
        else:
            self.state = VolumeState.OFFLINE
        return self.state

    def probe(self, info: dict | None = None) -> VolumeState:
        """Ask the node (or use its ``info`` answer) about this volume."""
        try:
            info = info if info is not None else self.client.info()
        except OSError as exc:
            self.state = VolumeState.OFFLINE
            self.last_error = str(exc)
            return self.state
        for vol in info.get("volumes", []):
            if vol.get("uuid") == self.uuid:
                self.state = VolumeState(vol.get("state", "offline"))
                if vol.get("capacity") is not None:
                    self._capacity = Capacity(int(vol["capacity"]), int(vol["free"]))
                if self.state is not VolumeState.ONLINE:
                    self.last_error = str(vol.get("last_error", ""))
                break
        else:
            self.state = VolumeState.OFFLINE
            self.last_error = f"node {self.client.address} does not serve this volume"
        if self.admin_state != "active" and self.state is VolumeState.ONLINE:
            self.state = VolumeState.READ_ONLY  # draining: read, never written
        return self.state

    def capacity(self) -> Capacity | None:
        return self._capacity

    # -- fragment I/O -------------------------------------------------------------------------------
    def fragments_of(self, ref: str) -> list[tuple[int, str]]:
        try:
            found = self.client.json("GET", f"/volumes/{self.uuid}/refs/{ref}")
        except OSError as exc:
            self.fail(exc)
            return []
        out = []
        with self._heads_lock:
            for item in found:
                name = self.fragment_name(ref, int(item["index"]))
                self._heads[name] = (int(item["size"]), bytes.fromhex(item["head"]))
                out.append((int(item["index"]), name))
            while len(self._heads) > 4096:
                self._heads.popitem(last=False)
        return sorted(out)

    def open_fragment(self, path: object) -> RemoteFragmentFile:
        name = self._name_of(path)
        with self._heads_lock:
            known = self._heads.pop(name, None)
        if known is None:
            resp = self.client.request("GET", name, headers={"Range": f"bytes=0-{HEADER_SIZE - 1}"})
            total = int(resp.headers.get("Content-Range", "/0").rsplit("/", 1)[1] or 0)
            known = (total, resp.data)
        return RemoteFragmentFile(self.client, name, known[0], known[1])

    def open_sink(self, ref: str, index: int) -> RemoteSink:
        if not self.writable:
            raise NodeError(errno.EROFS, f"volume {self.uuid} is {self.state.value}")
        return RemoteSink(self, ref, index)

    def unlink_fragment(self, path: object) -> bool:
        try:
            return bool(self.client.json("DELETE", self._name_of(path))["deleted"])
        except NodeError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise

    def fragment_size(self, path: object) -> int:
        try:
            resp = self.client.request("HEAD", self._name_of(path))
            return int(resp.headers.get("X-Coffer-Size", "0"))
        except OSError:
            return 0

    def sweep_tmp(self, cutoff: float) -> int:
        try:
            return int(self.client.json("POST", f"/volumes/{self.uuid}/sweep",
                                        {"older_than": str(max(0.0, time.time() - cutoff))}, body=b"")["removed"])
        except OSError as exc:
            self.fail(exc)
            return 0

    def iter_refs(self, after: str = "") -> Iterator[tuple[str, float]]:
        while True:
            try:
                page = self.client.json("GET", f"/volumes/{self.uuid}/refs", {"after": after, "limit": "1000"})
            except OSError as exc:
                self.fail(exc)
                return
            for ref, mtime in page:
                yield ref, float(mtime)
            if len(page) < 1000:
                return
            after = page[-1][0]

