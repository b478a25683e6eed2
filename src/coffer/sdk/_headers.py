"""Header helpers shared by object handles, writers, appends and transfers (sync and async)."""

from __future__ import annotations

from collections.abc import Mapping

# The headers a copy or rewrite keeps from its source when no replacement is given.
KEPT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language",
                "cache-control", "expires")


def meta_headers(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as x-amz-meta-* headers; names are case-insensitive on the wire, so lower them."""
    out: dict[str, str] = {}
    for k, v in (metadata or {}).items():
        name = str(k).strip().lower()
        if not name or any(c in name for c in " :\r\n"):
            raise ValueError(f"invalid metadata name: {k!r}")
        value = str(v)
        if "\r" in value or "\n" in value:
            raise ValueError(f"metadata value for {k!r} must be one line")
        out["x-amz-meta-" + name] = value
    return out
