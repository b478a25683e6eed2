"""The multi-volume data store and its healing, on real directories (no server): the volume registry,
writers and range readers, the repair queue, the resumable scrubber, rebuild and drain."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from coffer.server.data.volumes import heal
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.store import DataUnavailable, VolumeDataStore
from coffer.server.data.volumes.volume import VolumeIdentityError, VolumeState, format_volume
from coffer.server.meta.model import Segment
from coffer.server.meta.sqlite.store import SqliteMetaStore

MiB = 1 << 20


def store(tmp_path: Path, n: int = 6, **kw) -> VolumeDataStore:
    s = VolumeDataStore(tmp_path / "data", [tmp_path / f"v{i}" for i in range(n)], fsync=False, **kw)
    s.open(register=True)
    return s


def put(s: VolumeDataStore, body: bytes, policy: Policy | None = None) -> str:
    w = s.writer({}, policy)
    w.write(body)
    return w.commit()


def read(s: VolumeDataStore, ref: str, size: int, start: int = 0, length: int | None = None) -> bytes:
    r = s.reader([Segment(ref, size)], start, size - start if length is None else length)
    out = bytearray()
    while batch := r.next_batch():
        for v in batch:
            out += v
    r.close()
    return bytes(out)


def blob(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def test_registry_formats_once_and_remembers(tmp_path):
    s = store(tmp_path, 4)
    reg = s.read_registry()
    assert len(reg) == 4 and s.default_policy() == Policy.ec(2, 2)
    again = store(tmp_path, 4)
    assert again.read_registry() == reg
    # a known volume whose identity vanished (disk not mounted) is offline, never reformatted
    (tmp_path / "v1" / "coffer-volume.json").unlink()
    third = store(tmp_path, 4)
    states = {str(v.path): v.state for v in third.volumes}
    assert states[str(tmp_path / "v1")] is VolumeState.OFFLINE
    assert not (tmp_path / "v1" / "coffer-volume.json").exists()
    # a foreign volume and a non-empty stranger directory are refused
    format_volume(tmp_path / "foreign", fsync=False)
    with pytest.raises(VolumeIdentityError, match="another server"):
        VolumeDataStore(tmp_path / "data", [tmp_path / "foreign"], fsync=False).open()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file").write_text("x")
    with pytest.raises(VolumeIdentityError, match="not empty"):
        VolumeDataStore(tmp_path / "data", [tmp_path / "junk"], fsync=False).open()


def test_segments_ranges_and_policies(tmp_path):
    s = store(tmp_path, 6, block_size=64 * 1024)
    body = blob(300_001, 1)
    for policy in (None, Policy.single(), Policy.replica(3), Policy.ec(3, 3)):
        ref = put(s, body, policy)
        assert read(s, ref, len(body)) == body
        for lo, n in [(0, 1), (65535, 2), (100_000, 150_000), (len(body) - 1, 1)]:
            assert read(s, ref, len(body), lo, n) == body[lo:lo + n]
    with pytest.raises(Exception, match="EC-8"):
        s.check_policy(Policy.ec(8, 2))


def test_damage_queues_repair_and_loss_is_unavailable(tmp_path):
    s = store(tmp_path, 6)
    body = blob(2 * MiB + 5, 2)
    ref = put(s, body)
    paths = sorted(p for _, _, p in s.volumes.find_fragments(ref))
    os.unlink(paths[0])
    assert read(s, ref, len(body)) == body
    assert s.queued() == [ref]
    done = heal.heal_queue(s)
    assert [d["status"] for d in done] == ["repaired"] and s.queued() == []
    assert heal.census(s, ref)["state"] == "healthy"
    for p in paths[:3]:
        os.unlink(p)
    with pytest.raises(DataUnavailable):
        read(s, ref, len(body))


def test_a_metadata_upkeep_adopts_the_folder_queue_and_cursors(tmp_path):
    """A data folder of an older Coffer: its queue files and cursors move into the metadata at open."""
    old = store(tmp_path, 6)  # no upkeep handed in: the folder's files, as before
    body = blob(1 * MiB + 3, 7)
    ref = put(old, body)
    os.unlink(old.volumes.find_fragments(ref)[0][2])
    assert read(old, ref, len(body)) == body
    assert (old.heal_dir / "queue" / ref).exists()
    old.upkeep.save_state("rebalance", {"cursor": "abc", "generation": 2})
    coordination = SqliteMetaStore(tmp_path / "meta.db").coordination()
    try:
        new = store(tmp_path, 6, upkeep=coordination)
        assert new.queued() == [ref] and not (new.heal_dir / "queue" / ref).exists()
        assert not (new.heal_dir / "rebalance.json").exists()
        assert coordination.load_state("rebalance") == {"cursor": "abc", "generation": 2}
        done = heal.heal_queue(new)
        assert [d["status"] for d in done] == ["repaired"] and new.queued() == []
        assert heal.census(new, ref)["state"] == "healthy"
        # what a read finds from now on goes to the metadata's queue, not to files
        os.unlink(new.volumes.find_fragments(ref)[0][2])
        assert read(new, ref, len(body)) == body
        assert coordination.queue_list() == [ref] and not (new.heal_dir / "queue" / ref).exists()
    finally:
        coordination.close()


def test_scrubber_resumes_from_its_cursor(tmp_path):
    s = store(tmp_path, 4)
    refs = sorted(put(s, blob(200_000, i)) for i in range(5))
    for ref in refs:  # damage one fragment of each
        _, _, path = s.volumes.find_fragments(ref)[0]
        with open(path, "r+b") as fh:
            fh.seek(100)
            fh.write(b"\xff\xff")
    first = heal.Scrubber(s, rate=0).run(budget=0)  # one ref per call
    assert first["cursor"] == refs[0] and first["passes"] == 0
    # a "restart": a new scrubber reads the saved cursor and goes on from there
    second = heal.Scrubber(s, rate=0).run(budget=0)
    assert second["cursor"] == refs[1]
    final = heal.Scrubber(s, rate=0).run()
    # the statistics cover the whole pass, across the restarts
    assert final["cursor"] == "" and final["passes"] == 1 and final["last_stats"]["repaired"] == 5
    assert all(heal.census(s, r)["state"] == "healthy" for r in refs)
    saved = json.loads((s.heal_dir / "scrub.json").read_text())
    assert saved["passes"] == 1


def test_rebuild_replaces_a_lost_volume(tmp_path):
    s = store(tmp_path, 4)
    refs = [put(s, blob(300_000, i)) for i in range(6)]
    lost = tmp_path / "v2"
    old_uuid = next(v.uuid for v in s.volumes if v.path == lost)
    for p in sorted(lost.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    lost.rmdir()
    s.refresh(force=True)
    r = heal.rebuild_volume(s, str(lost))
    assert r["replaced"] == old_uuid and not r["unrepaired"] and not r["lost"]
    assert old_uuid not in s.read_registry() and len(s.read_registry()) == 4
    assert all(heal.census(s, ref)["state"] == "healthy" for ref in refs)
    assert all(read(s, ref, 300_000) == blob(300_000, i) for i, ref in enumerate(refs))


def test_drain_moves_everything_then_forgets_the_volume(tmp_path):
    s = store(tmp_path, 5)
    refs = [put(s, blob(250_000, i), Policy.ec(2, 2)) for i in range(8)]
    victim = tmp_path / "v0"
    r = heal.drain_volume(s, str(victim))
    assert r["forgotten"] and not r["stuck"] and r["moved"] >= 1, r
    assert not list((victim / "fragments").rglob("*.[0-9]"))
    assert str(victim) not in s.read_registry().values() and len(s.volumes) == 4
    assert all(heal.census(s, ref)["state"] == "healthy" for ref in refs)
    assert all(read(s, ref, 250_000) == blob(250_000, i) for i, ref in enumerate(refs))


def test_scrubber_rate_limit_holds_it_back(tmp_path):
    import threading

    s = store(tmp_path, 4)
    refs = sorted(put(s, blob(200_000, i)) for i in range(3))
    stop = threading.Event()
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("st", heal.Scrubber(s, rate=1.0).run(stop)))
    t.start()
    t.join(0.5)  # at 1 byte/s, after its first ref the scrubber must be sleeping, not done
    stop.set()
    t.join(10)
    assert box["st"]["cursor"] == refs[0] and box["st"]["passes"] == 0
