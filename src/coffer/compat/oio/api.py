"""OpenIO SDS's `ObjectStorageApi`, served by Coffer: port OpenIO code by changing one import.

    from coffer.compat.oio import ObjectStorageApi      # was: from oio import ObjectStorageApi
    api = ObjectStorageApi("OPENIO", endpoint="http://127.0.0.1:9000", access_key=..., secret_key=...)

Owns the mapping of OpenIO's method names, arguments and return shapes onto Coffer's SDK: an
**account** is the authenticated user's namespace (the `account` argument is accepted and ignored:
every call acts for the credentials' user), a **container** is a bucket, object **properties** are
S3 user metadata. Data goes through ordinary S3 requests; what S3 cannot say goes through Coffer's
extension endpoints (`/_coffer/oio/v1/...`, see docs/openio.md). Errors are OpenIO-style exceptions
defined here (`NoSuchContainer`, `NoSuchObject`, `Conflict`, ...), each also carrying the Coffer
error it came from (`.cause`). Never imports the server.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from coffer.compat.oio.errors import (
    BadRequest,
    Conflict,
    EtagMismatch,
    Forbidden,
    NoSuchAccount,
    NoSuchContainer,
    NoSuchObject,
    NotFound,
    OioException,
    oio_error,
    translate,
)
from coffer.compat.oio.maintenance import MaintenanceMethods
from coffer.compat.oio.policies import to_coffer, to_openio
from coffer.sdk import _ext
from coffer.sdk._client import Client
from coffer.sdk._errors import CofferError

_OIO = "oio/v1/"
__all__ = ["BadRequest", "Conflict", "EtagMismatch", "Forbidden", "NoSuchAccount", "NoSuchContainer", "NoSuchObject",
           "NotFound", "ObjectStorageApi", "OioException"]


class ObjectStorageApi(MaintenanceMethods):
    """The subset of `oio.ObjectStorageApi` Coffer serves (see docs/openio.md for the list)."""

    def __init__(self, namespace: str = "OPENIO", logger: Any = None, perfdata: Any = None, *,
                 endpoint: str | None = None, access_key: str | None = None, secret_key: str | None = None,
                 region: str | None = None, client: Client | None = None, **kwargs: Any) -> None:
        self.namespace = namespace
        self.logger = logger
        self.perfdata = perfdata  # a dict OpenIO code reads timings from (see _perf)
        if client is None:
            if endpoint is None:
                client = Client.from_env(region=region)
            else:
                client = Client(endpoint, access_key, secret_key, region or "us-east-1")
        self.client = client

    def _ext(self, method: str, op: str, query: dict[str, Any] | None = None, body: dict | None = None) -> Any:
        return _ext.call(self.client, method, _OIO + op, query, body)

    @contextlib.contextmanager
    def _perf(self, kwargs: dict[str, Any], section: str, step: str) -> Iterator[dict[str, Any] | None]:
        """Fill OpenIO's `perfdata` dict (the call's `perfdata=` or the constructor's), as OpenIO does:
        seconds per step under "meta2" (metadata calls) or "rawx" (data transfer), and "total"."""
        perf = kwargs.get("perfdata", self.perfdata)
        start = time.monotonic()
        try:
            yield perf if isinstance(perf, dict) else None
        finally:
            if isinstance(perf, dict):
                took = time.monotonic() - start
                steps = perf.setdefault(section, {})
                steps[step] = steps.get(step, 0.0) + took
                perf["total"] = perf.get("total", 0.0) + took

    # -- accounts ----------------------------------------------------------------------------------
    @translate
    def account_create(self, account: str | None = None, **kwargs: Any) -> bool:
        """Accounts are users, created by `coffer user add`: this only checks the account answers."""
        self.account_show(account)
        return False

    @translate
    def account_show(self, account: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._ext("GET", "account")

    @translate
    def account_get_properties(self, account: str | None = None, **kwargs: Any) -> dict[str, Any]:
        info = self._ext("GET", "account")
        system = {k: v for k, v in info.items() if k != "metadata"}
        return {"properties": info["metadata"], "system": system}

    @translate
    def account_set_properties(self, account: str | None = None, properties: dict | None = None,
                               **kwargs: Any) -> None:
        self._ext("POST", "account-props", body={"set": dict(properties or {})})

    @translate
    def account_del_properties(self, account: str | None = None, properties: Iterable[str] = (),
                               **kwargs: Any) -> None:
        self._ext("POST", "account-props", body={"delete": list(properties)})

    @translate
    def account_list(self, **kwargs: Any) -> list[str]:
        return [self._ext("GET", "account")["id"]]

    @translate
    def account_flush(self, account: str | None = None, **kwargs: Any) -> None:
        for name, *_ in self.container_list(account):
            self.container_flush(account, name)

    # -- containers --------------------------------------------------------------------------------
    @translate
    def container_create(self, account: str | None, container: str, properties: dict | None = None,
                         **kwargs: Any) -> bool:
        bucket = self.client.bucket(container)
        try:
            bucket.create()
        except CofferError as e:
            if e.code != "BucketAlreadyOwnedByYou":
                raise
            return False
        if properties:
            self.container_set_properties(account, container, properties)
        return True

    def container_create_many(self, account: str | None, containers: Iterable[str], properties: dict | None = None,
                              **kwargs: Any) -> list[tuple[str, bool]]:
        return [(c, self.container_create(account, c, properties)) for c in containers]

    @translate
    def container_delete(self, account: str | None, container: str, **kwargs: Any) -> None:
        self.client.bucket(container).delete()

    @translate
    def container_list(self, account: str | None = None, limit: int | None = None, marker: str | None = None,
                       end_marker: str | None = None, prefix: str | None = None, delimiter: str | None = None,
                       s3_buckets_only: bool = False, **kwargs: Any) -> list[list[Any]]:
        """[name, objects, bytes, is_prefix (0), mtime] per container, by name."""
        rows = self._ext("GET", "containers", {"prefix": prefix or None, "marker": marker, "limit": limit})
        return [r for r in rows if end_marker is None or r[0] < end_marker]

    @translate
    def container_get_properties(self, account: str | None, container: str, properties: Any = None,
                                 **kwargs: Any) -> dict[str, Any]:
        return self._ext("GET", "container", {"container": container})

    container_show = container_get_properties

    @translate
    def container_set_properties(self, account: str | None, container: str, properties: dict | None = None,
                                 clear: bool = False, system: dict | None = None, **kwargs: Any) -> None:
        """`system={"sys.status": "enabled"}` unfreezes a snapshot (so it can be flushed and deleted)."""
        self._ext("POST", "container-props", {"container": container},
                  {"set": dict(properties or {}), "clear": clear, "system": dict(system) if system else None})

    @translate
    def container_del_properties(self, account: str | None, container: str, properties: Iterable[str] = (),
                                 **kwargs: Any) -> None:
        self._ext("POST", "container-props", {"container": container}, {"delete": list(properties)})

    @translate
    def container_snapshot(self, account: str | None, container: str, dst_account: str | None,
                           dst_container: str, batch_size: int = 100, **kwargs: Any) -> None:
        """A frozen container sharing the source's data (no chunk is copied), made atomically."""
        self._ext("POST", "container-snapshot", {"container": container, "dest": dst_container})

    @translate
    def container_flush(self, account: str | None, container: str, fast: bool = False, **kwargs: Any) -> None:
        self._ext("POST", "container-flush", {"container": container})

    # -- objects -----------------------------------------------------------------------------------
    @translate
    def object_create_ext(self, account: str | None, container: str, file_or_path: Any = None, data: Any = None,
                          etag: str | None = None, obj_name: str | None = None, mime_type: str | None = None,
                          metadata: dict | None = None, policy: str | None = None, key_file: Any = None,
                          append: bool = False, properties: dict | None = None,
                          **kwargs: Any) -> tuple[list[dict], int, str, dict]:
        """(chunks, size, hash, metadata) of what was stored; `append=True` appends (creating the
        object if it does not exist) without copying what is stored. A path is uploaded as a file
        (multipart when large), a file object or a generator is streamed, not read into memory."""
        name = obj_name or (os.path.basename(file_or_path) if isinstance(file_or_path, str | os.PathLike) else None)
        if not name:
            raise BadRequest("obj_name is required when file_or_path is not a path")
        writer = self.client.bucket(container).object(name).get_writer()
        source = file_or_path if file_or_path is not None else _data(data)
        headers: dict[str, str] = {}
        if policy:  # OpenIO's names (THREECOPIES, EC, ECISAL42D1, ...) or Coffer's
            headers["x-coffer-storage-policy"] = to_coffer(policy)
        if etag:  # checked by the server against the data (Content-MD5): a mismatch stores nothing
            try:
                headers["Content-MD5"] = base64.b64encode(bytes.fromhex(etag)).decode()
            except ValueError:
                raise BadRequest(f"etag {etag!r} is not an MD5 in hex") from None
            if not isinstance(source, bytes | str | os.PathLike) and not _seekable(source):
                source = _read_all(source)  # Content-MD5 needs one request: a stream is read first
        start = source.tell() if _seekable(source) else None
        replayable = isinstance(source, bytes | str | os.PathLike) or start is not None

        def write() -> None:
            if append:
                writer.append_content(_read_all(source), "", flush=True, append_to_existing=True)
            elif isinstance(source, str | os.PathLike) and not headers:
                writer.put_file(source, content_type=mime_type)
            elif isinstance(source, str | os.PathLike):
                with open(source, "rb") as f:  # one PUT: the headers apply to the whole object
                    writer.put_content(f, content_type=mime_type, headers=headers)
            else:
                writer.put_content(source, content_type=mime_type, headers=headers)

        autocreate = kwargs.get("autocreate", True)
        container_props = kwargs.get("container_properties")
        if autocreate and not replayable:
            self.container_create(account, container, container_props)  # a stream cannot be sent twice
        with self._perf(kwargs, "rawx", "upload") as perf:
            try:
                write()
            except CofferError as e:
                if e.code != "NoSuchBucket" or not autocreate or not replayable:
                    raise
                self.container_create(account, container, container_props)
                if start is not None:
                    source.seek(start)
                write()
        props = dict(properties or metadata or {})
        with self._perf(kwargs, "meta2", "content_create"):
            if props:
                self.object_set_properties(account, container, name, props)
            meta, chunks = self.object_locate(account, container, name)
        if perf is not None:
            perf["data_size"] = meta["length"]
        return chunks, meta["length"], meta["hash"], meta

    def object_create(self, account: str | None, container: str, *args: Any,
                      **kwargs: Any) -> tuple[list[dict], int, str]:
        chunks, size, hash_, _ = self.object_create_ext(account, container, *args, **kwargs)
        return chunks, size, hash_

    @translate
    def object_fetch(self, account: str | None, container: str, obj: str, version: str | None = None,
                     ranges: list[tuple[int, int]] | None = None, key_file: Any = None, properties: bool = True,
                     **kwargs: Any) -> tuple[dict, Iterator[bytes]]:
        """(metadata, stream): the stream yields the object, or each (first, last) range in turn."""
        with self._perf(kwargs, "meta2", "content_show"):
            meta = self.object_get_properties(account, container, obj, version=version)
        o = self.client.bucket(container).object(obj)
        for first, last in ranges or []:
            if first < 0 or last < first:
                raise BadRequest(f"invalid range ({first}, {last})")
        return meta, _stream(o, list(ranges or [(0, None)]), version)

    @translate
    def object_get_properties(self, account: str | None, container: str, obj: str, version: str | None = None,
                              **kwargs: Any) -> dict[str, Any]:
        meta = self._ext("GET", "object", {"container": container, "obj": obj, "versionId": version})
        meta["policy"] = to_openio(meta.get("policy"))
        return meta

    object_show = object_get_properties

    @translate
    def object_set_properties(self, account: str | None, container: str, obj: str, properties: dict,
                              version: str | None = None, clear: bool = False, **kwargs: Any) -> None:
        self._ext("POST", "object-props", {"container": container, "obj": obj, "versionId": version},
                  {"set": dict(properties), "clear": clear})

    @translate
    def object_del_properties(self, account: str | None, container: str, obj: str, properties: Iterable[str],
                              version: str | None = None, **kwargs: Any) -> bool:
        self._ext("POST", "object-props", {"container": container, "obj": obj, "versionId": version},
                  {"delete": list(properties)})
        return True

    @translate
    def object_delete(self, account: str | None, container: str, obj: str, version: str | None = None,
                      **kwargs: Any) -> bool:
        # OpenIO says when there was nothing to delete (S3's DeleteObject does not): NoSuchObject
        with self._perf(kwargs, "meta2", "content_delete"):
            self.object_get_properties(account, container, obj, version=version)
            self.client.bucket(container).object(obj).delete(version)
        return True

    @translate
    def object_delete_many(self, account: str | None, container: str, objs: Iterable[str],
                           **kwargs: Any) -> list[tuple[str, bool]]:
        return [(r.key, r.deleted) for r in self.client.bucket(container).delete_objects(list(objs))]

    @translate
    def object_head(self, account: str | None, container: str, obj: str, trust_level: int = 0,
                    **kwargs: Any) -> bool:
        answer = self._ext("GET", "object-head", {"container": container, "obj": obj, "trust_level": trust_level,
                                                  "versionId": kwargs.get("version")})
        return bool(answer["exists"])

    @translate
    def object_locate(self, account: str | None, container: str, obj: str, version: str | None = None,
                      chunk_info: bool = False, properties: bool = True, **kwargs: Any) -> tuple[dict, list[dict]]:
        """(meta, chunks): every copy or EC fragment of the data (url naming its volume, pos, size, hash,
        score); `chunk_info=True` also hashes EC fragments (read from disk)."""
        with self._perf(kwargs, "meta2", "content_locate"):
            answer = self._ext("GET", "object-locate", {"container": container, "obj": obj, "versionId": version,
                                                        "chunk_info": bool(chunk_info) or None})
        answer["meta"]["policy"] = to_openio(answer["meta"].get("policy"))
        return answer["meta"], answer["chunks"]

    @translate
    def object_link(self, target_account: str | None, target_container: str, target_obj: str,
                    link_account: str | None, link_container: str, link_obj: str, target_version: str | None = None,
                    target_content_id: str | None = None, link_content_id: str | None = None,
                    properties_directive: str = "COPY", **kwargs: Any) -> dict[str, Any]:
        """A shallow copy of target as link (data shared, reference counted; deleting one never
        affects the other)."""
        return self._ext("POST", "object-link", {"container": target_container, "obj": target_obj,
                                                 "dest_container": link_container, "dest_obj": link_obj,
                                                 "versionId": target_version})

    @translate
    def object_truncate(self, account: str | None, container: str, obj: str, version: str | None = None,
                        size: int | None = None, **kwargs: Any) -> dict[str, Any]:
        if size is None:
            raise BadRequest("size is required")
        return self._ext("POST", "object-truncate", {"container": container, "obj": obj, "size": size,
                                                     "versionId": version})

    @translate
    def object_drain(self, account: str | None, container: str, obj: str, version: str | None = None,
                     **kwargs: Any) -> None:
        self._ext("POST", "object-drain", {"container": container, "obj": obj, "versionId": version})

    @translate
    def object_list(self, account: str | None, container: str, limit: int | None = None, marker: str | None = None,
                    delimiter: str | None = None, prefix: str | None = None, end_marker: str | None = None,
                    properties: bool = False, versions: bool = False, deleted: bool = False,
                    **kwargs: Any) -> dict[str, Any]:
        """{'objects', 'prefixes', 'truncated', 'next_marker', 'properties'} for one page."""
        out = self._ext("GET", "objects", {
            "container": container, "limit": limit, "marker": marker, "delimiter": delimiter,
            "prefix": prefix or None, "properties": properties, "versions": versions, "deleted": deleted})
        if end_marker is not None:
            out["objects"] = [o for o in out["objects"] if o["name"] < end_marker]
        return out

    # -- deprecated aliases OpenIO still ships (each warns, as OpenIO's do) ------------------------
    def container_update(self, account: str | None, container: str, metadata: dict | None = None,
                         clear: bool = False, **kwargs: Any) -> None:
        """Deprecated: use `container_set_properties`."""
        _deprecated("container_update", "container_set_properties")
        self.container_set_properties(account, container, metadata, clear=clear, **kwargs)

    def object_update(self, account: str | None, container: str, obj: str, metadata: dict,
                      version: str | None = None, clear: bool = False, **kwargs: Any) -> None:
        """Deprecated: use `object_set_properties`."""
        _deprecated("object_update", "object_set_properties")
        self.object_set_properties(account, container, obj, metadata, version=version, clear=clear, **kwargs)

    def object_analyze(self, *args: Any, **kwargs: Any) -> tuple[dict, list[dict]]:
        """Deprecated: use `object_locate`."""
        _deprecated("object_analyze", "object_locate")
        return self.object_locate(*args, **kwargs)

    def object_fastcopy(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Deprecated: use `object_link`."""
        _deprecated("object_fastcopy", "object_link")
        return self.object_link(*args, **kwargs)

    def all_accounts_refresh(self, **kwargs: Any) -> None:
        """Deprecated: use `account_refresh` (every account the credentials see: their own)."""
        _deprecated("all_accounts_refresh", "account_refresh")
        self.account_refresh(None, **kwargs)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated, use {new}", DeprecationWarning, stacklevel=3)


def _seekable(source: Any) -> bool:
    return hasattr(source, "seek") and hasattr(source, "seekable") and source.seekable()


def _data(data: Any) -> Any:
    """OpenIO's `data`: bytes, str, or an iterable (generator) of chunks, streamed as it comes."""
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return (bytes(p) for p in data)


def _read_all(source: Any) -> bytes:
    """All of a source in memory (an append piece is sent in one request)."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            return f.read()
    if hasattr(source, "read"):
        return source.read()
    return b"".join(source)


def _stream(obj: Any, ranges: list[tuple[int, int | None]], version: str | None = None) -> Iterator[bytes]:
    """The data, fetched lazily as OpenIO's stream is; errors raised while reading are OpenIO's too."""
    try:
        for first, last in ranges:
            rng = None if (first, last) == (0, None) else (first, last)
            yield from obj.get_reader(rng, version_id=version).iter_content()
    except CofferError as e:
        raise oio_error(e) from e
