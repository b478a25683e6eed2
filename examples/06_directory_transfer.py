"""Upload a directory tree and download it back with the transfer manager, with a progress bar."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from _common import client, scratch_bucket
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from coffer import Subscriber, TransferConfig


class Bar(Subscriber):
    """Progress events from the transfer manager, drawn with rich."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress, self.task = progress, progress.add_task(label, total=None)

    def on_progress(self, future, bytes_transferred: int) -> None:
        self.progress.update(self.task, advance=bytes_transferred, total=future.total)


c = client()
bucket = scratch_bucket(c, "dirs")
files = int(os.environ.get("EXAMPLE_FILES", "200"))
try:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "site"
        for i in range(files):
            path = src / f"section{i % 5}" / f"page{i}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(2048))
        (src / "video.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # goes as parallel parts

        cfg = TransferConfig(max_concurrency=16, multipart_chunksize=8 * 1024 * 1024)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with c.transfer(cfg) as tm, Progress(*columns) as progress:
            up = tm.upload_directory(src, bucket, "site", subscribers=[Bar(progress, "upload")])
            done = up.result()
            down = tm.download_directory(bucket, "site/", Path(tmp) / "copy",
                                         subscribers=[Bar(progress, "download")])
            back = down.result()
        print(f"uploaded {done.files} files ({done.bytes} bytes), downloaded {back.files}")
finally:
    bucket.delete(force=True)
