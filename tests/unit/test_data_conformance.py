"""The data-store interface (data/interface.py), checked against every store on real directories:
what the service layer relies on must hold for the single-folder store and the multi-volume one alike."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from coffer.server.data import DataShort, DataStore, DataUnavailable, LocalDataStore, VolumeDataStore
from coffer.server.meta.model import Segment

STORES = ["local", "volumes"]


def make(kind: str, tmp_path: Path) -> DataStore:
    if kind == "local":
        store: DataStore = LocalDataStore(tmp_path / "data", fsync=False)
    else:
        store = VolumeDataStore(tmp_path / "data", [tmp_path / f"v{i}" for i in range(4)], fsync=False)
    store.open()
    return store


def put(store: DataStore, body: bytes) -> Segment:
    w = store.writer({})
    w.write(body[: len(body) // 2])
    w.write(body[len(body) // 2 :])
    assert w.size == len(body)
    return Segment(w.commit(), len(body))


def streamed(store: DataStore, segments: list[Segment], start: int, length: int) -> bytes:
    reader = store.reader(segments, start, length)
    out = bytearray()
    try:
        while batch := reader.next_batch():
            for view in batch:
                out += view
    finally:
        reader.close()
    return bytes(out)


@pytest.mark.parametrize("kind", STORES)
def test_writes_read_back_through_every_read_call(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    rng = random.Random(7)
    bodies = [rng.randbytes(n) for n in (300_000, 1, 5 << 20)]
    segments = [put(store, b) for b in bodies]
    whole = b"".join(bodies)
    for start, length in [(0, len(whole)), (299_990, 20), (300_001, 3 << 20), (len(whole) - 1, 1)]:
        want = whole[start : start + length]
        assert store.read(segments, start, length) == want
        assert streamed(store, segments, start, length) == want
        spans = store.spans(segments, start, length)
        if spans is not None:  # a store with plain files: the spans hold exactly those bytes
            got = b""
            for s in spans:
                with open(s.path, "rb") as f:
                    f.seek(s.offset)
                    got += f.read(s.length)
            assert got == want


@pytest.mark.parametrize("kind", STORES)
def test_fragments_delete_and_sweeps(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    seg = put(store, b"x" * 200_000)
    census = store.fragments(seg, trust=2)
    assert census["state"] == "healthy" and census["good"] == census["width"] >= 1
    assert census["policy"] is not None and census["fragments"]
    assert seg.ref in set(store.iter_refs(before=float("inf")))
    aborted = store.writer({})
    aborted.write(b"y" * 100_000)
    aborted.abort()
    assert aborted.ref not in set(store.iter_refs(before=float("inf")))
    assert store.sweep_tmp() == 0  # abort left nothing behind
    store.delete([seg.ref, seg.ref])  # idempotent
    assert store.fragments(seg, trust=1)["state"] == "missing"
    assert seg.ref not in set(store.iter_refs(before=float("inf")))
    with pytest.raises((DataShort, DataUnavailable)):  # gone: 500 (one folder) or 503 (volumes)
        store.read([seg], 0, 10)


@pytest.mark.parametrize("kind", STORES)
def test_capabilities_are_answered_by_the_interface(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    seg = put(store, b"z" * 70_000)
    admin = store.volume_admin()
    if kind == "local":
        assert store.default_policy() is None and store.volume_count() == 1 and admin is None
        assert store.spans([seg], 0, 10) is not None  # sendfile
        assert store.fragments(seg)["policy"] == "SINGLE"
    else:
        policy = store.default_policy()
        assert policy is not None and store.volume_count() == 4
        store.check_policy(policy)
        assert store.spans([seg], 0, 10) is None  # verified bytes only, never sendfile
        assert admin is not None
        assert admin.health()["status"] == "ok"
        assert len(admin.report()["volumes"]) == 4
        assert admin.repair(seg.ref)["status"] == "healthy"
        assert admin.drop_stale_queue() == 0
    store.close()


def test_a_short_segment_file_is_data_short(tmp_path: Path) -> None:
    store = make("local", tmp_path)
    seg = put(store, b"a" * 1000)
    assert isinstance(store, LocalDataStore)
    store.path(seg.ref).write_bytes(b"a" * 10)
    with pytest.raises(DataShort):
        store.read([seg], 0, 1000)
    assert store.fragments(seg)["state"] == "missing"
    assert store.fragments(Segment(seg.ref, 10))["state"] == "healthy"
