"""IBM's Aspera guide, block by block, against a real Coffer server with ibm_boto3 clients.

Each block of tests/compat/aspera_guide.py runs unchanged apart from the import; the tests then check
what the block did with IBM's own client (objects, multipart uploads) and on disk.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import aspera_guide as guide
import pytest
from aspera_files import make_file, make_tree, read_tree
from ibm_botocore.exceptions import ClientError

from coffer.compat.aspera import (
    AsperaBaseSubscriber,
    AsperaConfig,
    AsperaTransferManager,
    UnsupportedAsperaSetting,
)

MiB = 1 << 20


def _ns(client, **extra) -> dict:
    """A namespace as the guide's reader has it: a client, and the one import changed."""
    ns = {"client": client, "cos": client}
    exec("from coffer.compat.aspera import AsperaTransferManager, AsperaConfig, AsperaBaseSubscriber", ns)
    ns.update(extra)
    return ns


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def test_every_block_is_covered():
    """The guide's nine blocks are all here, and none imports anything of IBM's but the swapped line."""
    assert len(guide.ALL_BLOCKS) == 9
    assert all("ibm_s3transfer" not in b.replace(guide.IBM_IMPORT, "") for b in guide.ALL_BLOCKS)


def test_init_and_session_blocks(client, endpoint):
    ns = guide.run_block(guide.INIT, _ns(client), endpoint=endpoint.url, api_key="not-a-real-key",
                         resource_instance_id="crn:v1:test", location="us-standard")
    tm = ns["transfer_manager"]
    assert isinstance(tm, AsperaTransferManager)
    assert tm.client._transport.endpoint == endpoint.url
    tm.shutdown()
    # the guide's cos_client signs with an IAM API key: Coffer wants HMAC keys, and says so
    with pytest.raises(ValueError, match="HMAC"):
        AsperaTransferManager(ns["cos_client"])

    guide.run_block(guide.MULTI_SESSION_ALL, ns)
    cfg = ns["ms_transfer_config"].transfer_config()
    assert cfg.max_concurrency == 10  # "all": as many sessions as the manager allows
    assert cfg.max_bandwidth == 2500 * 1_000_000 // 8  # 2500 Mbps in bytes/s
    assert cfg.multipart_threshold == 100 * 1_000_000

    guide.run_block(guide.MULTI_SESSION_TWO, ns)
    tm = ns["transfer_manager"]
    assert tm._manager(None).config.max_concurrency == 2
    assert tm._manager(None).config.multipart_threshold == 100 * 1_000_000
    assert tm._manager(None).config.max_bandwidth is None
    tm.shutdown()


def test_upload_and_download_one_file(client, cos_bucket, tmp_path):
    src = make_file(tmp_path / "report.bin", 3 * MiB + 17)
    guide.run_block(guide.UPLOAD, _ns(client), bucket_name=cos_bucket, absolute_path_to_file=str(src),
                    item_name="reports/report.bin")
    head = client.head_object(Bucket=cos_bucket, Key="reports/report.bin")
    assert head["ContentLength"] == src.stat().st_size

    dst = tmp_path / "down" / "report.bin"
    dst.parent.mkdir()
    guide.run_block(guide.DOWNLOAD, _ns(client), bucket_name=cos_bucket, absolute_path_to_file=str(dst),
                    object_to_download="reports/report.bin")
    assert dst.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dst.parent.iterdir()) == ["report.bin"]  # no temporary left


@pytest.mark.parametrize("size", [256 * MiB, 1024 * MiB], ids=["256MiB", "1GiB"])
def test_large_file_multi_session(client, cos_bucket, tmp_path, record_property, size):
    """A big file with the guide's two-session config: split in parts above 100 MB, both ways."""
    src = make_file(tmp_path / "big.bin", size)
    cfg = AsperaConfig(multi_session=2, multi_session_threshold_mb=100)
    events: list[tuple[str, int]] = []

    class Track(AsperaBaseSubscriber):
        def on_progress(self, future, bytes_transferred, **kwargs):
            events.append(("progress", bytes_transferred))

    with AsperaTransferManager(client=client, transfer_config=cfg) as tm:
        t0 = time.monotonic()
        tm.upload(str(src), cos_bucket, "big.bin", None, [Track()]).result()
        up = time.monotonic() - t0
        assert events[-1] == ("progress", size)
        head = client.head_object(Bucket=cos_bucket, Key="big.bin")
        assert re.fullmatch(rf'"[0-9a-f]{{32}}-{size // (8 * MiB)}"', head["ETag"])  # parts of 8 MiB
        t0 = time.monotonic()
        tm.download(cos_bucket, "big.bin", str(tmp_path / "copy.bin")).result()
        down = time.monotonic() - t0
    assert _sha(tmp_path / "copy.bin") == _sha(src)
    record_property("upload_s", round(up, 2))
    record_property("download_s", round(down, 2))
    print(f"{size // MiB} MiB, 2 sessions: upload {up:.2f} s, download {down:.2f} s")


def test_directory_both_ways_and_subscriber_block(client, cos_bucket, tmp_path, capsys):
    up = tmp_path / "upload"
    files = make_tree(up, 2000, 1024)
    guide.run_block(guide.UPLOAD_DIRECTORY, _ns(client), bucket_name=cos_bucket,
                    absolute_path_to_directory=str(up) + "/", object_prefix="newuploads/")
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=cos_bucket, Prefix="newuploads/") for o in page.get("Contents", [])]
    assert sorted(keys) == sorted("newuploads/" + rel for rel in files)

    down = tmp_path / "download"
    down.mkdir()
    guide.run_block(guide.DOWNLOAD_DIRECTORY, _ns(client), bucket_name=cos_bucket,
                    absolute_path_to_directory=str(down) + "/", object_prefix="newuploads/")
    assert read_tree(down) == files

    again = tmp_path / "again"
    again.mkdir()
    capsys.readouterr()
    ns = guide.run_block(guide.SUBSCRIBERS, _ns(client), bucket_name=cos_bucket,
                         absolute_path_to_directory=str(again) + "/", object_prefix="newuploads")
    ns["transfer_manager"].shutdown()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Directory download queued."
    assert lines[-1] == "Downloads complete!"
    totals = [int(m.group(1)) for line in lines[1:-1]
              if (m := re.fullmatch(r"Directory download in progress: (\d+) bytes transferred", line))]
    assert len(totals) == len(lines) - 2 >= 2
    assert totals == sorted(totals) and len(set(totals)) == len(totals)  # rising running totals
    assert totals[-1] == sum(len(d) for d in files.values())
    assert read_tree(again) == files


def test_pause_resume_cancel_block(client, cos_bucket, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src, 300, 64 * 1024)
    with AsperaTransferManager(client) as tm:
        tm.upload_directory(str(src), cos_bucket, "todownload/").result()
    down = tmp_path / "down"
    down.mkdir()
    guide.run_block(guide.PAUSE_RESUME_CANCEL, _ns(client), bucket_name=cos_bucket,
                    absolute_path_to_directory=str(down) + "/", object_prefix="todownload/")
    # no side effects: whatever arrived is whole, nothing half-written stays behind
    got = read_tree(down)
    assert all(files[rel] == data for rel, data in got.items())
    assert not [p for p in down.rglob("*") if p.name.startswith(".")]


def test_unsupported_and_invalid_settings():
    for kwargs, name in [({"min_rate_mbps": 10}, "min_rate_mbps"),
                         ({"min_rate_cap_mbps": 10}, "min_rate_cap_mbps"),
                         ({"destination_root": "/"}, "destination_root"),
                         ({"rate_policy": "fixed"}, "rate_policy"),
                         ({"rate_policy": "low"}, "rate_policy"),
                         ({"lock_target_rate": False}, "lock_target_rate")]:
        with pytest.raises(UnsupportedAsperaSetting, match=name):
            AsperaConfig(**kwargs)
    for kwargs in [{"multi_session": "some"}, {"multi_session": -1}, {"multi_session": True},
                   {"multi_session_threshold_mb": 10}, {"target_rate_mbps": "fast"},
                   {"rate_policy": "greedy"}]:
        with pytest.raises(ValueError):
            AsperaConfig(**kwargs)
    with pytest.raises(ValueError, match="Max sessions is 10"):
        AsperaConfig(multi_session=11).transfer_config()
    assert AsperaConfig(rate_policy="fair", lock_target_rate=True).transfer_config().max_bandwidth is None
    assert AsperaConfig(target_rate_mbps=800, target_rate_cap_mbps=400).max_bandwidth == 50_000_000


def test_missing_paths_fail_before_anything_moves(client, cos_bucket, tmp_path):
    with AsperaTransferManager(client) as tm:
        with pytest.raises(OSError, match="File"):
            tm.upload(str(tmp_path / "nope.bin"), cos_bucket, "k")
        with pytest.raises(OSError, match="Directory"):
            tm.download_directory(cos_bucket, "p/", str(tmp_path / "absent"))
        with pytest.raises(OSError, match="Directory"):
            tm.download(cos_bucket, "k", str(tmp_path / "absent" / "f"))
    with pytest.raises(ClientError):
        client.head_object(Bucket=cos_bucket, Key="k")
