"""Calls to Coffer's own extension endpoints (`/_coffer/...`): signed JSON requests.

Owns the one helper SDK features and `coffer.compat` use to reach operations S3 has no wire form
for (see docs/openio.md): the request is signed and retried like any S3 request; an error answer is
the usual typed CofferError; a success is the decoded JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coffer.sdk._client import Client

EXT_BUCKET = "_coffer"  # never a valid bucket name, so the prefix cannot collide with S3 paths


def call(client: Client, method: str, path: str, query: Mapping[str, Any] | None = None,
         body: Mapping[str, Any] | None = None) -> Any:
    """`method` on `/_coffer/<path>` with `query` (None values dropped) and a JSON `body`."""
    q = {k: ("true" if v is True else "false" if v is False else str(v))
         for k, v in (query or {}).items() if v is not None}
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else None
    resp = client._transport.request(method, EXT_BUCKET, path, query=q or None, body=data, headers=headers)
    return json.loads(resp.data) if resp.data else None
