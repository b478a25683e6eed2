"""Put objects, list them the lazy way (flat and by "folder"), read them back whole, by range and
as a file."""

from __future__ import annotations

from _common import client, scratch_bucket

from coffer import NoSuchKey, Prefix

bucket = scratch_bucket(client(), "put-list-get")
try:
    for name in ("notes/2024/jan.txt", "notes/2024/feb.txt", "notes/readme.md", "todo.txt"):
        bucket.object(name).put(f"contents of {name}\n", content_type="text/plain", metadata={"author": "ann"})

    print("everything:")
    for entry in bucket.list_objects():  # pages are fetched as you iterate, never all at once
        print(f"  {entry.key:<22} {entry.size:>4} bytes  {entry.etag}")

    print("one level of notes/:")
    for entry in bucket.list_objects(prefix="notes/", delimiter="/"):
        print("  [dir] " if isinstance(entry, Prefix) else "  ", entry.key, sep="")

    obj = bucket.object("notes/readme.md")
    props = obj.head()
    print(f"{obj.key}: {props.size} bytes, {props.content_type}, custom={props.custom}")
    print("whole:", obj.get_reader().read_all())
    print("bytes 0-7:", obj.get_reader("bytes=0-7").read_all())
    with obj.get_reader().as_file() as f:  # seekable, fetched lazily by range
        f.seek(-9, 2)
        print("last 9 via as_file:", f.read())

    try:
        bucket.object("missing").head()
    except NoSuchKey as exc:
        print(f"typed error: {exc.code} (HTTP {exc.status}, request {exc.request_id})")
finally:
    bucket.delete(force=True)
