"""Writers: whole-object puts, streamed writes, appends with handles, and custom properties.

On Coffer, appends use its native append sessions (nothing is copied on flush); on any other S3
server the SDK falls back to a multipart upload (see docs/sdk.md, "Appends").
"""

from __future__ import annotations

from _common import client, scratch_bucket

bucket = scratch_bucket(client(), "writer")
try:
    obj = bucket.object("journal.txt")
    writer = obj.get_writer()
    writer.put_content(b"day 1\n", content_type="text/plain")

    h = writer.append_content(b"day 2\n", append_to_existing=True)  # starts a session
    h = writer.append_content(b"day 3\n", handle=h)
    print("before flush:", obj.read())  # unchanged until the flush
    writer.append_content(b"", handle=h, flush=True)
    print("after flush: ", obj.read())

    with writer.as_file(mode="a") as f:  # appends without downloading the object
        f.write(b"day 4\n")
    with bucket.object("report.csv").get_writer().as_file(mode="w", content_type="text/csv") as f:
        for i in range(3):  # streamed: big outputs become multipart uploads part by part
            f.write(f"{i},{i * i}\n".encode())
    print("report:", bucket.object("report.csv").read())

    writer.set_custom_props({"reviewed": "yes"})  # merged with what is there
    writer.set_custom_props({"owner": "ann"}, replace_existing=True)
    print("custom props:", obj.head().custom, "content:", obj.read())
finally:
    bucket.delete(force=True)
