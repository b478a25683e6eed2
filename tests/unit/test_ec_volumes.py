"""Volume identity files, states and the failure classification, on real directories."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from coffer.server.data.volumes.volume import (
    IDENTITY_FILE,
    Volume,
    VolumeIdentityError,
    VolumeSet,
    VolumeState,
    format_volume,
)


def test_format_is_idempotent_and_writes_identity(tmp_path: Path) -> None:
    uid = format_volume(tmp_path / "v")
    assert format_volume(tmp_path / "v") == uid
    ident = json.loads((tmp_path / "v" / IDENTITY_FILE).read_text())
    assert ident["uuid"] == uid and ident["format"] == 1 and ident["created"].endswith("Z")
    vol = Volume.open(tmp_path / "v")
    assert vol.uuid == uid and vol.state is VolumeState.ONLINE
    assert vol.tmp_dir.is_dir() and vol.fragments_dir.is_dir()
    cap = vol.capacity()
    assert cap is not None and cap.total >= cap.free > 0


def test_unformatted_directory_is_refused(tmp_path: Path) -> None:
    """An empty mount point (disk not mounted) must never be written to."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(VolumeIdentityError, match="not mounted"):
        Volume.open(tmp_path / "empty")
    assert not (tmp_path / "empty" / "fragments").exists()


def test_wrong_volume_at_path_is_refused(tmp_path: Path) -> None:
    a = format_volume(tmp_path / "a")
    b = format_volume(tmp_path / "b")
    assert Volume.open(tmp_path / "a", a).uuid == a
    # Disks swapped between mount points: each path now holds the other's identity.
    with pytest.raises(VolumeIdentityError, match="expected"):
        Volume.open(tmp_path / "a", b)


@pytest.mark.parametrize("content", [b"", b"{", b'{"uuid": "nope", "format": 1}', b'{"uuid": "%s", "format": 9}'])
def test_damaged_or_future_identity_is_refused(tmp_path: Path, content: bytes) -> None:
    format_volume(tmp_path / "v")
    if b"%s" in content:
        content = content % b"12345678-1234-5678-1234-567812345678"
    (tmp_path / "v" / IDENTITY_FILE).write_bytes(content)
    with pytest.raises(VolumeIdentityError):
        Volume.open(tmp_path / "v")


def test_missing_directory_is_offline_under_expected_uuid(tmp_path: Path) -> None:
    uid = format_volume(tmp_path / "v")
    shutil.rmtree(tmp_path / "v")
    vol = Volume.open(tmp_path / "v", uid)
    assert vol.state is VolumeState.OFFLINE and not vol.readable
    with pytest.raises(VolumeIdentityError):
        Volume.open(tmp_path / "v")


def test_same_volume_twice_is_refused(tmp_path: Path) -> None:
    format_volume(tmp_path / "v")
    (tmp_path / "w").symlink_to(tmp_path / "v")
    with pytest.raises(VolumeIdentityError, match="twice"):
        VolumeSet.open([tmp_path / "v", tmp_path / "w"])


@pytest.mark.parametrize(
    ("code", "state"),
    [(errno.ENOSPC, VolumeState.READ_ONLY), (errno.EROFS, VolumeState.READ_ONLY), (errno.EACCES, VolumeState.READ_ONLY),
     (errno.EIO, VolumeState.OFFLINE), (errno.ENOENT, VolumeState.OFFLINE), (errno.ESTALE, VolumeState.OFFLINE)],
)
def test_error_classification(tmp_path: Path, code: int, state: VolumeState) -> None:
    vol = Volume.open(tmp_path / "v", create=True)
    assert vol.fail(OSError(code, "x")) is state
    assert vol.errors[errno.errorcode[code]] == 1
    assert errno.errorcode[code] in vol.last_error


def test_errors_never_promote(tmp_path: Path) -> None:
    vol = Volume.open(tmp_path / "v", create=True)
    vol.fail(OSError(errno.EIO, "x"))
    assert vol.fail(OSError(errno.ENOSPC, "x")) is VolumeState.OFFLINE


def test_probe_brings_back_and_takes_down(tmp_path: Path) -> None:
    vol = Volume.open(tmp_path / "v", create=True)
    vol.fail(OSError(errno.EIO, "x"))
    assert vol.probe() is VolumeState.ONLINE
    (tmp_path / "v" / IDENTITY_FILE).unlink()
    assert vol.probe() is VolumeState.OFFLINE
    other = format_volume(tmp_path / "v")  # someone formatted a different disk here
    assert other != vol.uuid
    assert vol.probe() is VolumeState.OFFLINE
    assert "identity changed" in vol.last_error


def test_fragments_of_notices_a_vanished_volume(tmp_path: Path) -> None:
    vset = VolumeSet.open([tmp_path / "a", tmp_path / "b"], create=True)
    ref = "ab" * 16
    a = next(v for v in vset if v.path.name == "a")
    shutil.rmtree(a.path)
    assert a.fragments_of(ref) == []
    assert a.state is VolumeState.OFFLINE
    assert [v.path.name for v in vset if v.readable] == ["b"]
