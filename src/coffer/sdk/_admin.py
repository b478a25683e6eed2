"""Coffer's admin API from Python: users, access keys and quotas of a running server.

``Client(...).admin`` returns an :class:`Admin`; the credentials must be an admin's (the server's
root user, or a user created with ``admin=True``). Requests go through the client's transport, so
they are SigV4-signed and retried like any other; answers are plain dicts (the server's JSON).
Coffer-only: other S3 services have no such API.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coffer.sdk._client import Client

_BUCKET = "_coffer"  # the admin API lives under /_coffer/admin/v1/


class Admin:
    def __init__(self, client: Client) -> None:
        self._transport = client._transport

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        resp = self._transport.request(method, _BUCKET, "admin/v1/" + path, query=query, headers=headers,
                                       body=data, retries=method == "GET")
        return json.loads(resp.data) if resp.data else None

    # -- users -------------------------------------------------------------------------------------
    def list_users(self) -> list[dict[str, Any]]:
        return self._call("GET", "users")["users"]

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._call("GET", f"users/{user_id}")

    def add_user(self, user_id: str, *, display_name: str | None = None, email: str | None = None,
                 admin: bool = False, access_key: str | None = None, secret_key: str | None = None) -> dict[str, Any]:
        """Create a user with one access key; the answer holds its secret (shown this once)."""
        doc = {"display_name": display_name, "email": email, "admin": admin, "access_key": access_key,
               "secret_key": secret_key}
        return self._call("PUT", f"users/{user_id}", {k: v for k, v in doc.items() if v is not None})

    def remove_user(self, user_id: str) -> None:
        self._call("DELETE", f"users/{user_id}")

    # -- keys --------------------------------------------------------------------------------------
    def list_keys(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "keys", query={"user": user_id} if user_id else None)["keys"]

    def create_key(self, user_id: str, key_type: str = "s3") -> dict[str, Any]:
        """A new key: an S3 key pair, or with key_type="apikey" an IBM API key (for ibm_boto3's
        ibm_api_key_id); the secret or API key is in the answer only this once."""
        body = {"user": user_id} if key_type == "s3" else {"user": user_id, "type": key_type}
        return self._call("POST", "keys", body)

    def rotate_key(self, access_key: str) -> dict[str, Any]:
        """A new secret for the key; the old one stops working."""
        return self._call("POST", f"keys/{access_key}/rotate")

    def disable_key(self, access_key: str) -> dict[str, Any]:
        return self._call("PUT", f"keys/{access_key}", {"status": "disabled"})

    def enable_key(self, access_key: str) -> dict[str, Any]:
        return self._call("PUT", f"keys/{access_key}", {"status": "active"})

    def delete_key(self, access_key: str) -> None:
        self._call("DELETE", f"keys/{access_key}")

    # -- bucket ownership --------------------------------------------------------------------------
    def list_buckets(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Every bucket (or ``owner``'s) with its owner: [{"name", "owner", "created", "region"}]."""
        return self._call("GET", "buckets", query={"owner": owner} if owner else None)["buckets"]

    def set_bucket_owner(self, bucket: str, owner: str) -> dict[str, Any]:
        """Give ``bucket`` to user ``owner``; its ACL is reset to private."""
        return self._call("PUT", f"buckets/{bucket}", {"owner": owner})

    # -- quotas ------------------------------------------------------------------------------------
    def get_quota(self, user_id: str) -> dict[str, Any]:
        """{"user", "quota": {...}, "usage": {"bytes", "objects", "buckets"}}"""
        return self._call("GET", f"quotas/{user_id}")

    def set_quota(self, user_id: str, *, max_bytes: int | None = None, max_objects: int | None = None,
                  max_buckets: int | None = None) -> dict[str, Any]:
        doc = {"max_bytes": max_bytes, "max_objects": max_objects, "max_buckets": max_buckets}
        return self._call("PUT", f"quotas/{user_id}", {k: v for k, v in doc.items() if v is not None})

    def clear_quota(self, user_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"quotas/{user_id}")
