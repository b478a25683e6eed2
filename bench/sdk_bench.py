"""SDK benchmark: Coffer's Python SDK against boto3 (and the aws CLI) on the same server, one run.

Measures (1) the cost of one request (sequential small PUT/GET/HEAD: the HTTP core's overhead),
(2) a big file up and down (transfer manager vs boto3 upload_file/download_file, i.e. s3transfer,
and ``aws s3 cp``), (3) a directory of many small files (upload_directory/download_directory vs an
s3transfer TransferManager with the same concurrency, and ``aws s3 cp --recursive``). Transfers run
twice in opposite orders and the best of each counts, so neither side pays the server's warm-up.

    PYTHONPATH=src .venv/bin/python bench/sdk_bench.py                 # starts its own Coffer
    PYTHONPATH=src .venv/bin/python bench/sdk_bench.py --endpoint http://127.0.0.1:8333 \\
        --access-key AK --secret-key SK --big-mib 1024 --files 2000

Prints a markdown table; work files go to bench/work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from coffer import Client, TransferConfig  # noqa: E402

MiB = 1024 * 1024


def start_coffer(work: Path) -> tuple[subprocess.Popen, str, str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ak, sk = "BENCHACCESSKEY01", "bench-secret-key-0123456789abcdef"
    log = open(work / "coffer.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "coffer", "serve", "--data", str(work / "data"), "--address",
         f"127.0.0.1:{port}", "--access-key", ak, "--secret-key", sk],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/health/ready", timeout=1)
            return proc, url, ak, sk
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("coffer did not start")


def boto3_client(url: str, ak: str, sk: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def per_request(client: Client, s3, bucket: str, n: int) -> list[tuple[str, float, float]]:
    """Median microseconds per sequential request, ours vs boto3."""
    body = os.urandom(4096)
    obj = client.bucket(bucket).object("req")
    rows = []
    cases = [
        ("PUT 4 KiB", lambda: obj.put(body), lambda: s3.put_object(Bucket=bucket, Key="req", Body=body)),
        ("GET 4 KiB", lambda: obj.read(), lambda: s3.get_object(Bucket=bucket, Key="req")["Body"].read()),
        ("HEAD", lambda: obj.head(), lambda: s3.head_object(Bucket=bucket, Key="req")),
    ]
    for name, ours, theirs in cases:
        for fn in (ours, theirs):  # warm up pools and caches
            for _ in range(20):
                fn()
        a = [timed(ours) for _ in range(n)]
        b = [timed(theirs) for _ in range(n)]
        rows.append((name, statistics.median(a) * 1e6, statistics.median(b) * 1e6))
    return rows


def aws_cli(url: str, ak: str, sk: str, *args: str) -> None:
    aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run([aws, "--endpoint-url", url, "s3", *args, "--only-show-errors"], env=env, check=True)


PREFAULT: dict[str, object] = {"path": None, "mib": 0}


def prefault(path: Path, mib: int) -> None:
    """Write and delete ``mib`` MiB so the page cache has just-freed memory to reuse.

    Why: on a VM whose guest memory is handed back to the host when freed (free page reporting,
    ballooning), the first write into memory the guest has not touched recently pays a host page
    fault per page. Measured here: 1 GiB written in 0.22 s into just-freed memory, 1.9-2.8 s into
    memory that had been given back. Both clients pay that tax on a download, in seconds, so it
    squeezes every ratio towards 1; --prefault takes it out of both measurements alike.
    """
    chunk = b"\0" * MiB
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for i in range(mib):
            os.pwrite(fd, chunk, i * MiB)
    finally:
        os.close(fd)
        os.unlink(path)


def timed_clean(fn: Callable[[], object]) -> float:
    """Time a transfer from a clean page-cache state: without the sync, the writeback of the previous
    transfer's gigabyte lands in the middle of the next one and decides who "wins"."""
    os.sync()
    if PREFAULT["path"] is not None:
        prefault(PREFAULT["path"], int(PREFAULT["mib"]))  # type: ignore[arg-type]
    time.sleep(0.5)
    return timed(fn)


def transfers(client: Client, s3, url: str, ak: str, sk: str, bucket: str, work: Path, big_mib: int,
              files: int, skip_cli: bool) -> list[tuple[str, float, float, float | None]]:
    from boto3.s3.transfer import TransferConfig as BotoConfig
    from s3transfer.manager import TransferManager as S3TM

    big = work / "big.bin"
    with open(big, "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(MiB))
    tree = work / "tree"
    for i in range(files):
        p = tree / f"d{i % 20}" / f"f{i}.dat"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(4096))
    cfg = TransferConfig()  # defaults: 8 MiB parts, 10 at a time (s3transfer's defaults too)
    bcfg = BotoConfig()

    def s3tm_dir(download: bool) -> None:
        with S3TM(s3, bcfg) as stm:
            for p in sorted(tree.rglob("*.dat")):
                rel = p.relative_to(tree).as_posix()
                if download:
                    out = work / "tree-boto" / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    stm.download(bucket, f"tree-boto/{rel}", str(out))
                else:
                    stm.upload(str(p), bucket, f"tree-boto/{rel}")

    with client.transfer(cfg) as tm:
        pairs = [
            (lambda: tm.upload(big, bucket, "big-ours").result(),
             lambda: s3.upload_file(str(big), bucket, "big-boto", Config=bcfg)),
            (lambda: tm.download(bucket, "big-ours", work / "big-ours.out").result(),
             lambda: s3.download_file(bucket, "big-boto", str(work / "big-boto.out"), Config=bcfg)),
            (lambda: tm.upload_directory(tree, bucket, "tree-ours").result(), lambda: s3tm_dir(False)),
            (lambda: tm.download_directory(bucket, "tree-ours/", work / "tree-ours").result(),
             lambda: s3tm_dir(True)),
        ]
        # Two rounds in opposite orders, best of each: whoever goes first would otherwise pay for
        # the server's warm-up (SeaweedFS grows volumes as data arrives, caches fill...).
        best: list[list[float]] = [[float("inf")] * 2 for _ in pairs]
        for order in ((0, 1), (1, 0)):
            for i, pair in enumerate(pairs):
                for who in order:
                    best[i][who] = min(best[i][who], timed_clean(pair[who]))
    (ours_up, boto_up), (ours_down, boto_down), (ours_dir_up, boto_dir_up), (ours_dir_down, boto_dir_down) = best
    cli = [None] * 4
    if not skip_cli:
        cli = [
            timed_clean(lambda: aws_cli(url, ak, sk, "cp", str(big), f"s3://{bucket}/big-cli")),
            timed_clean(lambda: aws_cli(url, ak, sk, "cp", f"s3://{bucket}/big-cli", str(work / "big-cli.out"))),
            timed_clean(lambda: aws_cli(url, ak, sk, "cp", "--recursive", str(tree), f"s3://{bucket}/tree-cli")),
            timed_clean(lambda: aws_cli(url, ak, sk, "cp", "--recursive", f"s3://{bucket}/tree-cli",
                                  str(work / "tree-cli"))),
        ]
    return [
        (f"upload {big_mib} MiB file", ours_up, boto_up, cli[0]),
        (f"download {big_mib} MiB file", ours_down, boto_down, cli[1]),
        (f"upload {files} x 4 KiB files", ours_dir_up, boto_dir_up, cli[2]),
        (f"download {files} x 4 KiB files", ours_dir_down, boto_dir_down, cli[3]),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint")
    ap.add_argument("--access-key")
    ap.add_argument("--secret-key")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--only-requests", action="store_true")
    ap.add_argument("--prefault", action="store_true",
                    help="before each transfer, write and delete a scratch file of the big file's size "
                         "(takes a VM's host page-fault tax out of both clients' times alike)")
    args = ap.parse_args()
    work = ROOT / "bench" / "work" / f"sdk-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    proc = None
    try:
        if args.endpoint:
            url, ak, sk = args.endpoint, args.access_key, args.secret_key
        else:
            proc, url, ak, sk = start_coffer(work)
        client = Client(url, ak, sk, proxy="")
        s3 = boto3_client(url, ak, sk)
        bucket = f"bench-sdk-{uuid.uuid4().hex[:8]}"
        client.bucket(bucket).create()
        server = "Coffer" if client.is_coffer() else "other S3"
        mode = ", prefaulted page cache" if args.prefault else ""
        print(f"## SDK benchmark vs boto3 ({server} at {url}, load {os.getloadavg()[0]:.1f}{mode})\n")
        print("| request (sequential, median) | coffer SDK | boto3 | speed-up |\n|---|---|---|---|")
        for name, ours, theirs in per_request(client, s3, bucket, args.requests):
            print(f"| {name} | {ours:.0f} µs | {theirs:.0f} µs | {theirs / ours:.2f}x |")
        if not args.only_requests:
            print("\n| transfer | coffer TM | boto3 (s3transfer) | aws CLI | vs s3transfer |\n|---|---|---|---|---|")
            if args.prefault:
                PREFAULT.update(path=work / "prefault.tmp", mib=args.big_mib + 64)
            for name, ours, boto, cli in transfers(client, s3, url, ak, sk, bucket, work, args.big_mib,
                                                   args.files, args.skip_cli):
                cli_s = f"{cli:.2f} s" if cli is not None else "-"
                print(f"| {name} | {ours:.2f} s | {boto:.2f} s | {cli_s} | {boto / ours:.2f}x |")
        client.bucket(bucket).delete(force=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
