"""Conditional requests: S3's evaluation of If-Match / If-None-Match / If-(Un)Modified-Since.

Pure functions over an object's etag and mtime, shared by GET/HEAD, CopyObject's
x-amz-copy-source-if-* headers and UploadPartCopy. Precedence follows RFC 7232 as S3 applies it:
If-Match decides over If-Unmodified-Since, If-None-Match over If-Modified-Since.
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.protocol.errors import S3Error
from coffer.protocol.timeutil import parse_http_date


class NotModified(Exception):
    """The read condition says "you already have it": answer 304 with no body."""

    def __init__(self, etag: str, last_modified: float) -> None:
        super().__init__(etag)
        self.etag = etag
        self.last_modified = last_modified


@dataclass(slots=True)
class ReadConditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None

    def __bool__(self) -> bool:
        return any((self.if_match, self.if_none_match, self.if_modified_since, self.if_unmodified_since))


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()]


def etag_matches(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or etag in tags


def evaluate(cond: ReadConditions, etag: str, last_modified: float, *, copy_source: bool = False) -> None:
    """Raise PreconditionFailed (412) or NotModified (304) when the conditions say so.

    For copy sources S3 answers 412 where a GET would answer 304.
    """
    # HTTP dates have one-second resolution: compare whole seconds.
    mtime = int(last_modified)
    if cond.if_match is not None:
        if not etag_matches(cond.if_match, etag):
            raise _failed(copy_source, "If-Match")
    elif cond.if_unmodified_since is not None:
        t = parse_http_date(cond.if_unmodified_since)
        if t is not None and mtime > int(t):
            raise _failed(copy_source, "If-Unmodified-Since")
    if cond.if_none_match is not None:
        if etag_matches(cond.if_none_match, etag):
            if copy_source:
                raise _failed(True, "If-None-Match")
            raise NotModified(etag, last_modified)
    elif cond.if_modified_since is not None:
        t = parse_http_date(cond.if_modified_since)
        if t is not None and mtime <= int(t):
            if copy_source:
                raise _failed(True, "If-Modified-Since")
            raise NotModified(etag, last_modified)


def _failed(copy_source: bool, condition: str) -> S3Error:
    prefix = "x-amz-copy-source-" if copy_source else ""
    return S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        Condition=prefix + condition,
    )
