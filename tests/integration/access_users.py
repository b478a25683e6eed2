"""Helpers for the access-control tests: extra users made through Coffer's admin API.

Each call makes a fresh user (unique id) with one key and answers a boto3 client signed with it, so
tests never depend on each other's users.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from helpers import client, skip_if_external


@dataclass
class User:
    id: str
    access_key: str
    secret_key: str
    s3: Any  # a boto3 S3 client signed as this user


def admin_for(ep) -> Any:
    from coffer import Client

    return Client(ep.url, ep.access_key, ep.secret_key).admin


def new_user(ep, *, email: bool = False, **kw: Any) -> User:
    skip_if_external(ep, "users are made with Coffer's admin API")
    uid = f"u-{uuid.uuid4().hex[:12]}"
    made = admin_for(ep).add_user(uid, display_name=uid, email=f"{uid}@example.com" if email else None, **kw)
    key = made["access_keys"][0]
    return User(uid, key["access_key"], key["secret_key"], client(ep.url, key["access_key"], key["secret_key"]))
