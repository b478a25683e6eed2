"""Shared setup for the examples: a client from the environment and a scratch bucket.

Run any example against a server with, e.g.:

    export COFFER_ENDPOINT=http://127.0.0.1:9000 COFFER_ACCESS_KEY=... COFFER_SECRET_KEY=...
    python examples/02_put_list_get.py

(AWS_* and DS3_* variables and ~/.aws profiles work too: see docs/sdk.md.)
"""

from __future__ import annotations

import os
import uuid

from coffer import Bucket, Client


def client() -> Client:
    return Client.from_env()


def scratch_bucket(client: Client, purpose: str) -> Bucket:
    """A bucket of our own (EXAMPLE_BUCKET, or a fresh name) so examples never touch real data."""
    name = os.environ.get("EXAMPLE_BUCKET") or f"example-{purpose}-{uuid.uuid4().hex[:8]}"
    return client.bucket(name).create(exist_ok=True)
