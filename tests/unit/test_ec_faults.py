"""Fault injection on real files: flipped bytes, lost fragments and volumes, read-only and full disks.

Each time the read returns the exact bytes (or a clear error beyond the policy's tolerance) and
``repair`` restores full redundancy. Read-only and full file systems are real: a read-only remount
and a tiny tmpfs (skipped where mounting is not permitted), and chmod (plus chattr +i for root, who
ignores mode bits).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coffer.server.data.volumes.bitrot import HEADER_SIZE, verify_file
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.stripes import (
    NotEnoughFragments,
    ObjectNotFound,
    ObjectReader,
    PolicyUnavailable,
    StripeWriter,
    WriteResult,
    read_object,
    repair,
    write_object,
)
from coffer.server.data.volumes.volume import Volume, VolumeSet, VolumeState, format_volume

BS = 1 << 20
EC42 = Policy.ec(4, 2)


def make_set(root: Path, n: int) -> VolumeSet:
    return VolumeSet.open([root / f"v{i}" for i in range(n)], create=True, fsync=False)


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


def record_offset(stripe: int, res: WriteResult, path: str) -> int:
    """An offset inside the payload of a stripe's record in an EC-4+2 fragment."""
    # Full stripes of EC-4+2 over 1 MiB blocks: 256 KiB + pyeclib's 80-byte header per payload.
    return HEADER_SIZE + stripe * (4 + (1 << 18) + 80) + 4 + 1000


def frag(res: WriteResult, index: int) -> str:
    return next(f.path for f in res.fragments if f.index == index)


def assert_full_redundancy(vset: VolumeSet, ref: str) -> None:
    with ObjectReader(vset, ref) as r:
        assert r.damage == []
        width = r.policy.width
        assert sorted(r.sources) == list(range(width))
        holders = {r.sources[i][0].volume.uuid for i in range(width)}
        assert len(holders) == width, "two fragments on one volume"
        for i in range(width):
            assert verify_file(r.sources[i][0].fd)[1] == []


def test_flipped_bytes_are_served_around_and_repaired(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 6)
    data = secrets.token_bytes(3 * BS + 99)
    res = write_object(vset, EC42, data)
    original = Path(frag(res, 1)).read_bytes()
    flip(frag(res, 1), record_offset(2, res, frag(res, 1)))
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert [(d.index, d.stripe, d.reason) for d in damage] == [(1, 2, "checksum mismatch")]
    fixed = repair(vset, res.ref)
    assert [f.index for f in fixed.rebuilt] == [1] and fixed.unrepaired == []
    assert Path(frag(res, 1)).read_bytes() == original  # rebuilt in place, byte for byte
    assert_full_redundancy(vset, res.ref)


def test_damage_in_more_fragments_than_m_but_one_per_stripe(tmp_path: Path) -> None:
    """A bad block is a missing fragment for its stripe only."""
    vset = make_set(tmp_path, 6)
    data = secrets.token_bytes(4 * BS)
    res = write_object(vset, EC42, data)
    for stripe in range(4):
        flip(frag(res, stripe), record_offset(stripe, res, frag(res, stripe)))
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert sorted((d.index, d.stripe) for d in damage) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert sorted(f.index for f in repair(vset, res.ref).rebuilt) == [0, 1, 2, 3]
    assert_full_redundancy(vset, res.ref)


def test_flipped_header_counts_as_missing_fragment(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 4)
    data = secrets.token_bytes(BS + 1)
    res = write_object(vset, Policy.replica(2), data)
    flip(res.fragments[0].path, 20)
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert any(d.index == 0 and d.stripe is None and "header" in d.reason for d in damage)
    repair(vset, res.ref)
    assert_full_redundancy(vset, res.ref)


@pytest.mark.parametrize("name", ["REPLICA-3", "EC-2+2", "EC-4+2", "EC-3+2"])
@pytest.mark.parametrize("pattern", ["parity", "data", "spread"])
def test_deleted_fragments_up_to_m_and_one_more(tmp_path: Path, name: str, pattern: str) -> None:
    policy = Policy.parse(name)
    vset = make_set(tmp_path, 6)
    data = secrets.token_bytes(2 * BS + 5)
    res = write_object(vset, policy, data)
    order = {"parity": list(range(policy.width))[::-1], "data": list(range(policy.width)),
             "spread": list(range(0, policy.width, 2)) + list(range(1, policy.width, 2))}[pattern]
    for i in order[: policy.m]:
        os.unlink(frag(res, i))
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert sorted(d.index for d in damage) == sorted(order[: policy.m])
    os.unlink(frag(res, order[policy.m]))
    # With every fragment gone (a replica), nothing says what the object was: ObjectNotFound, a subclass.
    expect = "no readable fragment" if policy.k == 1 else re.escape(f"{policy} needs {policy.k}")
    with pytest.raises(NotEnoughFragments, match=expect):
        read_object(vset, res.ref)


@pytest.mark.parametrize("name", ["REPLICA-2", "EC-2+2", "EC-4+2"])
def test_losses_within_tolerance_then_repair(tmp_path: Path, name: str) -> None:
    policy = Policy.parse(name)
    vset = make_set(tmp_path, 6)
    data = secrets.token_bytes(2 * BS + 5)
    res = write_object(vset, policy, data)
    for i in range(policy.m):  # lose data fragments first: the read must decode
        os.unlink(frag(res, i))
    got, damage = read_object(vset, res.ref)
    assert got == data
    assert sorted(d.index for d in damage) == list(range(policy.m))
    assert sorted(f.index for f in repair(vset, res.ref).rebuilt) == list(range(policy.m))
    assert_full_redundancy(vset, res.ref)
    assert read_object(vset, res.ref) == (data, [])


def test_more_losses_than_tolerated_is_a_clear_error(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 6)
    res = write_object(vset, EC42, secrets.token_bytes(BS + 7))
    for i in (0, 3, 5):
        os.unlink(frag(res, i))
    with pytest.raises(NotEnoughFragments, match=r"3 good fragments of 6, EC-4\+2 needs 4"):
        read_object(vset, res.ref)
    with pytest.raises(NotEnoughFragments):
        repair(vset, res.ref)
    for f in res.fragments:
        Path(f.path).unlink(missing_ok=True)
    with pytest.raises(ObjectNotFound):
        read_object(vset, res.ref)


def test_mixed_losses_fail_only_the_stripes_beyond_tolerance(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 6)
    data = secrets.token_bytes(3 * BS)
    res = write_object(vset, EC42, data)
    os.unlink(frag(res, 4))
    os.unlink(frag(res, 5))
    flip(frag(res, 0), record_offset(1, res, frag(res, 0)))
    assert read_object(vset, res.ref, 0, BS)[0] == data[:BS]
    assert read_object(vset, res.ref, 2 * BS, BS)[0] == data[2 * BS:]
    with pytest.raises(NotEnoughFragments, match="stripe 1"):
        read_object(vset, res.ref, BS, 1)


def test_whole_volume_directory_deleted(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 7)
    data = secrets.token_bytes(2 * BS + 3)
    res = write_object(vset, EC42, data)
    victim = vset.get(next(f.volume_id for f in res.fragments if f.index == 2))
    assert victim is not None
    shutil.rmtree(victim.path)
    got, damage = read_object(vset, res.ref)
    assert got == data and [d.index for d in damage] == [2]
    assert victim.state is VolumeState.OFFLINE
    # New writes go on over the six volumes left; the lost fragment is rebuilt onto the spare.
    res2 = write_object(vset, EC42, data)
    assert res2.missing == [] and victim.uuid not in {f.volume_id for f in res2.fragments}
    fixed = repair(vset, res.ref)
    assert [f.index for f in fixed.rebuilt] == [2] and fixed.rebuilt[0].volume_id != victim.uuid
    assert_full_redundancy(vset, res.ref)


def test_writes_stop_below_quorum_with_a_clear_error(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 2)
    data = secrets.token_bytes(BS + 1)
    res = write_object(vset, Policy.replica(2), data)
    shutil.rmtree(vset.get(res.fragments[1].volume_id).path)  # type: ignore[union-attr]
    with pytest.raises(PolicyUnavailable, match="REPLICA-2"):
        write_object(vset, Policy.replica(2), data)
    assert read_object(vset, res.ref)[0] == data  # reads go on degraded
    assert not any(os.listdir(v.tmp_dir) for v in vset if v.readable)
    with pytest.raises(PolicyUnavailable, match="needs 5 writable volumes, 4 available"):
        write_object(make_set(tmp_path / "small", 4), EC42, data)


def test_repair_without_spare_then_volume_returns(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 4)
    data = secrets.token_bytes(BS + 11)
    res = write_object(vset, Policy.ec(2, 2), data)
    victim = vset.get(res.fragments[3].volume_id)
    assert victim is not None
    moved = victim.path.with_name("unmounted")
    victim.path.rename(moved)
    fixed = repair(vset, res.ref)
    assert fixed.rebuilt == [] and fixed.unrepaired == [3]  # never two fragments on one volume
    moved.rename(victim.path)  # the disk comes back
    assert victim.probe() is VolumeState.ONLINE
    assert repair(vset, res.ref).rebuilt == []  # its fragment is there again: nothing to do
    assert_full_redundancy(vset, res.ref)


# -- read-only and full file systems ------------------------------------------------------------------


@pytest.fixture
def mounts() -> Iterator[Callable[[Path, str], None]]:
    mounted: list[Path] = []

    def mount(path: Path, options: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(path)

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_volume_enospc(tmp_path: Path, mounts: Callable[[Path, str], None]) -> None:
    mounts(tmp_path / "v0", "size=1m")
    vset = make_set(tmp_path, 4)
    small = vset.get(format_volume(tmp_path / "v0"))
    assert small is not None
    data = secrets.token_bytes(4 * BS)
    res = write_object(vset, Policy.ec(2, 2), data)  # 2 MiB per fragment: v0 fills up mid-write
    assert len(res.missing) == 1 and small.uuid not in {f.volume_id for f in res.fragments}
    assert small.state is VolumeState.READ_ONLY and "ENOSPC" in small.last_error
    assert read_object(vset, res.ref)[0] == data
    assert not os.listdir(small.tmp_dir)  # the partial fragment was removed
    # Three writable volumes still meet EC-2+2's write quorum; two would not.
    res2 = write_object(vset, Policy.ec(2, 2), data)
    assert len(res2.missing) == 1
    next(v for v in vset if v.writable).fail(OSError(28, "full"))
    with pytest.raises(PolicyUnavailable):
        write_object(vset, Policy.ec(2, 2), data)


def test_remounted_read_only(tmp_path: Path, mounts: Callable[[Path, str], None]) -> None:
    mounts(tmp_path / "v0", "size=16m")
    vset = make_set(tmp_path, 5)
    ro = vset.get(format_volume(tmp_path / "v0"))
    assert ro is not None
    data = secrets.token_bytes(BS + 5)
    refs = [write_object(vset, Policy.ec(2, 2), data).ref for _ in range(6)]
    subprocess.run(["mount", "-o", "remount,ro", str(ro.path)], check=True)
    assert ro.probe() is VolumeState.READ_ONLY and "EROFS" in ro.last_error
    for ref in refs:
        assert read_object(vset, ref) == (data, [])  # still read from
    res = write_object(vset, Policy.ec(2, 2), data)
    assert res.missing == [] and ro.uuid not in {f.volume_id for f in res.fragments}


def _make_read_only(path: Path) -> list[Path]:
    changed = []
    for d in (path, path / "tmp", path / "fragments"):
        d.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
        if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0:
            changed.append(d)
    return changed


def test_chmod_read_only_volume(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 5)
    data = secrets.token_bytes(BS + 5)
    old = write_object(vset, Policy.ec(2, 2), data)
    ro: Volume = vset.get(old.fragments[0].volume_id)  # type: ignore[assignment]
    immutable = _make_read_only(ro.path)
    try:
        if os.geteuid() == 0 and not immutable:
            pytest.skip("root ignores mode bits and chattr is unavailable")
        ref = next(r for r in (secrets.token_hex(16) for _ in range(1000)) if vset.ranked(r)[0] is ro)
        res = write_object(vset, Policy.ec(2, 2), data, ref=ref)  # fragment 0 wants the read-only volume
        assert ro.state is VolumeState.READ_ONLY
        assert res.missing == [] and ro.uuid not in {f.volume_id for f in res.fragments}
        assert read_object(vset, old.ref) == (data, [])
        assert read_object(vset, res.ref) == (data, [])
    finally:
        for d in immutable:
            subprocess.run(["chattr", "-i", str(d)], check=False)
        for d in (ro.path, ro.path / "tmp", ro.path / "fragments"):
            d.chmod(0o755)


def test_stale_fragment_of_an_earlier_write_is_ignored(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 6)
    old = write_object(vset, Policy.ec(2, 2), secrets.token_bytes(5000), block_size=1024)
    stale = Path(frag(old, 0)).read_bytes()
    with pytest.raises(ValueError, match="already has fragments"):
        write_object(vset, Policy.ec(2, 2), b"x", ref=old.ref)
    for f in old.fragments:
        os.unlink(f.path)
    data = secrets.token_bytes(7000)
    new = write_object(vset, Policy.ec(2, 2), data, ref=old.ref, block_size=1024)
    spare = next(v for v in vset if v.uuid not in {f.volume_id for f in new.fragments})
    spare.fragment_path(new.ref, 0).parent.mkdir(parents=True, exist_ok=True)
    spare.fragment_path(new.ref, 0).write_bytes(stale)
    os.unlink(frag(new, 0))  # the stale copy is now the only fragment 0 around
    got, damage = read_object(vset, new.ref)
    assert got == data
    assert any(d.volume_id == spare.uuid and d.reason == "header of another write" for d in damage)


def test_reader_refuses_a_ref_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        read_object(make_set(tmp_path, 1), "../../etc/passwd")


def test_volume_lost_mid_write_is_dropped_at_commit(tmp_path: Path) -> None:
    vset = make_set(tmp_path, 4)
    data = secrets.token_bytes(3 * BS)
    w = StripeWriter(vset, Policy.ec(2, 2))
    w.write(data[:BS])
    victim = vset.ranked(w.ref)[1]
    shutil.rmtree(victim.path)  # its temp file stays writable (open fd); the rename will fail
    w.write(data[BS:])
    res = w.commit()
    assert res.missing == [1] and victim.state is VolumeState.OFFLINE
    assert read_object(vset, res.ref)[0] == data


def test_kill_9_before_commit_leaves_only_temp_files(tmp_path: Path) -> None:
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from coffer.server.data.volumes.stripes import StripeWriter
from coffer.server.data.volumes.storage_policy import Policy
from coffer.server.data.volumes.volume import VolumeSet
vset = VolumeSet.open([{str(tmp_path)!r} + f"/v{{i}}" for i in range(6)], create=True)
w = StripeWriter(vset, Policy.ec(4, 2), ref="ab" * 16)
w.write(os.urandom(3 * {BS} + 5))
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    vset = make_set(tmp_path, 6)
    assert all(len(os.listdir(v.tmp_dir)) == 1 for v in vset)  # one partial fragment each
    with pytest.raises(ObjectNotFound):
        read_object(vset, "ab" * 16)
