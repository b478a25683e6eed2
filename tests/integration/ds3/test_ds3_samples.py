"""The ds3 SDK's own samples, run against Coffer through a client speaking the SDK's exact wire format.

Each test follows one sample of SpectraLogic/ds3_python3_sdk (puttingData, gettingData, listAll,
renaming, putting_all_files_in_directory, getting_all_objects_in_bucket with ds3Helpers.Helper):
same requests, same order, same decisions on the answers (InCache, ChunkId bookkeeping, IsLatest,
IsTruncated/NextMarker paging).
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import time
import uuid

import pytest
from ds3_wire import Ds3Failed, Ds3WireClient

BOOKS = {
    "beowulf.txt": b"Hwaet! We Gardena in geardagum " * 300,
    "sherlock_holmes.txt": b"To Sherlock Holmes she is always the woman. " * 500,
    "tale_of_two_cities.txt": b"It was the best of times, it was the worst of times. " * 700,
    "ulysses.txt": b"Stately, plump Buck Mulligan came from the stairhead. " * 900,
}


@pytest.fixture
def ds3(endpoint) -> Ds3WireClient:
    return Ds3WireClient(endpoint.url, endpoint.access_key, endpoint.secret_key)


@pytest.fixture
def books(ds3) -> str:
    name = f"books-{uuid.uuid4().hex[:12]}"
    ds3.put_bucket(name)
    return name


def send_all(ds3: Ds3WireClient, bucket: str, result: dict, data: dict[str, bytes]) -> int:
    """The puttingData loop: ask for ready chunks, send each chunk once, blobs not InCache."""
    chunk_ids = {x["ChunkId"] for x in result["ObjectsList"]}
    sent = 0
    while chunk_ids:
        ready, retry_after = ds3.chunks_ready(result["JobId"])
        if not ready["ObjectsList"]:
            time.sleep(retry_after)
            continue
        for chunk in ready["ObjectsList"]:
            if chunk["ChunkId"] not in chunk_ids:
                continue
            chunk_ids.remove(chunk["ChunkId"])
            for obj in chunk["ObjectList"]:
                if obj["InCache"] == "false":
                    stream = io.BytesIO(data[obj["Name"]])
                    stream.seek(int(obj["Offset"]), 0)
                    ds3.put_object(bucket, obj["Name"], obj["Length"], stream, offset=int(obj["Offset"]),
                                   job=result["JobId"])
                    sent += 1
    return sent


def test_putting_data(ds3, books):
    result = ds3.put_bulk_job(books, [(k, len(v)) for k, v in BOOKS.items()])
    assert result["RequestType"] == "PUT" and result["Status"] == "IN_PROGRESS" and result["BucketName"] == books
    assert int(result["OriginalSizeInBytes"]) == sum(len(v) for v in BOOKS.values())
    assert result["NodeList"] and result["ObjectsList"][0]["NodeId"] == result["NodeList"][0]["Id"]
    assert send_all(ds3, books, result, BOOKS) == 4
    listed = ds3.get_bucket(books)
    assert [o["Key"] for o in listed["ContentsList"]] == sorted(BOOKS)
    assert ds3.get_job(result["JobId"])["Status"] == "COMPLETED"
    for obj in listed["ContentsList"]:
        ds3.delete_object(books, obj["Key"])
    ds3.delete_bucket(books)
    assert books not in [b["Name"] for b in ds3.get_service()["BucketList"]]


def test_multi_blob_object_visible_only_when_complete(ds3, books, s3):
    data = {"big.bin": os.urandom(10_000), "small.txt": b"tiny"}
    result = ds3.put_bulk_job(books, [(k, len(v)) for k, v in data.items()], max_upload_size=4096)
    blobs = [b for ch in result["ObjectsList"] for b in ch["ObjectList"]]
    assert [(b["Name"], b["Offset"], b["Length"]) for b in blobs if b["Name"] == "big.bin"] == [
        ("big.bin", "0", "4096"), ("big.bin", "4096", "4096"), ("big.bin", "8192", "1808")]
    job = result["JobId"]
    for b in reversed([b for b in blobs if b["Name"] == "big.bin"][1:]):  # out of order, all but the first
        ds3.put_object(books, "big.bin", b["Length"], io.BytesIO(data["big.bin"][int(b["Offset"]):]),
                       job=job, offset=int(b["Offset"]))
    assert "big.bin" not in [o["Key"] for o in ds3.get_bucket(books)["ContentsList"]]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=books, Key="big.bin")
    ds3.put_object(books, "big.bin", 4096, io.BytesIO(data["big.bin"]), job=job, offset=0)
    assert s3.get_object(Bucket=books, Key="big.bin")["Body"].read() == data["big.bin"]
    assert ds3.get_job(job)["Status"] == "IN_PROGRESS"  # small.txt is still missing
    send_all(ds3, books, ds3.get_job(job), data)
    assert ds3.get_job(job)["Status"] == "COMPLETED"


def test_getting_data(ds3, books, tmp_path):
    send_all(ds3, books, ds3.put_bulk_job(books, [(k, len(v)) for k, v in BOOKS.items()]), BOOKS)
    contents = ds3.get_bucket(books)
    names = [obj["Key"] for obj in contents["ContentsList"]]
    dest = {n: tmp_path / n for n in names}
    result = ds3.get_bulk_job(books, names)
    assert result["RequestType"] == "GET"
    chunk_ids = {x["ChunkId"] for x in result["ObjectsList"]}
    while chunk_ids:
        ready, retry_after = ds3.chunks_ready(result["JobId"])
        if not ready["ObjectsList"]:
            time.sleep(retry_after)
            continue
        for chunk in ready["ObjectsList"]:
            if chunk["ChunkId"] not in chunk_ids:
                continue
            for obj in chunk["ObjectList"]:
                with open(dest[obj["Name"]], "wb") as stream:
                    stream.seek(int(obj["Offset"]))
                    ds3.get_object(books, obj["Name"], stream, offset=int(obj["Offset"]), job=result["JobId"])
            chunk_ids.remove(chunk["ChunkId"])
    for name, path in dest.items():
        assert path.read_bytes() == BOOKS[name]
    assert ds3.get_job(result["JobId"])["Status"] == "COMPLETED"


def test_list_all(ds3, books):
    data = {"one": b"abc", "two/three": b"12345"}
    send_all(ds3, books, ds3.put_bulk_job(books, [(k, len(v)) for k, v in data.items()]), data)
    object_dict = {}
    for name in [b["Name"] for b in ds3.get_service()["BucketList"]]:
        object_dict[name] = [o["Key"] for o in ds3.get_bucket(name)["ContentsList"]]
    assert object_dict[books] == ["one", "two/three"]


def test_renaming_and_delete_folder(ds3, books):
    mapping = {
        "beowulf.txt": "beowulf.txt", "sherlock_holmes.txt": "sherlock_holmes.txt",
        "folder/beowulf.txt": "beowulf.txt", "folder/sherlock_holmes.txt": "sherlock_holmes.txt",
        "folder/folder2/tale_of_two_cities.txt": "tale_of_two_cities.txt", "folder/folder2/ulysses.txt": "ulysses.txt",
    }
    data = {k: BOOKS[v] for k, v in mapping.items()}
    send_all(ds3, books, ds3.put_bulk_job(books, [(k, len(v)) for k, v in data.items()]), data)
    assert len(ds3.get_bucket(books)["ContentsList"]) == 6
    ds3.delete_folder_recursively(books, "folder/folder2")
    assert [o["Key"] for o in ds3.get_bucket(books)["ContentsList"]] == [
        "beowulf.txt", "folder/beowulf.txt", "folder/sherlock_holmes.txt", "sherlock_holmes.txt"]
    ds3.delete_folder_recursively(books, "folder")
    keys = [o["Key"] for o in ds3.get_bucket(books)["ContentsList"]]
    assert keys == ["beowulf.txt", "sherlock_holmes.txt"]
    for k in keys:
        ds3.delete_object(books, k)
    ds3.delete_bucket(books)


# -- ds3Helpers.Helper -----------------------------------------------------------------------------
def helper_put_objects(ds3: Ds3WireClient, objs: list[tuple[str, str, int]], bucket: str, max_threads: int = 5) -> str:
    """Helper.put_objects: bulk put, then send every blob of every ready chunk on a thread pool."""
    result = ds3.put_bulk_job(bucket, [(name, size) for name, _p, size in objs])
    paths = {name: (path, size) for name, path, size in objs}
    job_id = result["JobId"]
    blob_set = {(b["Name"], int(b["Length"]), int(b["Offset"]))
                for ch in result["ObjectsList"] for b in ch["ObjectList"]}

    def put_blob(name: str, length: int, offset: int) -> None:
        path, size = paths[name]
        if size == 0:  # the helper's EmptyReader
            ds3.put_object(bucket, name, 0, io.BytesIO(), offset=offset, job=job_id)
            return
        with open(path, "rb") as stream:
            stream.seek(offset)
            ds3.put_object(bucket, name, length, stream, offset=offset, job=job_id)

    while blob_set:
        chunks = ds3.chunks_ready(job_id)[0]["ObjectsList"]
        assert chunks, "the helper would sleep 60 s here"
        with concurrent.futures.ThreadPoolExecutor(max_workers=max_threads) as ex:
            futures = []
            for chunk in chunks:
                for b in chunk["ObjectList"]:
                    blob = (b["Name"], int(b["Length"]), int(b["Offset"]))
                    if blob in blob_set:
                        blob_set.remove(blob)
                        futures.append(ex.submit(put_blob, *blob))
            for f in futures:
                f.result()
    return job_id


def helper_put_all_objects_in_directory(ds3: Ds3WireClient, source_dir, bucket: str) -> list[str]:
    objs = []
    for root, dirs, files in os.walk(source_dir):
        for name in files:
            p = os.path.join(root, name)
            objs.append((os.path.normpath(os.path.relpath(p, source_dir)), p, os.path.getsize(p)))
        for name in dirs:
            d = os.path.join(root, name)
            objs.append((os.path.join(os.path.normpath(os.path.relpath(d, source_dir)), ""), d, 0))
    return [helper_put_objects(ds3, objs, bucket)]


def helper_get_all_files_in_bucket(ds3: Ds3WireClient, destination_dir, bucket: str, per_job: int = 1000) -> list[str]:
    truncated, marker, job_ids = "true", "", []
    while truncated.lower() == "true":
        listing = ds3.get_bucket(bucket, max_keys=per_job, versions=False, marker=marker)
        wanted = []
        for obj in listing["ContentsList"] + listing["VersionList"]:
            if obj["IsLatest"].lower() != "true":
                continue
            dest = os.path.join(destination_dir, obj["Key"])
            if obj["Key"].endswith("/"):
                os.makedirs(dest, exist_ok=True)
            else:
                wanted.append((obj["Key"], dest))
        if wanted:
            result = ds3.get_bulk_job(bucket, [n for n, _ in wanted])
            dests = dict(wanted)
            blob_set = {(b["Name"], int(b["Offset"])) for ch in result["ObjectsList"] for b in ch["ObjectList"]}
            while blob_set:
                for chunk in ds3.chunks_ready(result["JobId"])[0]["ObjectsList"]:
                    for b in chunk["ObjectList"]:
                        key = (b["Name"], int(b["Offset"]))
                        if key in blob_set:
                            blob_set.remove(key)
                            os.makedirs(os.path.dirname(dests[b["Name"]]), exist_ok=True)
                            fd = os.open(dests[b["Name"]], os.O_CREAT | os.O_WRONLY)
                            with os.fdopen(fd, "wb") as stream:
                                stream.seek(key[1])
                                ds3.get_object(bucket, b["Name"], stream, offset=key[1], job=result["JobId"])
            job_ids.append(result["JobId"])
        truncated = listing["IsTruncated"]
        marker = listing.get("NextMarker") or ""
    return job_ids


def test_helper_put_all_and_get_all(ds3, books, tmp_path):
    src = tmp_path / "resources"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "emptydir").mkdir()
    for i, (name, body) in enumerate(BOOKS.items()):
        target = src / ("sub" if i % 2 else "") / name
        target.write_bytes(body)
    (src / "sub" / "deeper" / "zero.txt").write_bytes(b"")
    job_ids = helper_put_all_objects_in_directory(ds3, src, books)
    assert ds3.get_job(job_ids[0])["Status"] == "COMPLETED"
    keys = [o["Key"] for o in ds3.get_bucket(books)["ContentsList"]]
    assert "emptydir/" in keys and "sub/deeper/zero.txt" in keys and "beowulf.txt" in keys
    dest = tmp_path / "landed"
    get_ids = helper_get_all_files_in_bucket(ds3, dest, books, per_job=3)  # several listing pages, several jobs
    assert len(get_ids) >= 2
    for root, _dirs, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), src)
            assert (dest / rel).read_bytes() == (src / rel).read_bytes()
    assert (dest / "emptydir").is_dir()


def test_wire_errors_are_ds3_documents(ds3, books, endpoint):
    with pytest.raises(Ds3Failed) as e:
        ds3.get_job(str(uuid.uuid4()))
    assert (e.value.status, e.value.http_code, e.value.code) == (404, 404, "NotFound")
    bad = Ds3WireClient(endpoint.url, endpoint.access_key, "wrong-secret")
    with pytest.raises(Ds3Failed) as e:
        bad.put_bulk_job(books, [("x", 1)])
    assert (e.value.status, e.value.http_code, e.value.code) == (403, 403, "SignatureDoesNotMatch")
    job = ds3.put_bulk_job(books, [("x", 5)])
    with pytest.raises(Ds3Failed) as e:  # a blob of the wrong length loses nothing and is refused
        ds3.put_object(books, "x", 3, io.BytesIO(b"abc"), job=job["JobId"], offset=0)
    assert e.value.status == 400
    with pytest.raises(Ds3Failed) as e:
        ds3.put_object(books, "x", 5, io.BytesIO(b"abcde"), job=job["JobId"], offset=7)
    assert e.value.status == 404
    with pytest.raises(Ds3Failed) as e:
        ds3.get_bulk_job(books, ["no-such-object"])
    assert e.value.status == 404
    with pytest.raises(Ds3Failed) as e:
        ds3.call("PUT", "/_rest_/bucket/" + books, (200,), {"operation": "start_bulk_put"}, body=b"<Objects><Obj")
    assert e.value.status == 400


def test_helper_put_with_calculate_checksum(ds3, books):
    """Helper.put_objects(calculate_checksum=True): data policy lookup, then Content-MD5 per blob."""
    bucket_info = ds3.parsed(ds3.call("GET", "/_rest_/bucket/" + books, (200,)))
    policy = ds3.parsed(ds3.call("GET", "/_rest_/data_policy/" + bucket_info["DataPolicyId"], (200,)))
    assert policy["ChecksumType"] == "MD5"
    body = BOOKS["ulysses.txt"]
    job = ds3.put_bulk_job(books, [("u.txt", len(body))])
    import base64
    import hashlib

    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(Ds3Failed) as e:  # a corrupted blob is refused and nothing is stored
        ds3.put_object(books, "u.txt", len(body), io.BytesIO(body), job=job["JobId"], offset=0,
                       headers={"Content-MD5": bad})
    assert (e.value.status, e.value.code) == (400, "BadDigest")
    assert ds3.get_job(job["JobId"])["CompletedSizeInBytes"] == "0"
    ds3.put_object(books, "u.txt", len(body), io.BytesIO(body), job=job["JobId"], offset=0,
                   headers={"Content-MD5": good, "purpose": "archive"})  # an extra header -> x-amz-meta-purpose
    assert ds3.get_job(job["JobId"])["Status"] == "COMPLETED"
    out = io.BytesIO()
    ds3.get_object(books, "u.txt", out)
    assert out.getvalue() == body


def test_putting_data_with_crc32(ds3, books):
    """puttingDataWithCRC32: each blob carries Content-CRC32 (base64 of the big-endian CRC32)."""
    import base64
    import zlib

    body = BOOKS["beowulf.txt"]
    job = ds3.put_bulk_job(books, [("b.txt", len(body))])
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    wrong = base64.b64encode((zlib.crc32(body) ^ 1).to_bytes(4, "big")).decode()
    with pytest.raises(Ds3Failed) as e:
        ds3.put_object(books, "b.txt", len(body), io.BytesIO(body), job=job["JobId"], offset=0,
                       headers={"Content-CRC32": wrong})
    assert e.value.status == 400
    ds3.put_object(books, "b.txt", len(body), io.BytesIO(body), job=job["JobId"], offset=0,
                   headers={"Content-CRC32": crc})
    assert ds3.get_job(job["JobId"])["Status"] == "COMPLETED"


def test_plain_s3_requests_of_a_ds3_client_are_answered_its_way(ds3, books, s3):
    """GetService/GetBucket without namespaces (the SDK's parser finds plain tags only) and errors
    with HttpErrorCode, while S3 clients on the same paths keep S3's answers."""
    assert books in [b["Name"] for b in ds3.get_service()["BucketList"]]
    with pytest.raises(Ds3Failed) as e:
        ds3.delete_bucket("no-such-bucket-" + uuid.uuid4().hex[:8])
    assert (e.value.status, e.value.http_code, e.value.code) == (404, 404, "NoSuchBucket")
    raw = ds3.send("GET", "/" + books)
    assert b"xmlns" not in raw.body and b"<ListBucketResult>" in raw.body
    assert s3.list_objects(Bucket=books)["Name"] == books  # boto3 (with a User-Agent) still gets S3's XML


def test_plain_put_object_with_ds3_headers(ds3, books):
    """PutObjectRequest without a job, with metadata and a checksum header: signed the DS3 way
    (x-amz-meta-Purpose as given, Content-CRC32 in the checksum slot), which S3's SigV2 would refuse."""
    import base64
    import zlib

    body = b"plain put through the S3 path"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    ds3.put_object(books, "plain.txt", len(body), io.BytesIO(body),
                   headers={"Purpose": "Archive", "Content-CRC32": crc})
    r = ds3.send("HEAD", f"/{books}/plain.txt")
    assert r.status == 200 and r.header("x-amz-meta-purpose") == "Archive"
    out = io.BytesIO()
    ds3.get_object(books, "plain.txt", out)
    assert out.getvalue() == body
