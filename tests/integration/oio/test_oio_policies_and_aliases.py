"""OpenIO's ObjectStorageApi (coffer.compat.oio) on what OpenIO code relies on beyond the basic flows:
`policy=` on create with OpenIO's names (SINGLE, TWOCOPIES, THREECOPIES, EC, ECISAL42D1, ...) and
Coffer's, the real policy and `chunk_method` in properties, `object_locate` listing every copy or EC
fragment (volume URL, position, size, hash) and `object_change_policy`; `etag=` checked on create;
`container_properties` applied on auto-creation; NoSuchObject when deleting a missing object;
`perfdata` filled; the deprecated aliases OpenIO still ships.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings

import pytest

from coffer.compat.oio import EtagMismatch, NoSuchObject, ObjectStorageApi

ACCOUNT = "acct"
PAYLOAD = bytes(range(256)) * 2048  # 512 KiB: stored in volumes, not inline


@pytest.fixture(scope="module")
def six(module_server_factory, tmp_path_factory):
    """A server over six volume folders, and the facade for it."""
    base = tmp_path_factory.mktemp("oio-vols")
    args: list[str] = []
    for i in range(6):
        args += ["--volume", str(base / f"vol{i}")]
    srv = module_server_factory(extra_args=[*args, "--heal-interval", "0"])
    return ObjectStorageApi(endpoint=srv.endpoint, access_key=srv.access_key, secret_key=srv.secret_key)


@pytest.fixture
def api(endpoint) -> ObjectStorageApi:
    return ObjectStorageApi("OPENIO", endpoint=endpoint.url, access_key=endpoint.access_key,
                            secret_key=endpoint.secret_key)


def _name() -> str:
    return f"oio-f-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("asked, reported, method, copies", [
    ("SINGLE", "SINGLE", "plain/nb_copy=1", 1),
    ("TWOCOPIES", "TWOCOPIES", "plain/nb_copy=2", 2),
    ("THREECOPIES", "THREECOPIES", "plain/nb_copy=3", 3),
    ("REPLICA-3", "THREECOPIES", "plain/nb_copy=3", 3),  # Coffer's name, reported by OpenIO's
])
def test_replicated_policies(six, asked, reported, method, copies):
    c = _name()
    chunks, size, hash_, meta = six.object_create_ext(ACCOUNT, c, data=PAYLOAD, obj_name="o", policy=asked)
    assert (size, hash_) == (len(PAYLOAD), hashlib.md5(PAYLOAD).hexdigest().upper())
    assert (meta["policy"], meta["chunk_method"]) == (reported, method)
    assert len(chunks) == copies and {ch["pos"] for ch in chunks} == {"0"}
    assert len({ch["url"] for ch in chunks}) == copies  # each copy on its own volume
    assert all(ch["size"] == len(PAYLOAD) and ch["hash"] == hash_ and ch["score"] == 100 for ch in chunks)
    shown = six.object_get_properties(ACCOUNT, c, "o")
    assert (shown["policy"], shown["chunk_method"]) == (reported, method)


@pytest.mark.parametrize("asked, reported, k, m", [("ECISAL42D1", "EC-4+2", 4, 2), ("EC-3+2", "EC-3+2", 3, 2),
                                                   ("ECLIBEC32D1", "EC-3+2", 3, 2)])
def test_erasure_coded_policies(six, asked, reported, k, m):
    c = _name()
    six.object_create_ext(ACCOUNT, c, data=PAYLOAD, obj_name="o", policy=asked)
    meta, chunks = six.object_locate(ACCOUNT, c, "o", chunk_info=True)
    assert meta["policy"] == reported
    assert meta["chunk_method"] == f"ec/algo=isa_l_rs_cauchy,k={k},m={m}"
    assert [ch["pos"] for ch in chunks] == [f"0.{i}" for i in range(k + m)]
    assert len({ch["url"] for ch in chunks}) == k + m and all(ch["url"].startswith("coffer://volume/")
                                                               for ch in chunks)
    assert all(ch["size"] > 0 and len(ch["hash"]) == 32 for ch in chunks)
    assert len({ch["hash"] for ch in chunks}) == k + m  # each fragment holds other bytes
    _, plain = six.object_locate(ACCOUNT, c, "o")
    assert [ch["pos"] for ch in plain] == [ch["pos"] for ch in chunks] and plain[0]["hash"] is None
    assert b"".join(six.object_fetch(ACCOUNT, c, "o")[1]) == PAYLOAD


def test_change_policy_with_openio_names(six):
    c = _name()
    six.object_create_ext(ACCOUNT, c, data=PAYLOAD, obj_name="o", policy="SINGLE")
    chunks, _size, _hash, meta = six.object_change_policy(ACCOUNT, c, "o", "THREECOPIES")
    assert (meta["policy"], meta["chunk_method"], len(chunks)) == ("THREECOPIES", "plain/nb_copy=3", 3)
    chunks, _size, _hash, meta = six.object_change_policy(ACCOUNT, c, "o", "ECISAL42D1")
    assert (meta["policy"], len(chunks)) == ("EC-4+2", 6)
    assert six.object_show(ACCOUNT, c, "o")["chunk_method"] == "ec/algo=isa_l_rs_cauchy,k=4,m=2"
    assert b"".join(six.object_fetch(ACCOUNT, c, "o")[1]) == PAYLOAD


def test_etag_checked_on_create(api):
    c = _name()
    good = hashlib.md5(b"right").hexdigest()
    assert api.object_create(ACCOUNT, c, data=b"right", obj_name="o", etag=good)[2] == good.upper()
    with pytest.raises(EtagMismatch):
        api.object_create(ACCOUNT, c, data=b"wrong data", obj_name="o", etag=hashlib.md5(b"other").hexdigest())
    assert b"".join(api.object_fetch(ACCOUNT, c, "o")[1]) == b"right"  # untouched
    with pytest.raises(EtagMismatch):
        api.object_create(ACCOUNT, c, data=(p for p in [b"gen", b"erator"]), obj_name="new", etag="0" * 32)
    with pytest.raises(NoSuchObject):
        api.object_get_properties(ACCOUNT, c, "new")  # nothing stored
    api.object_create(ACCOUNT, c, data=(p for p in [b"gen", b"erator"]), obj_name="new",
                      etag=hashlib.md5(b"generator").hexdigest())
    assert b"".join(api.object_fetch(ACCOUNT, c, "new")[1]) == b"generator"


def test_container_properties_on_auto_creation(api):
    c = _name()
    api.object_create(ACCOUNT, c, data=b"x", obj_name="o", container_properties={"owner": "team-a"})
    assert api.container_get_properties(ACCOUNT, c)["properties"] == {"owner": "team-a"}
    c2 = _name()
    api.object_create(ACCOUNT, c2, data=(p for p in [b"s"]), obj_name="o", container_properties={"k": "v"})
    assert api.container_get_properties(ACCOUNT, c2)["properties"] == {"k": "v"}


def test_deleting_a_missing_object_raises(api):
    c = _name()
    api.object_create(ACCOUNT, c, data=b"x", obj_name="o")
    assert api.object_delete(ACCOUNT, c, "o") is True
    with pytest.raises(NoSuchObject):
        api.object_delete(ACCOUNT, c, "o")
    with pytest.raises(NoSuchObject):
        api.object_delete(ACCOUNT, c, "never")


def test_perfdata_filled(endpoint):
    perf: dict = {}
    api = ObjectStorageApi("OPENIO", perfdata=perf, endpoint=endpoint.url, access_key=endpoint.access_key,
                           secret_key=endpoint.secret_key)
    c = _name()
    api.object_create(ACCOUNT, c, data=PAYLOAD, obj_name="o")
    assert perf["data_size"] == len(PAYLOAD) and perf["rawx"]["upload"] > 0
    assert perf["meta2"]["content_create"] > 0 and perf["total"] >= perf["rawx"]["upload"]
    per_call: dict = {}
    b"".join(api.object_fetch(ACCOUNT, c, "o", perfdata=per_call)[1])
    assert per_call["meta2"]["content_show"] > 0 and "rawx" not in per_call


def test_deprecated_aliases(api):
    c = _name()
    api.object_create(ACCOUNT, c, data=b"data", obj_name="o")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.container_update(ACCOUNT, c, {"a": "1"})
        api.object_update(ACCOUNT, c, "o", {"p": "q"})
        meta, chunks = api.object_analyze(ACCOUNT, c, "o")
        api.object_fastcopy(ACCOUNT, c, "o", ACCOUNT, c, "copy")
        api.all_accounts_refresh()
    assert [w.category for w in caught] == [DeprecationWarning] * 5
    assert api.container_get_properties(ACCOUNT, c)["properties"] == {"a": "1"}
    assert api.object_get_properties(ACCOUNT, c, "o")["properties"] == {"p": "q"}
    assert meta["length"] == 4 and chunks
    assert b"".join(api.object_fetch(ACCOUNT, c, "copy")[1]) == b"data"
