"""Where an object's bytes are: the data engine's fragment list for one object (OpenIO's locate).

Owns `locate()`, the one function that turns an object record into the list of places its data is
stored, and `check_present()`, which answers whether those places still hold it (OpenIO's
`object_head` trust levels). Today's data store is the local one — a segment is one file holding
bytes [0, size) — so a chunk is one segment. The erasure-coded engine extends this by
answering, per segment, its fragments (volume, index, stripe layout); callers already receive a list
of dicts and must ignore keys they do not know.
"""

from __future__ import annotations

from typing import Any

from coffer.server.data import DataStore
from coffer.server.meta.model import ObjectRecord
from coffer.server.service.core import Core


def locate(data: DataStore, record: ObjectRecord) -> list[dict[str, Any]]:
    """The object's chunks in order: pos (OpenIO's chunk position), offset in the object, size,
    url (an opaque `coffer://` locator: clients never see server paths), engine, ref, and OpenIO's
    hash (the chunk's MD5 when known: a whole single-PUT object) and score."""
    whole = record.etag.upper() if "-" not in record.etag else None
    if record.inline is not None:
        return [{"pos": "0", "offset": 0, "size": len(record.inline), "url": "coffer://inline",
                 "engine": "inline", "ref": None, "hash": whole, "score": 100}]
    out: list[dict[str, Any]] = []
    offset = 0
    for i, seg in enumerate(record.segments):
        out.append({"pos": str(i), "offset": offset, "size": seg.size, "url": f"coffer://local/{seg.ref}",
                    "engine": "local", "ref": seg.ref, "hash": whole if len(record.segments) == 1 else None,
                    "score": 100})
        offset += seg.size
    return out


def check_present(data: DataStore, record: ObjectRecord, trust_level: int) -> bool:
    """Level 0: the metadata exists (nothing to check here). Level 1: enough chunks to read the
    object; level 2: every chunk present. The store counts each segment's fragments (its headers
    only: `fragments(trust=1)`); with one copy of each segment (one folder) both levels mean: every
    segment file exists and is at least as long as the part of it the object uses."""
    if trust_level <= 0 or record.inline is not None:
        return True
    if record.props.get("drained"):
        return record.size == 0
    want = ("healthy", "degraded") if trust_level == 1 else ("healthy",)
    return all(data.fragments(seg, trust=1)["state"] in want for seg in record.segments)


_STATE_ORDER = ("healthy", "degraded", "lost", "missing")


async def placement(core: Core, record: ObjectRecord, with_paths: bool) -> dict[str, Any]:
    """Where the object's fragments live, segment by segment: the storage policy (SINGLE for one
    folder, the erasure-code or replica policy on volumes), its redundancy state, and each fragment's
    index, volume (and node, on a cluster), status and size. Server paths only ``with_paths``
    (administrators): other users see the layout, not the disks' folder names."""
    if record.inline is not None:
        return {"inline": True, "policy": "INLINE", "state": "healthy", "segments": []}
    segments = []
    worst = "healthy"
    policies: set[str] = set()
    for i, seg in enumerate(record.segments):
        c = await core.run(core.data.fragments, seg, 1)
        frags = []
        for f in c.get("fragments", []):
            entry = {k: f.get(k) for k in ("index", "volume", "node", "status", "size") if f.get(k) is not None}
            if with_paths:
                entry.update({k: f[k] for k in ("volume_path", "path") if f.get(k)})
            frags.append(entry)
        state = c.get("state") or "missing"
        if state in _STATE_ORDER and _STATE_ORDER.index(state) > _STATE_ORDER.index(worst):
            worst = state
        if c.get("policy"):
            policies.add(c["policy"])
        segments.append({"pos": i, "size": seg.size, "policy": c.get("policy"), "state": state,
                         "good": c.get("good"), "width": c.get("width"), "fragments": frags})
    return {"inline": False, "policy": ", ".join(sorted(policies)) or None, "state": worst, "segments": segments}
