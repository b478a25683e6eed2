"""KMS key administration for the fronts (the console's KMS page): list, create, disable, enable.

The keys live in the data folder's local key store (crypto/keys.py, shared with ``coffer kms``);
this facade turns the store's refusals into S3 errors and never hands out key material.
"""

from __future__ import annotations

import asyncio
from typing import Any

from coffer.protocol.errors import S3Error
from coffer.server.crypto.keys import KmsKey
from coffer.server.service.core import Core

STATES = ("Enabled", "Disabled")  # what an administrator may set here (deletion is `coffer kms`)


def view(k: KmsKey) -> dict[str, Any]:
    return {"id": k.id, "arn": k.arn, "alias": k.alias, "description": k.description, "state": k.state,
            "created": k.created}


class KmsKeys:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def list(self) -> list[dict[str, Any]]:
        return [view(k) for k in await asyncio.to_thread(self.core.sse.kms.list)]

    async def create(self, description: str, alias: str) -> dict[str, Any]:
        try:
            key = await asyncio.to_thread(self.core.sse.kms.create, description, alias)
        except ValueError as e:
            raise S3Error("InvalidArgument", str(e), ArgumentName="alias", ArgumentValue=alias) from None
        return view(key)

    async def set_state(self, key_id: str, state: str) -> dict[str, Any]:
        if state not in STATES:
            raise S3Error("InvalidArgument", f"state is one of {', '.join(STATES)}", ArgumentName="state",
                          ArgumentValue=state)
        store = self.core.sse.kms
        current = await asyncio.to_thread(store.get, key_id)  # KMS.NotFoundException when unknown
        if current.state == "PendingDeletion":
            raise S3Error("KMS.KMSInvalidStateException", f"{current.arn} is pending deletion.")
        return view(await asyncio.to_thread(store.set_state, current.id, state))
