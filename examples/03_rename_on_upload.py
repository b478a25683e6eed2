"""Upload a local file under a different name, then rename an object (copy + delete: S3 has no
rename), keeping or replacing its metadata on the way."""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import client, scratch_bucket

c = client()
bucket = scratch_bucket(c, "rename")
try:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "IMG_0001.JPG"
        local.write_bytes(b"\xff\xd8 pretend this is a photo")
        # The key is whatever you choose: the local name does not matter.
        bucket.object("photos/2024/beach.jpg").get_writer().put_file(local, metadata={"camera": "x100"})
        # The transfer manager does the same for big files (parallel parts, a future to wait on).
        with c.transfer() as tm:
            tm.upload(local, bucket, "photos/2024/beach-copy.jpg").result()

    src = bucket.object("photos/2024/beach.jpg")
    src.copy_to(bucket, "photos/best/beach.jpg")  # metadata kept (COPY)
    src.delete()
    renamed = bucket.object("photos/best/beach.jpg").head()
    print("renamed; metadata kept:", renamed.custom, renamed.content_type)

    bucket.object("photos/best/beach.jpg").copy_to(bucket, "photos/best/beach-v2.jpg",
                                                   metadata={"camera": "x100", "edited": "yes"})
    print("copy with new metadata:", bucket.object("photos/best/beach-v2.jpg").head().custom)
    print([e.key for e in bucket.list_objects()])
finally:
    bucket.delete(force=True)
