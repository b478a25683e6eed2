"""Delete a "folder": every key under a prefix, in batches of 1000 per request, with per-key results."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from _common import client, scratch_bucket

bucket = scratch_bucket(client(), "delete-folder")
try:
    keys = [f"logs/2024/{i:04d}.log" for i in range(250)] + ["logs/keep.txt", "other/a.txt"]
    with ThreadPoolExecutor(16) as pool:  # the client is thread-safe and pools its connections
        list(pool.map(lambda k: bucket.object(k).put(b"x"), keys))

    doomed = (e.key for e in bucket.list_objects(prefix="logs/2024/"))  # lazy: fine for millions
    results = bucket.delete_objects(doomed)
    failed = [r for r in results if not r.deleted]
    print(f"deleted {len(results) - len(failed)} objects, {len(failed)} failures")
    print("left:", [e.key for e in bucket.list_objects()])
finally:
    bucket.delete(force=True)  # force: empties the bucket (and aborts pending uploads) first
