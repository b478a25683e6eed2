"""What the SSE suites share: customer keys (SSE-C) and their request arguments."""

from __future__ import annotations

KEY_A = bytes(range(32))


def ssec(key: bytes) -> dict:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
