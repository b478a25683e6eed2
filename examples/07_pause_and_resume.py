"""Pause, resume and cancel a big upload; then resume one that a crash interrupted.

A multipart upload that fails (or whose process dies) stays pending on the server; uploading the
same file to the same key again finds it (ListMultipartUploads + ListParts), checks each stored part
against the local bytes, and sends only what is missing.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from _common import client, scratch_bucket

from coffer import TransferCancelled, TransferConfig

MiB = 1024 * 1024
c = client()
bucket = scratch_bucket(c, "pause")
size = int(os.environ.get("EXAMPLE_MIB", "40")) * MiB
try:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.bin"
        path.write_bytes(os.urandom(size))
        slow = TransferConfig(multipart_chunksize=5 * MiB, max_concurrency=2, max_bandwidth=40 * MiB)
        with c.transfer(slow) as tm:
            fut = tm.upload(path, bucket, "big.bin")
            while fut.bytes_transferred < size // 4:
                time.sleep(0.02)
            fut.pause()
            print(f"paused at {fut.bytes_transferred} of {fut.total} bytes ({fut.state})")
            time.sleep(0.5)
            fut.resume()
            fut.result()
            print("finished:", bucket.object("big.bin").head().size, "bytes")

            fut = tm.upload(path, bucket, "cancelled.bin")
            while fut.bytes_transferred < size // 4:
                time.sleep(0.02)
            fut.cancel()
            try:
                fut.result()
            except TransferCancelled:
                print("cancelled; pending uploads left behind:", list(bucket.list_uploads()))

        # Simulate a crash: store two parts by hand, then let the transfer manager pick them up.
        from coffer.sdk import _multipart as mp

        t = c._transport
        upload_id = mp.create(t, bucket.name, "crashed.bin")
        with open(path, "rb") as f:
            for n in (1, 2):
                mp.upload_part(t, bucket.name, "crashed.bin", upload_id, n, f.read(5 * MiB))
        with c.transfer(TransferConfig(multipart_chunksize=5 * MiB)) as tm:
            fut = tm.upload(path, bucket, "crashed.bin")
            fut.result()
        print(f"resumed: {fut.bytes_resumed} bytes were already there, {fut.total - fut.bytes_resumed} sent")
finally:
    bucket.delete(force=True)
