"""kill -9 of a server while writers overwrite and delete the same keys of a versioned bucket: after
a restart every acknowledged version is listed with exactly its bytes, and each key's current
object is its newest listed version (the objects/versions invariant held through the crash).
"""

from __future__ import annotations

import random
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError
from helpers import MiB, client, md5_hex

KEYS = [f"k{i}" for i in range(4)]


def test_kill9_during_versioned_overwrites(server_factory):
    srv = server_factory()
    s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
    s3.create_bucket(Bucket="vcrash")
    s3.put_bucket_versioning(Bucket="vcrash", VersioningConfiguration={"Status": "Enabled"})
    acked: dict[tuple[str, str], str] = {}  # (key, version id) -> md5 of an acknowledged PUT
    lock = threading.Lock()

    def writer(tid: int, rnd: int, stop: threading.Event) -> None:
        c = client(srv.endpoint, srv.access_key, srv.secret_key)
        rng = random.Random(tid * 100 + rnd)
        while not stop.is_set():
            key = rng.choice(KEYS)
            try:
                if rng.random() < 0.2:
                    c.delete_object(Bucket="vcrash", Key=key)  # a delete marker
                    continue
                body = rng.randbytes(rng.choice([rng.randint(0, 5000), rng.randint(150_000, MiB // 2)]))
                vid = c.put_object(Bucket="vcrash", Key=key, Body=body)["VersionId"]
            except (BotoCoreError, ClientError):
                return  # the server is gone
            with lock:
                acked[(key, vid)] = md5_hex(body)

    for rnd in range(2):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(t, rnd, stop)) for t in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0 + 0.5 * rnd)  # when to kill (not an assertion)
        srv.kill()
        stop.set()
        for t in threads:
            t.join(30)
        srv.start()
        s3 = client(srv.endpoint, srv.access_key, srv.secret_key)
        versions, markers = [], []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket="vcrash"):
            versions += page.get("Versions", [])
            markers += page.get("DeleteMarkers", [])
        listed = {(v["Key"], v["VersionId"]) for v in versions}
        with lock:
            acked_now = dict(acked)
        assert set(acked_now) <= listed, "acknowledged versions lost"
        for key, vid in sorted(listed & set(acked_now)):
            got = md5_hex(s3.get_object(Bucket="vcrash", Key=key, VersionId=vid)["Body"].read())
            assert got == acked_now[(key, vid)]
        for key in KEYS:
            latest = [e for e in versions + markers if e["Key"] == key and e["IsLatest"]]
            assert len(latest) <= 1
            if latest and "ETag" in latest[0]:  # a version, not a marker, is the latest
                head = s3.head_object(Bucket="vcrash", Key=key)
                assert head["VersionId"] == latest[0]["VersionId"]
    assert len(acked) > 10
