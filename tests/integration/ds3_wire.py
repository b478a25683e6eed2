"""A test client that speaks the DS3 (Spectra S3) wire format exactly as the `ds3` Python SDK does.

The ds3 SDK is not installable here (not on PyPI), so this module reproduces what it puts on the
wire, written from a reading of its sources: http.client requests; the path percent-encoded with
`urllib.parse.quote` and query values the same way, a valueless parameter sent bare (`?recursive`);
headers Host, Date (`email.utils.formatdate()`, "... -0000"), Content-Length, and for requests with a
body `Content-Type: application/octet-stream`; extra request headers other than Content-Length and
the checksum headers travel as `x-amz-meta-<name>`; `Authorization: AWS <id>:<sig>` where sig is the
base64 HMAC-SHA1 of "VERB\\nCHECKSUM\\nCONTENT-TYPE\\nDATE\\n[meta lines]RESOURCE" (checksum,
content type and meta lines only when there is a body; RESOURCE the quoted path plus only
?delete/?versioning/?versions/?uploads). Responses are turned into the same dictionaries the SDK's
`parseModel` builds (attributes and child elements by name, repeated children as `<Name>List`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET
from email.utils import formatdate
from typing import Any

CHECKSUMS = ("Content-CRC32", "Content-CRC32C", "Content-MD5", "Content-SHA256", "Content-SHA512")


class Ds3Failed(Exception):
    def __init__(self, status: int, code: str, http_code: int, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.http_code, self.message = status, code, http_code, message


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def retry_after(self) -> int | None:
        v = self.header("Retry-After")
        return int(v) if v is not None else None


def _model(el: ET.Element) -> dict[str, Any]:
    """A parseModel-like view: attributes, then children (text, or nested dicts), lists as XList."""
    out: dict[str, Any] = dict(el.attrib)
    groups: dict[str, list] = {}
    for child in el:
        value: Any = _model(child) if (len(child) or child.attrib) else child.text
        groups.setdefault(child.tag, []).append(value)
        out.setdefault(child.tag, value)
        if len(child) and all(not len(g) and g.attrib for g in child):  # wrapper of attribute items (Nodes)
            out[child[0].tag + "List"] = [dict(g.attrib) for g in child]
    for tag, values in groups.items():
        out.setdefault(tag + "List", values)
    for name in ("ObjectsList", "ContentsList", "VersionList", "BucketList", "JobList", "ObjectList",
                 "CommonPrefixesList", "CompletedJobList", "CanceledJobList"):
        out.setdefault(name, [])
    return out


class Ds3WireClient:
    def __init__(self, endpoint: str, access_key: str, secret_key: str) -> None:
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname or "127.0.0.1", u.port
        self.access_key, self.secret_key = access_key, secret_key
        self.last_request: tuple[str, str, dict[str, str]] | None = None

    # -- the wire ------------------------------------------------------------------------------------
    @staticmethod
    def build_path(path: str, query: dict[str, Any] | None = None) -> str:
        out = urllib.parse.quote(path)
        if query:
            out += "?" + "&".join(k if v is None else k + "=" + urllib.parse.quote(str(v)) for k, v in query.items())
        return out

    def signature(self, sts: str) -> str:
        return base64.b64encode(hmac.new(self.secret_key.encode(), sts.encode(), hashlib.sha1).digest()).decode()

    def prepare(self, verb: str, path: str, query: dict[str, Any] | None, headers: dict[str, Any] | None,
                has_body: bool, date: str | None = None) -> tuple[str, dict[str, str], str]:
        """(request target, headers to send, string signed) exactly as the SDK builds them."""
        date = date or formatdate()
        hdrs: dict[str, str] = {"Host": f"{self.host}:{self.port}" if self.port else self.host, "Date": date}
        resource = urllib.parse.quote(path)
        q = query or {}
        if "delete" in q:
            resource += "?delete"
        if "versioning" in q:
            resource += "?versioning=" + str(q["versioning"])
        if "versions" in q:
            resource += "?versions=" + str(q["versions"])
        if "uploads" in q:
            resource += "?uploads" + ("=" + str(q["uploads"]) if q["uploads"] is not None else "")
        meta: dict[str, str] = {}
        checksum = ""
        for k, v in (headers or {}).items():
            if k == "Content-Length":
                hdrs[k] = str(v)
            elif k in CHECKSUMS:
                hdrs[k] = v
                checksum = v
            elif not k.startswith("x-amz-meta-"):
                meta["x-amz-meta-" + k] = v
            else:
                meta[k] = v
        hdrs.update(meta)
        target = self.build_path(path, q)
        if has_body:
            lines = sorted(f"{k}:{v}" for k, v in meta.items())
            amz = "".join(line + "\n" for line in lines)
            hdrs["Content-Type"] = "application/octet-stream"
            sts = f"{verb}\n{checksum}\napplication/octet-stream\n{date}\n{amz}{resource}"
        else:
            sts = f"{verb}\n\n\n{date}\n{resource}"
        hdrs["Authorization"] = f"AWS {self.access_key}:{self.signature(sts)}"
        return target, hdrs, sts

    def send(self, verb: str, path: str, query: dict[str, Any] | None = None, headers: dict[str, Any] | None = None,
             body: Any = None) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        has_body = body is not None and body != ""
        target, hdrs, _sts = self.prepare(verb, path, query, headers, has_body)
        if has_body:
            conn.request(verb, target, body=body, headers=hdrs)
        else:
            conn.request(verb, target, headers=hdrs)
        self.last_request = (verb, target, hdrs)
        resp = conn.getresponse()
        data = resp.read()
        out = Response(resp.status, resp.getheaders(), data)
        conn.close()
        return out

    def call(self, verb: str, path: str, expected: tuple[int, ...], query=None, headers=None, body=None) -> Response:
        r = self.send(verb, path, query, headers, body)
        if r.status not in expected:
            doc = ET.fromstring(r.body) if r.body else None
            # like the SDK: Code and Message, and HttpErrorCode read as an int
            code = doc.findtext(".//Code") if doc is not None else ""
            http_code = int(doc.findtext(".//HttpErrorCode")) if doc is not None else r.status
            raise Ds3Failed(r.status, code or "", http_code, doc.findtext(".//Message") if doc is not None else "")
        return r

    def parsed(self, r: Response) -> dict[str, Any]:
        return _model(ET.fromstring(r.body))

    # -- the SDK's calls used by its samples ---------------------------------------------------------
    def put_bucket(self, bucket: str) -> None:
        self.call("PUT", "/" + bucket, (200,))

    def delete_bucket(self, bucket: str) -> None:
        self.call("DELETE", "/" + bucket, (204,))

    def get_service(self) -> dict:
        # like parseModel: Buckets/Bucket found by plain tag names (a namespaced answer yields nothing)
        root = ET.fromstring(self.call("GET", "/", (200,)).body)
        buckets = root.find("Buckets")
        return {"Owner": _model(root.find("Owner")) if root.find("Owner") is not None else None,
                "BucketList": [_model(b) for b in (buckets.findall("Bucket") if buckets is not None else [])]}

    def get_bucket(self, bucket: str, **query: Any) -> dict:
        q = {k: v for k, v in query.items() if v is not None}
        return _model(ET.fromstring(self.call("GET", "/" + bucket, (200,), q).body))

    def delete_object(self, bucket: str, key: str) -> None:
        self.call("DELETE", f"/{bucket}/{key}", (204,))

    def put_bulk_job(self, bucket: str, objects: list[tuple[str, int]], **query: Any) -> dict:
        root = ET.Element("Objects")
        for name, size in objects:
            ET.SubElement(root, "Object", {"Name": name, "Size": str(size)})
        q = {"operation": "start_bulk_put", **{k: v for k, v in query.items() if v is not None}}
        return self.parsed(self.call("PUT", "/_rest_/bucket/" + bucket, (200,), q, body=ET.tostring(root)))

    def get_bulk_job(self, bucket: str, names: list[str], verify: bool = False, **query: Any) -> dict:
        root = ET.Element("Objects")
        for name in names:
            ET.SubElement(root, "Object", {"Name": name})
        q = {"operation": "start_bulk_verify" if verify else "start_bulk_get",
             **{k: v for k, v in query.items() if v is not None}}
        return self.parsed(self.call("PUT", "/_rest_/bucket/" + bucket, (200,), q, body=ET.tostring(root)))

    def chunks_ready(self, job_id: str, preferred: int | None = None) -> tuple[dict, int | None]:
        q: dict[str, Any] = {"job": job_id}
        if preferred is not None:
            q["preferred_number_of_chunks"] = preferred
        r = self.call("GET", "/_rest_/job_chunk", (200,), q)
        return self.parsed(r), r.retry_after

    def put_object(self, bucket: str, key: str, length: int, stream, job: str | None = None,
                   offset: int | None = None, headers: dict | None = None) -> None:
        q: dict[str, Any] = {}
        if job is not None:
            q["job"] = job
        if offset is not None:
            q["offset"] = offset
        h = dict(headers or {})
        h["Content-Length"] = length
        self.call("PUT", f"/{bucket}/{key}", (200,), q, h, body=stream.read(int(length)) if length else b"")

    def get_object(self, bucket: str, key: str, stream, job: str | None = None, offset: int | None = None) -> None:
        q: dict[str, Any] = {}
        if job is not None:
            q["job"] = job
        if offset is not None:
            q["offset"] = offset
        stream.write(self.call("GET", f"/{bucket}/{key}", (200, 206), q).body)

    def get_job(self, job_id: str) -> dict:
        return self.parsed(self.call("GET", "/_rest_/job/" + job_id, (200,)))

    def modify_job(self, job_id: str, **query: Any) -> dict:
        return self.parsed(self.call("PUT", "/_rest_/job/" + job_id, (200,), query))

    def cancel_job(self, job_id: str) -> None:
        self.call("DELETE", "/_rest_/job/" + job_id, (204,), {"force": None})

    def delete_folder_recursively(self, bucket_id: str, folder: str) -> None:
        self.call("DELETE", "/_rest_/folder/" + folder, (204,), {"bucket_id": bucket_id, "recursive": None})
