"""AIStore's own SDK (the `aistore` package from PyPI), unchanged, against a live Coffer server.

Covers the object-writer flows of AIStore's documentation (put_content/put_file, handle-based
appends, as_file("w"|"a"), custom properties, readers with ranges and as_file, head, delete,
listings), bearer tokens (issued, expired, revoked, anonymous refused), multi-object copy/delete
from a list or a template, and reading one member of a tar or zip object by archpath.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import uuid

import pytest
import requests

aistore = pytest.importorskip("aistore")
from ais_support import no_retries  # noqa: E402
from aistore.sdk import ArchiveConfig  # noqa: E402
from aistore.sdk.errors import AISError, ErrBckAlreadyExists, ErrObjNotFound  # noqa: E402
from helpers import coffer_cli  # noqa: E402

from archive_builders import make_tar, make_zip  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(endpoint):
    if endpoint.server is None:
        pytest.skip("needs a local server (tokens are issued on its data folder)")
    return endpoint.server.data


@pytest.fixture(scope="module")
def token(data_dir) -> str:
    return coffer_cli(data_dir, "token", "create", "--user", "root")


@pytest.fixture(scope="module")
def ais(endpoint, token):
    return aistore.Client(endpoint.url, token=token, retry_config=no_retries())


@pytest.fixture
def bck(ais):
    b = ais.bucket(f"ais-{uuid.uuid4().hex[:16]}").create(exist_ok=True)
    yield b
    b.delete(missing_ok=True)


# --- buckets and whole objects ----------------------------------------------------------------------

def test_create_bucket_twice(ais, bck):
    with pytest.raises(ErrBckAlreadyExists):
        ais.bucket(bck.name).create()
    assert ais.bucket(bck.name).create(exist_ok=True).name == bck.name
    assert bck.name in [b.name for b in ais.cluster().list_buckets()]
    assert bck.head() is not None


def test_encrypted_object_read_through_aistore(bck, s3):
    """An object stored encrypted at rest (SSE-S3) reads back as plaintext through /v1, ranges too."""
    payload = bytes(range(256)) * 4096 * 2  # 2 MiB: a segment file, several cipher blocks
    s3.put_object(Bucket=bck.name, Key="enc.bin", Body=payload, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bck.name, Key="enc-small", Body=b"tiny secret", ServerSideEncryption="AES256")
    assert bck.object("enc.bin").get_reader().read_all() == payload
    assert bck.object("enc.bin").get_reader(byte_range="bytes=70000-70999").read_all() == payload[70000:71000]
    assert bck.object("enc-small").get_reader().read_all() == b"tiny secret"


def test_delete_in_a_versioned_bucket_leaves_a_delete_marker(bck, s3):
    """AIStore's DELETE follows DeleteObject's rule: the current version becomes noncurrent behind a
    delete marker, never destroyed."""
    s3.put_bucket_versioning(Bucket=bck.name, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bck.name, Key="kept.txt", Body=b"version one")["VersionId"]
    bck.object("kept.txt").delete()
    with pytest.raises(ErrObjNotFound):
        bck.object("kept.txt").get_reader().read_all()
    versions = s3.list_object_versions(Bucket=bck.name, Prefix="kept.txt")
    assert [v["VersionId"] for v in versions.get("Versions", [])] == [first]
    assert len(versions.get("DeleteMarkers", [])) == 1 and versions["DeleteMarkers"][0]["IsLatest"]
    body = s3.get_object(Bucket=bck.name, Key="kept.txt", VersionId=first)["Body"].read()
    assert body == b"version one"
    bck.delete()  # AIStore's bucket delete takes the noncurrent version and the marker with it
    assert bck.name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_put_get_head_delete(bck, tmp_path):
    obj = bck.object("dir/hello.txt")
    obj.get_writer().put_content(b"hello, coffer")
    assert obj.get_reader().read_all() == b"hello, coffer"
    attrs = obj.head()
    assert attrs.size == 13
    assert attrs.present
    assert attrs.checksum_type == "md5"
    f = tmp_path / "big.bin"
    payload = bytes(range(256)) * 4096 * 3  # 3 MiB: a file on disk, not inline
    f.write_bytes(payload)
    big = bck.object("big.bin")
    big.get_writer().put_file(f)
    assert big.get_reader().read_all() == payload
    assert big.get_reader(byte_range="bytes=1000-1999").read_all() == payload[1000:2000]
    assert big.get_reader(byte_range="bytes=-10").read_all() == payload[-10:]
    with big.get_reader().as_file() as fh:
        assert fh.read(5) == payload[:5]
        assert fh.read() == payload[5:]
    assert b"".join(big.get_reader(chunk_size=65536)) == payload
    obj.delete()
    with pytest.raises(ErrObjNotFound):
        obj.get_reader().read_all()
    with pytest.raises(ErrObjNotFound):
        obj.delete()


def test_missing_bucket_is_bucket_not_found(ais):
    from aistore.sdk.errors import ErrBckNotFound

    with pytest.raises(ErrBckNotFound):
        ais.bucket(f"nope-{uuid.uuid4().hex[:8]}").object("x").get_writer().put_content(b"x")


def test_custom_props(bck, s3):
    obj = bck.object("props.bin")
    obj.get_writer().put_content(b"data")
    w = obj.get_writer()
    w.set_custom_props({"Owner": "alice", "team": "ml"})
    assert obj.head("custom").custom_metadata == {"Owner": "alice", "team": "ml"}
    w.set_custom_props({"team": "infra", "stage": "2"})
    assert obj.head("custom").custom_metadata == {"Owner": "alice", "team": "infra", "stage": "2"}
    w.set_custom_props({"only": "this"}, replace_existing=True)
    assert obj.props.custom_metadata == {"only": "this"}
    # the same object seen through S3: custom properties are its user metadata, data untouched
    got = s3.get_object(Bucket=bck.name, Key="props.bin")
    assert got["Metadata"] == {"only": "this"}
    assert got["Body"].read() == b"data"


# --- appends -----------------------------------------------------------------------------------------

def test_append_handles_and_flush(bck, s3):
    obj = bck.object("log.txt")
    w = obj.get_writer()
    handle = w.append_content(b"one,")
    assert handle
    handle = w.append_content(b"two,", handle=handle)
    # until the flush, nothing is visible
    with pytest.raises(ErrObjNotFound):
        obj.get_reader().read_all()
    handle = w.append_content(b"three", handle=handle)
    w.append_content(b"", handle=handle, flush=True)
    assert obj.get_reader().read_all() == b"one,two,three"
    # appending to an existing object keeps it in front, and the stored object is unchanged until the flush
    h2 = w.append_content(b"+four")
    assert obj.get_reader().read_all() == b"one,two,three"
    w.append_content(b"", handle=h2, flush=True)
    assert obj.get_reader().read_all() == b"one,two,three+four"
    assert s3.get_object(Bucket=bck.name, Key="log.txt")["Body"].read() == b"one,two,three+four"


def test_as_file_write_and_append(bck):
    obj = bck.object("file.txt")
    w = obj.get_writer()
    with w.as_file("w") as f:
        f.write(b"first ")
        f.write(b"line\n")
    assert obj.get_reader().read_all() == b"first line\n"
    with w.as_file("a") as f:
        f.write(b"second line\n")
    assert obj.get_reader().read_all() == b"first line\nsecond line\n"
    with w.as_file("w") as f:
        f.write(b"new")
    assert obj.get_reader().read_all() == b"new"


def test_append_of_a_large_object_never_copies_it(bck, endpoint):
    big = bck.object("big-append")
    payload = b"x" * (2 << 20)
    big.get_writer().put_content(payload)
    h = big.get_writer().append_content(b"tail")
    big.get_writer().append_content(b"", handle=h, flush=True)
    assert big.head().size == len(payload) + 4
    r = big.get_reader(byte_range=f"bytes={len(payload) - 2}-").read_all()
    assert r == b"xxtail"


def test_bad_append_handle(bck):
    with pytest.raises(AISError) as ei:
        bck.object("x").get_writer().append_content(b"a", handle="not-a-handle")
    assert ei.value.status_code in (400, 404)


# --- listings ----------------------------------------------------------------------------------------

def test_list_objects_pages(bck):
    names = [f"p/{i:03d}" for i in range(25)] + ["q/other"]
    for n in names:
        bck.object(n).get_writer().put_content(n.encode())
    page = bck.list_objects(prefix="p/", page_size=10)
    assert [e.name for e in page.entries] == names[:10]
    assert page.continuation_token
    everything = bck.list_all_objects(prefix="p/", page_size=7)
    assert [e.name for e in everything] == names[:25]
    assert [e.size for e in everything] == [5] * 25
    assert [o.name for o in bck.list_all_objects_iter()] == names
    rich = bck.list_objects(prefix="q/", props="name,size,checksum,version,atime").entries
    assert [(e.name, e.size) for e in rich] == [("q/other", 7)]
    assert rich[0].checksum == rich[0].version == bck.object("q/other").head().etag
    assert rich[0].atime


# --- multi-object operations -------------------------------------------------------------------------

def test_template_copy_and_delete(ais, bck):
    for i in range(12):
        bck.object(f"shard-{i:03d}.tar").get_writer().put_content(f"shard {i}".encode())
    dst = ais.bucket(f"ais-dst-{uuid.uuid4().hex[:12]}").create()
    try:
        jobs = bck.objects(obj_template="shard-{000..019}.tar").copy(dst, prepend="copied/")
        assert jobs and jobs[0]
        got = [e.name for e in dst.list_all_objects()]
        assert got == [f"copied/shard-{i:03d}.tar" for i in range(12)]
        assert dst.object("copied/shard-007.tar").get_reader().read_all() == b"shard 7"
        job = bck.objects(obj_names=["shard-000.tar", "shard-001.tar"]).delete()
        assert ais.job(job).status().end_time > 0
        assert ais.job(job, job_kind="delete-listrange").wait(timeout=10, verbose=False).success
        bck.objects(obj_template="shard-{004..009..5}.tar").delete()
        left = [e.name for e in bck.list_all_objects()]
        assert left == [f"shard-{i:03d}.tar" for i in (2, 3, 5, 6, 7, 8, 10, 11)]
    finally:
        dst.delete(missing_ok=True)


def test_copy_list_with_missing_object_fails(ais, bck):
    bck.object("a").get_writer().put_content(b"a")
    dst = ais.bucket(f"ais-dst-{uuid.uuid4().hex[:12]}").create()
    try:
        with pytest.raises(AISError) as ei:
            bck.objects(obj_names=["a", "missing"]).copy(dst)
        assert ei.value.status_code == 404
        bck.objects(obj_names=["a", "missing"]).copy(dst, continue_on_error=True)
        assert [e.name for e in dst.list_all_objects()] == ["a"]
    finally:
        dst.delete(missing_ok=True)


def test_destroy_bucket_with_contents(ais):
    b = ais.bucket(f"ais-{uuid.uuid4().hex[:16]}").create()
    for i in range(3):
        b.object(f"o{i}").get_writer().put_content(b"x")
    b.delete()
    assert b.name not in [x.name for x in ais.cluster().list_buckets()]


# --- archives ----------------------------------------------------------------------------------------

MEMBERS = {f"dir/file-{i}.txt": (f"member {i} " * (i * 5000 + 1)).encode() for i in range(6)}


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_archpath_reads_one_member(bck, kind):
    body = make_zip(MEMBERS) if kind == "zip" else make_tar(MEMBERS, "w:gz" if kind == "tar.gz" else "w")
    obj = bck.object(f"shard.{kind}")
    obj.get_writer().put_content(body)
    for name, data in MEMBERS.items():
        got = obj.get_reader(archive_config=ArchiveConfig(archpath=name)).read_all()
        assert got == data, name
    assert obj.get_reader(archive_config=ArchiveConfig(archpath="dir/file-4.txt"),
                          byte_range="bytes=10-29").read_all() == MEMBERS["dir/file-4.txt"][10:30]
    with pytest.raises(ErrObjNotFound):
        obj.get_reader(archive_config=ArchiveConfig(archpath="dir/nope")).read_all()
    url = obj.get_url(archpath="dir/file-1.txt")
    assert "archpath=" in url


def test_archpath_on_a_non_archive(bck):
    obj = bck.object("plain.bin")
    obj.get_writer().put_content(b"not an archive at all" * 100)
    with pytest.raises(AISError) as ei:
        obj.get_reader(archive_config=ArchiveConfig(archpath="x")).read_all()
    assert ei.value.status_code == 400


# --- tokens ------------------------------------------------------------------------------------------

def test_anonymous_and_bad_tokens_are_refused(endpoint, token):
    r = requests.get(f"{endpoint.url}/v1/buckets", json={"action": "list"}, timeout=10)
    assert r.status_code == 401
    assert "anonymous" in r.json()["message"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = requests.get(f"{endpoint.url}/v1/buckets", json={"action": "list"}, timeout=10,
                     headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    claims = token.split(".")[1]
    none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + claims + "."
    r = requests.get(f"{endpoint.url}/v1/buckets", headers={"Authorization": f"Bearer {none_alg}"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(f"{endpoint.url}/v1/buckets", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200


def test_revoked_and_expired_tokens(endpoint, data_dir):
    import time

    out = json.loads(coffer_cli(data_dir, "token", "create", "--user", "root", "--json"))
    url = f"{endpoint.url}/v1/buckets"
    auth = {"Authorization": f"Bearer {out['token']}"}
    assert requests.get(url, headers=auth, timeout=10).status_code == 200
    assert out["id"] in coffer_cli(data_dir, "token", "list", "--user", "root")
    coffer_cli(data_dir, "token", "revoke", out["id"])
    deadline = time.monotonic() + 30
    while requests.get(url, headers=auth, timeout=10).status_code != 401:  # workers cache for ~2 s
        assert time.monotonic() < deadline, "revoked token still accepted"
        time.sleep(0.2)
    short = json.loads(coffer_cli(data_dir, "token", "create", "--user", "root", "--expires", "1", "--json"))
    time.sleep(1.1)
    assert requests.get(url, headers={"Authorization": f"Bearer {short['token']}"}, timeout=10).status_code == 401


def test_token_for_unknown_user_is_refused(data_dir):
    out = subprocess.run([sys.executable, "-m", "coffer", "token", "create", "--user", "nobody-here",
                          "--data", str(data_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "nobody-here" in out.stderr


# --- hostile and malformed requests --------------------------------------------------------------------

def test_malformed_requests_get_precise_errors(endpoint, token, bck):
    url = endpoint.url
    auth = {"Authorization": f"Bearer {token}"}

    def call(method, path, **kw):
        r = requests.request(method, url + path, headers={**auth, **kw.pop("headers", {})}, timeout=30, **kw)
        return r.status_code, (r.json()["message"] if r.content and r.headers.get("Content-Type", "").startswith(
            "application/json") else "")

    b = bck.name
    assert call("DELETE", f"/v1/buckets/{b}", data=b"{not json")[0] == 400
    assert call("DELETE", f"/v1/buckets/{b}", json={"action": "delete-listrange", "value": {"template": "x{1..2"}})[0] \
        == 400
    status, msg = call("DELETE", f"/v1/buckets/{b}",
                       json={"action": "delete-listrange", "value": {"template": "{0..9999}{0..9999}"}})
    assert status == 400 and "more than" in msg
    assert call("DELETE", f"/v1/buckets/{b}", json={"action": "delete-listrange", "value": {"objnames": []}})[0] == 400
    assert call("POST", f"/v1/buckets/{b}", json={"action": "etl-bck"})[0] == 501
    assert call("GET", f"/v1/buckets/{b}?provider=aws", json={"action": "list"})[0] == 400
    assert call("PUT", f"/v1/objects/{b}")[0] == 400
    assert call("PUT", f"/v1/objects/{b}/k?append_type=sideways", data=b"x")[0] == 400
    assert call("PUT", f"/v1/objects/{b}/k?append_type=flush", data=b"")[0] == 400
    assert call("PATCH", f"/v1/objects/{b}/k", json={"action": "", "value": {"a": 1}})[0] == 400
    status, msg = call("PATCH", f"/v1/objects/{b}/missing", json={"action": "", "value": {"a": "b"}})
    assert status == 404 and f"ais://{b}/missing" in msg
    assert call("GET", "/v1/etl/x")[0] == 501
    status, msg = call("GET", f"/v1/objects/no-such-bucket-{uuid.uuid4().hex[:6]}/k")
    assert status == 404 and "ais://no-such-bucket" in msg
    # a failed request leaves nothing behind
    assert [e.name for e in bck.list_all_objects()] == []


def test_another_users_bucket_is_refused(endpoint, data_dir, bck):
    coffer_cli(data_dir, "user", "add", "mallory", "--access-key", "MALLORYACCESSKEY0001", "--secret-key",
               "mallory-secret-key-0123456789abcdefghij")
    tok = coffer_cli(data_dir, "token", "create", "--user", "mallory")
    bck.object("secret").get_writer().put_content(b"s3cr3t")
    r = requests.get(f"{endpoint.url}/v1/objects/{bck.name}/secret", headers={"Authorization": f"Bearer {tok}"},
                     timeout=10)
    assert r.status_code == 403
    assert b"s3cr3t" not in r.content


def test_tokens_and_append_handles_survive_a_restart(server_factory):
    srv = server_factory()
    tok = coffer_cli(srv.data, "token", "create", "--user", "root")
    c1 = aistore.Client(srv.endpoint, token=tok, retry_config=no_retries())
    b = c1.bucket("restart-bck").create()
    w = b.object("journal").get_writer()
    w.put_content(b"base|")
    h = w.append_content(b"before-restart|")
    srv.stop()
    srv.start()
    # a second client (another process, say) carries on with the same token and handle
    c2 = aistore.Client(srv.endpoint, token=tok, retry_config=no_retries())
    o = c2.bucket("restart-bck").object("journal")
    assert o.get_reader().read_all() == b"base|"
    h = o.get_writer().append_content(b"after", handle=h)
    o.get_writer().append_content(b"", handle=h, flush=True)
    assert o.get_reader().read_all() == b"base|before-restart|after"
    o.copy(c2.bucket("restart-bck").object("journal-copy"))
    assert c2.bucket("restart-bck").object("journal-copy").get_reader().read_all() == b"base|before-restart|after"


def test_expect_continue_refused_before_the_body(endpoint, token, bck):
    from rawhttp import build, exchange

    host = endpoint.url.split("//")[1]
    # no token: refused before the client is invited to send its (large) body, connection closed
    req = build("PUT", f"/v1/objects/{bck.name}/big", [("Host", host), ("Content-Length", str(1 << 30)),
                                                       ("Expect", "100-continue")])
    r = exchange(endpoint.url, req)
    assert r is not None and r.status == 401
    assert r.headers.get("connection", "").lower() == "close"
    # with a token: invited, stored
    req = build("PUT", f"/v1/objects/{bck.name}/small", [("Host", host), ("Content-Length", "5"),
                                                         ("Expect", "100-continue"),
                                                         ("Authorization", f"Bearer {token}")])
    r = exchange(endpoint.url, [req, b"hello"], pause=0.2)
    assert r is not None and r.status == 200
    assert bck.object("small").get_reader().read_all() == b"hello"


# --- GetBatch (/v1/ml/moss) --------------------------------------------------------------------------

def test_get_batch_through_the_aistore_sdk(ais, bck, s3):
    """The AIStore SDK's batch API unchanged: objects in order, a missing one under __404__/ with
    continue-on-error, a larger-than-inline object streamed, names without the bucket on request."""
    big = bytes(range(256)) * 1024  # 256 KiB
    s3.put_object(Bucket=bck.name, Key="a.txt", Body=b"alpha")
    s3.put_object(Bucket=bck.name, Key="dir/big.bin", Body=big)
    got = [(info.obj_name, info.err_msg, data)
           for info, data in ais.batch(["a.txt", "missing", "dir/big.bin"], bucket=bck).get()]
    assert got[0] == ("a.txt", None, b"alpha")
    assert got[1][0] == "missing" and got[1][1] and got[1][2] == b""
    assert got[2] == ("dir/big.bin", None, big)
    raw = ais.batch(["a.txt", "dir/big.bin"], bucket=bck, only_obj_name=True).get(raw=True)
    try:
        with tarfile.open(fileobj=raw, mode="r|") as tar:
            assert [m.name for m in tar] == ["a.txt", "dir/big.bin"]
    finally:
        raw.close()


def test_get_batch_refuses_what_coffer_does_not_do(ais, bck):
    with pytest.raises(AISError) as e:
        list(ais.batch(["a"], bucket=bck, streaming_get=False).get())
    assert e.value.status_code == 501
    with pytest.raises(AISError) as e:
        list(ais.batch(["a"], bucket=ais.bucket("no-such-bucket-moss")).get())
    assert e.value.status_code == 404
