"""Object and bucket tagging: validation with S3's limits, and the tag operations.

Owns the tag rules (object: at most 10 tags; bucket: at most 50; keys 1-128 characters, values
0-256, letters, digits, spaces and + - = . _ : / @; no "aws:" prefix; no duplicate keys) and the
storage: object tags in the version's props["tags"], bucket tags in the bucket's props["tags"].
Object tag changes are read-modify-write in one metadata transaction (modify_props).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from coffer.protocol.errors import S3Error
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core, Principal

OBJECT_TAG_LIMIT = 10
BUCKET_TAG_LIMIT = 50
_TAG_CHARS = re.compile(r"^[\w\s+\-=._:/@]*$", re.UNICODE)


def check_tags(pairs: list[tuple[str, str]], limit: int) -> dict[str, str]:
    """Validate a tag set (in request order); returns it as a dict."""
    if len(pairs) > limit:
        raise S3Error("InvalidTag",
                      f"Object tags cannot be greater than {limit}" if limit == OBJECT_TAG_LIMIT
                      else f"Bucket tags cannot be greater than {limit}", status=400)
    out: dict[str, str] = {}
    for k, v in pairs:
        if k in out:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", TagKey=k)
        if not 1 <= len(k) <= 128:
            raise S3Error("InvalidTag", "The TagKey you have provided is too long, max 128" if k
                          else "The TagKey you have provided is invalid", TagKey=k)
        if len(v) > 256:
            raise S3Error("InvalidTag", "The TagValue you have provided is too long, max 256", TagKey=k)
        if k.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:", TagKey=k)
        if not _TAG_CHARS.match(k):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", TagKey=k)
        if not _TAG_CHARS.match(v):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", TagKey=k)
        out[k] = v
    return out


def parse_tagging_header(value: str) -> dict[str, str]:
    """x-amz-tagging: a URL-encoded query string (key1=value1&key2=value2)."""
    try:
        # "k" alone is the tag k with an empty value, as S3 reads it
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded "
                      "URL query parameters without tag name duplicates.", ArgumentName="x-amz-tagging") from None
    return check_tags(pairs, OBJECT_TAG_LIMIT)


class Tagging:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _rec(self, who: Principal, bucket: str, key: str, version_id: str | None) -> ObjectRecord:
        await self.core.bucket_for(who, bucket)
        rec = await (self.core.meta.get_object(bucket, key) if version_id is None
                     else self.core.meta.get_version(bucket, key, version_id))
        if rec is None:
            if version_id is not None:
                raise S3Error("NoSuchVersion", "The specified version does not exist.", Key=key, VersionId=version_id)
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        if rec.delete_marker:
            raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.")
        return rec

    async def get_object_tags(self, who, bucket, key, version_id=None) -> ObjectRecord:
        return await self._rec(who, bucket, key, version_id)

    async def put_object_tags(self, who, bucket, key, version_id, tags: dict[str, str] | None) -> ObjectRecord:
        await self._rec(who, bucket, key, version_id)

        def change(rec: ObjectRecord) -> dict:
            props = dict(rec.props)
            if tags:
                props["tags"] = tags
            else:
                props.pop("tags", None)
            return props

        rec = await self.core.meta.modify_props(bucket, key, version_id, change)
        if rec is None:
            raise S3Error("NoSuchKey", "The specified key does not exist.", Key=key)
        return rec

    async def get_bucket_tags(self, who: Principal, name: str) -> dict[str, str]:
        b = await self.core.bucket_for(who, name)
        tags = b.props.get("tags")
        if not tags:
            raise S3Error("NoSuchTagSet", "The TagSet does not exist", BucketName=name)
        return tags

    async def put_bucket_tags(self, who: Principal, name: str, tags: dict[str, str] | None) -> None:
        await self.core.bucket_for(who, name)

        def change(props: dict) -> dict:
            props = {k: v for k, v in props.items() if k != "tags"}
            if tags:
                props["tags"] = tags
            return props

        await self.core.meta.modify_bucket_props(name, change)
