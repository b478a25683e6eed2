"""Storage policies as the S3 surface sees them: which policy a new object's data is written under.

Owns the resolution order and the S3 errors for bad policy requests:

1. the object's ``x-coffer-storage-policy`` header (``SINGLE``, ``REPLICA-N``, ``EC-K+M``);
2. its ``x-amz-storage-class``, through ``STORAGE_CLASS_POLICIES`` (only REDUCED_REDUNDANCY maps to
   something of its own; every other class means "the bucket's default");
3. the bucket's default (``props["storage_policy"]``, set with the ``x-coffer-storage-policy`` header
   on CreateBucket or ``coffer admin storage-policy``);
4. the data store's default for its number of volumes (policy.default_policy).

Small inline objects (<= the inline threshold) live in the metadata row whatever the policy: the
metadata store's own durability is their rule. With the single-folder data store (no --volume) only
SINGLE exists, and asking for anything else is an error rather than a silent downgrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from coffer.protocol.errors import S3Error
from coffer.server.data import DataStore, DataUnavailable, ReadSpan
from coffer.server.data.volumes.storage_policy import Policy, PolicyError
from coffer.server.meta.model import Bucket, MultipartUpload, Segment
from coffer.server.service.core import Core

HEADER = "x-coffer-storage-policy"
BUCKET_PROP = "storage_policy"

# REDUCED_REDUNDANCY: S3's "less durable, cheaper" class -> one mirror copy (survives one disk loss at
# 2x space) rather than the wide EC default. It falls back to SINGLE on a one-volume server.
STORAGE_CLASS_POLICIES = {"REDUCED_REDUNDANCY": "REPLICA-2"}


def parse(text: str, argument: str = HEADER) -> Policy:
    try:
        return Policy.parse(text.strip())
    except PolicyError as exc:
        raise S3Error("InvalidArgument", f"Invalid storage policy: {exc}", ArgumentName=argument,
                      ArgumentValue=text[:64]) from None


def check(data: DataStore, policy: Policy) -> None:
    """A policy this server can never satisfy is the client's error (400), said before the body moves."""
    if data.default_policy() is None:  # one folder, one layout
        if policy != Policy.single():
            raise S3Error("InvalidStorageClass", f"The storage policy {policy} needs several volumes; this server "
                          "stores data in one folder (start it with --volume DIR ...)",
                          StorageClassRequested=str(policy))
        return
    try:
        data.check_policy(policy)
    except PolicyError as exc:
        raise S3Error("InvalidStorageClass", f"The storage policy cannot be satisfied: {exc}",
                      StorageClassRequested=str(policy)) from None


def resolve(data: DataStore, bucket: Bucket, storage_class: str | None, explicit: str | None) -> Policy | None:
    """The policy for a new segment, or None for the single-folder store (which has only SINGLE)."""
    policy: Policy | None = None
    if explicit:
        policy = parse(explicit)
    elif storage_class in STORAGE_CLASS_POLICIES:
        policy = Policy.parse(STORAGE_CLASS_POLICIES[storage_class])
        if data.volume_count() < policy.write_quorum:
            policy = Policy.single()
    elif bucket.props.get(BUCKET_PROP):
        policy = Policy.parse(bucket.props[BUCKET_PROP])
    if policy is None:
        return data.default_policy()
    check(data, policy)
    return policy if data.default_policy() is not None else None


def upload_policy(data: DataStore, bucket: Bucket, params: object) -> dict[str, str]:
    """CreateMultipartUpload: resolve once, keep it in the upload's props for every part."""
    policy = resolve(data, bucket, getattr(params, "storage_class", None), getattr(params, "storage_policy", None))
    return {BUCKET_PROP: policy.name} if policy is not None else {}


def part_policy(upload: MultipartUpload) -> Policy | None:
    name = upload.props.get(BUCKET_PROP)
    return Policy.parse(name) if name else None


async def verified_stream(core: Core, segments: list[Segment], start: int, length: int) -> AsyncIterator[memoryview]:
    """Bytes of segments from the multi-volume store, every block checked, one batch read ahead.

    Each batch holds fresh buffers (the reader never reuses them), so reading the next batch while
    the previous one is being sent is safe."""
    reader = await core.run(core.data.reader, segments, start, length)
    nxt: asyncio.Future | None = None
    try:
        nxt = asyncio.ensure_future(core.run(reader.next_batch))
        while True:
            try:
                batch = await nxt
            except DataUnavailable as exc:
                nxt = None
                raise S3Error("ServiceUnavailable", f"Cannot read the object now: {exc}") from None
            if not batch:
                nxt = None
                break
            nxt = asyncio.ensure_future(core.run(reader.next_batch))
            for view in batch:
                yield view
    finally:
        if nxt is not None:
            try:
                await nxt
            except Exception:
                pass
        await core.run(reader.close)


def checked(data: DataStore, text: str | None) -> Policy | None:
    """A bucket default from a header (None when absent), refused if this server cannot honour it."""
    if not text:
        return None
    policy = parse(text)
    check(data, policy)
    return policy


async def set_bucket_storage_policy(core: Core, bucket: str, policy: Policy | None) -> None:
    """Set (or with None, clear) a bucket's default policy; existing objects keep theirs."""
    b = await core.meta.get_bucket(bucket)
    if b is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)
    props = dict(b.props)
    if policy is None:
        props.pop(BUCKET_PROP, None)
    else:
        props[BUCKET_PROP] = policy.name
    await core.meta.update_bucket_props(bucket, props)


@dataclass(slots=True)
class StreamSpan(ReadSpan):
    """A range of the multi-volume store where callers expect file spans: no file to sendfile, a
    stream of verified bytes instead (http/respond.send_spans sends it)."""

    stream: Callable[[], AsyncIterator[memoryview]] | None = None


def stream_span(core: Core, segments: list[Segment], start: int, length: int) -> StreamSpan:
    return StreamSpan("", start, length, lambda: verified_stream(core, segments, start, length))
