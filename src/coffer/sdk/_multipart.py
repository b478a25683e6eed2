"""The multipart-upload calls (create, upload part, copy part, complete, abort, list) as plain functions.

The writer, the append fallback and the transfer manager all build on these; keeping them here gives
one place that knows the XML shapes and S3's quirks (a CompleteMultipartUpload may answer 200 with an
``<Error>`` body; a part's ETag must be sent back quoted, exactly as it came).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coffer.protocol import checksums, sigv4, xmlutil
from coffer.protocol.errors import parse_error_xml
from coffer.sdk._body import to_payload
from coffer.sdk._errors import NoSuchKey, NoSuchUpload, ProtocolError, error_from_response
from coffer.sdk._transport import Transport
from coffer.sdk._types import PutResult, parse_iso, put_result, safe_int, unquote_etag


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int = 0
    checksum: str | None = None  # x-amz-checksum value when the upload uses one
    algo: str | None = None


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    initiated: datetime | None


def full_object_headers(headers: Mapping[str, str], algo: str | None) -> dict[str, str]:
    """CreateMultipartUpload's headers when the upload carries ``algo`` (a CRC): ask for a FULL_OBJECT
    checksum, which the server combines from the part CRCs (what both transfer managers send)."""
    out = dict(headers)
    if algo:
        out["x-amz-checksum-algorithm"] = algo
        out["x-amz-checksum-type"] = "FULL_OBJECT"
    return out


def data_checksum(algo: str | None, data: bytes | memoryview) -> tuple[str, str] | None:
    """(algo, base64 value) of ``data``, for a part's or a single PUT's ``x-amz-checksum-<algo>``."""
    return (algo, checksums.checksum_b64(algo, data)) if algo else None


def complete_body(parts: Iterable[Part]) -> bytes:
    """CompleteMultipartUpload's XML: each part's number, quoted ETag and, when it has one, its checksum."""
    rows = []
    for p in sorted(parts, key=lambda p: p.number):
        row: dict[str, Any] = {"PartNumber": p.number, "ETag": f'"{p.etag}"'}
        if p.checksum and p.algo:
            row["Checksum" + p.algo] = p.checksum
        rows.append(row)
    return xmlutil.to_xml("CompleteMultipartUpload", {"Part": rows})


def create(t: Transport, bucket: str, key: str, headers: Mapping[str, str] | None = None) -> str:
    resp = t.request("POST", bucket, key, query={"uploads": ""}, headers=headers)
    upload_id = xmlutil.child_text(xmlutil.parse(resp.data or b""), "UploadId")
    if not upload_id:
        raise ProtocolError("CreateMultipartUpload answered without an UploadId")
    return upload_id


def upload_part(
    t: Transport, bucket: str, key: str, upload_id: str, number: int, body: Any,
    headers: Mapping[str, str] | None = None, checksum: tuple[str, str] | None = None,
) -> Part:
    """Store one part; ``checksum`` = (algo, b64 value) travels as x-amz-checksum-<algo>."""
    payload = to_payload(body)
    hdrs = dict(headers or {})
    if checksum is not None:
        hdrs[checksums.header_name(checksum[0])] = checksum[1]
    resp = t.request(
        "PUT", bucket, key, query={"partNumber": str(number), "uploadId": upload_id}, body=payload,
        headers=hdrs, not_found=NoSuchUpload,
    )
    etag = resp.headers.get("etag")
    if not etag:
        raise ProtocolError(f"UploadPart {number} answered without an ETag")
    return Part(number, unquote_etag(etag), payload.length if payload else 0,
                checksum[1] if checksum else None, checksum[0] if checksum else None)


def upload_part_copy(
    t: Transport, bucket: str, key: str, upload_id: str, number: int, src_bucket: str, src_key: str,
    byte_range: tuple[int, int] | None, if_match: str | None = None, src_version_id: str | None = None,
) -> Part:
    from coffer.sdk._transport import object_path

    source = object_path(src_bucket, src_key)[1:]
    if src_version_id:
        source += "?versionId=" + sigv4.uri_encode(src_version_id)
    headers = {"x-amz-copy-source": source}
    if byte_range is not None:
        headers["x-amz-copy-source-range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    if if_match:
        headers["x-amz-copy-source-if-match"] = f'"{if_match}"'
    resp = t.request("PUT", bucket, key, query={"partNumber": str(number), "uploadId": upload_id},
                     headers=headers, not_found=NoSuchUpload)
    root = _checked_xml(resp.status, resp.data or b"", resp.headers)
    etag = xmlutil.child_text(root, "ETag")
    if not etag:
        raise ProtocolError(f"UploadPartCopy {number} answered without an ETag")
    size = byte_range[1] - byte_range[0] + 1 if byte_range else 0
    return Part(number, unquote_etag(etag), size)


def complete(
    t: Transport, bucket: str, key: str, upload_id: str, parts: list[Part],
    headers: Mapping[str, str] | None = None,
) -> PutResult:
    body = complete_body(parts)
    try:
        resp = t.request("POST", bucket, key, query={"uploadId": upload_id}, body=body,
                         headers=headers, not_found=NoSuchUpload)
    except NoSuchUpload:
        # A retried Complete whose first attempt succeeded (the answer was lost) finds the upload
        # gone; the object with a matching multipart ETag is the proof it went through.
        head = t.request("HEAD", bucket, key, not_found=NoSuchKey)
        etag = unquote_etag(head.headers.get("etag"))
        if etag.endswith(f"-{len(parts)}"):
            return put_result(head.headers)
        raise
    root = _checked_xml(resp.status, resp.data or b"", resp.headers)
    return put_result(resp.headers, xmlutil.child_text(root, "ETag"))


def abort(t: Transport, bucket: str, key: str, upload_id: str) -> None:
    try:
        t.request("DELETE", bucket, key, query={"uploadId": upload_id}, not_found=NoSuchUpload)
    except (NoSuchUpload, NoSuchKey):
        pass  # already gone: the goal ("nothing left behind") holds


def list_parts(t: Transport, bucket: str, key: str, upload_id: str) -> list[Part]:
    """Every part stored so far (follows pagination)."""
    out: list[Part] = []
    marker = "0"
    while True:
        resp = t.request("GET", bucket, key, query={"uploadId": upload_id, "part-number-marker": marker},
                         not_found=NoSuchUpload)
        parts, nxt = parse_parts_page(resp.data or b"", marker)
        out += parts
        if nxt is None:
            return sorted(out, key=lambda p: p.number)
        marker = nxt


def parse_parts_page(data: bytes, marker: str) -> tuple[list[Part], str | None]:
    """One ListParts answer: its parts, and the marker of the next page (None on the last one).

    Shared by the sync calls here and the async ones (``sdk/_async/_io.py``)."""
    root = xmlutil.parse(data, max_bytes=64 << 20)
    out: list[Part] = []
    for el in xmlutil.children(root, "Part"):
        number = safe_int(xmlutil.child_text(el, "PartNumber"))
        algo = next((a for a in checksums.ALGORITHMS if xmlutil.child_text(el, "Checksum" + a)), None)
        out.append(Part(number, unquote_etag(xmlutil.child_text(el, "ETag")),
                        safe_int(xmlutil.child_text(el, "Size")),
                        xmlutil.child_text(el, "Checksum" + algo) if algo else None, algo))
    nxt = xmlutil.child_text(root, "NextPartNumberMarker")
    if (xmlutil.child_text(root, "IsTruncated") or "").lower() != "true" or not nxt or nxt == marker:
        return out, None
    return out, nxt


def list_uploads(t: Transport, bucket: str, prefix: str = "") -> Iterator[Upload]:
    """Pending multipart uploads under ``prefix`` (follows pagination)."""
    markers: tuple[str, str] | None = ("", "")
    while markers is not None:
        query = uploads_query(prefix, markers)
        resp = t.request("GET", bucket, query=query)
        uploads, markers = parse_uploads_page(resp.data or b"", markers)
        yield from uploads


def uploads_query(prefix: str, markers: tuple[str, str]) -> dict[str, str | None]:
    return {"uploads": "", "prefix": prefix, "key-marker": markers[0] or None,
            "upload-id-marker": markers[1] or None}


def parse_uploads_page(data: bytes, markers: tuple[str, str]) -> tuple[list[Upload], tuple[str, str] | None]:
    """One ListMultipartUploads answer: its uploads, and the (key, upload id) markers of the next
    page (None on the last one, or when the server repeats the markers it was given)."""
    root = xmlutil.parse(data, max_bytes=64 << 20)
    out = [Upload(xmlutil.child_text(el, "Key") or "", xmlutil.child_text(el, "UploadId") or "",
                  parse_iso(xmlutil.child_text(el, "Initiated"))) for el in xmlutil.children(root, "Upload")]
    if (xmlutil.child_text(root, "IsTruncated") or "").lower() != "true":
        return out, None
    nxt = (xmlutil.child_text(root, "NextKeyMarker") or "", xmlutil.child_text(root, "NextUploadIdMarker") or "")
    return out, (None if nxt == markers else nxt)


def find_upload(t: Transport, bucket: str, key: str) -> str | None:
    """The most recent pending upload of exactly ``key`` (for resuming), or None."""
    return newest_upload(list_uploads(t, bucket, key), key)


def newest_upload(uploads: Iterable[Upload], key: str) -> str | None:
    """The upload id of the most recently initiated upload of exactly ``key`` among ``uploads``."""
    best: Upload | None = None
    for up in uploads:
        if up.key != key:
            continue
        if best is None or (up.initiated and best.initiated and up.initiated > best.initiated):
            best = up
    return best.upload_id if best else None


def _checked_xml(status: int, body: bytes, headers: Any) -> Any:
    """S3 may answer 200 and still fail (the error arrives in the body after a long keep-alive)."""
    root = xmlutil.parse(body, max_bytes=8 << 20)
    if xmlutil.local_name(root) == "Error":
        code, _msg, _ = parse_error_xml(body)
        raise error_from_response(500 if code in ("InternalError", "SlowDown") else 400, body, headers)
    return root
