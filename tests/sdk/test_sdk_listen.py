"""Live bucket events from the SDK (`Bucket.listen`, `Client.listen`) and the CLI that follows them
(`coffer watch`, `coffer mirror ALIAS/BUCKET[/PREFIX] TARGET --watch`), against a real server.

The CLI runs as a subprocess; writes are made with boto3 on other connections; every wait is a
bounded poll for the expected state, never a timed assertion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coffer import AccessDenied, Client, ClientConfig

_SRC = str(Path(__file__).resolve().parents[2] / "src")


def _s3(t: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=t.url, aws_access_key_id=t.access_key, aws_secret_access_key=t.secret_key,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


def _until(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bucket_listen_typed_events_and_filters(coffer_target, coffer_bkt):
    s3 = _s3(coffer_target)
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    with coffer_bkt.listen(events=events, prefix="logs/", suffix=".txt") as stream:
        # live once listen() returned: writes made now are all reported
        s3.put_object(Bucket=coffer_bkt.name, Key="logs/a b.txt", Body=b"12345")
        s3.put_object(Bucket=coffer_bkt.name, Key="logs/skip.bin", Body=b"x")
        s3.put_object(Bucket=coffer_bkt.name, Key="other/c.txt", Body=b"x")
        s3.delete_object(Bucket=coffer_bkt.name, Key="logs/a b.txt")
        first, second = next(stream), next(stream)
    assert (first.name, first.key, first.size, first.bucket) == ("s3:ObjectCreated:Put", "logs/a b.txt", 5,
                                                                 coffer_bkt.name)
    assert first.created and not first.removed and first.etag and first.time is not None
    assert (second.name, second.key, second.removed) == ("s3:ObjectRemoved:Delete", "logs/a b.txt", True)
    assert json.loads(json.dumps(first.to_dict()))["key"] == "logs/a b.txt"


def test_async_bucket_listen(coffer_target):
    import asyncio

    from coffer import AsyncClient, AsyncEventStream

    async def main() -> list[tuple[str, str]]:
        async with AsyncClient(coffer_target.url, coffer_target.access_key, coffer_target.secret_key,
                               proxy="") as c:
            b = await c.bucket(f"sdk-{uuid.uuid4().hex[:16]}").create()
            try:
                stream = b.listen(prefix="in/")
                assert isinstance(stream, AsyncEventStream)
                async with stream:
                    await b.object("out/x").put(b"x")
                    await b.object("in/a").put(b"abc")
                    await b.object("in/a").delete()
                    return [(ev.name, ev.key) async for ev, _ in _take(stream, 2)]
            finally:
                await b.delete(force=True)

    async def _take(stream: Any, n: int) -> Any:
        i = 0
        async for ev in stream:
            yield ev, i
            i += 1
            if i == n:
                return

    assert asyncio.run(main()) == [("s3:ObjectCreated:Put", "in/a"), ("s3:ObjectRemoved:Delete", "in/a")]


def test_client_listen_is_for_admins(coffer_target, coffer_client, coffer_bkt):
    with coffer_client.listen(events=["s3:ObjectCreated:Put"]) as stream:
        _s3(coffer_target).put_object(Bucket=coffer_bkt.name, Key="k", Body=b"x")
        ev = next(stream)
    assert (ev.bucket, ev.key) == (coffer_bkt.name, "k")
    made = coffer_client.admin.add_user(f"u-{uuid.uuid4().hex[:10]}")
    key = made["access_keys"][0]
    user = Client(coffer_target.url, key["access_key"], key["secret_key"], proxy="",
                  config=ClientConfig(max_attempts=1))
    with pytest.raises(AccessDenied):
        user.listen()
    with pytest.raises(AccessDenied):  # not the owner, no policy
        user.bucket(coffer_bkt.name).listen()


def _cli(tmp_path: Path, coffer_target: Any, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COFFER_HOST_", "COFFER_ENDPOINT", "AWS_")) and not k.lower().endswith("_proxy")}
    env.update(PYTHONPATH=_SRC, COFFER_CONFIG_DIR=str(tmp_path / "cfg"))
    t = coffer_target
    subprocess.run([sys.executable, "-m", "coffer.cli.main", "alias", "set", "dev", t.url, t.access_key,
                    t.secret_key], env=env, check=True, capture_output=True, timeout=60)
    return subprocess.Popen([sys.executable, "-m", "coffer.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def test_mirror_watch_follows_a_bucket_into_a_folder(tmp_path, coffer_target, coffer_bkt):
    s3 = _s3(coffer_target)
    b = coffer_bkt.name
    s3.put_object(Bucket=b, Key="pre/old.txt", Body=b"old")
    s3.put_object(Bucket=b, Key="elsewhere.txt", Body=b"not mirrored")
    local = tmp_path / "mirror"
    local.mkdir()
    (local / "stale.txt").write_bytes(b"only here")  # --remove: the first pass deletes it
    proc = _cli(tmp_path, coffer_target, "mirror", "--remove", "--watch", f"dev/{b}/pre", str(local))
    try:
        _until(lambda: _tree(local) == {"old.txt": b"old"}, "the first mirror pass")
        s3.put_object(Bucket=b, Key="pre/new.txt", Body=b"new")
        s3.put_object(Bucket=b, Key="pre/sub/deep.bin", Body=b"\x00" * 5000)
        s3.put_object(Bucket=b, Key="pre/old.txt", Body=b"rewritten")
        s3.delete_object(Bucket=b, Key="pre/new.txt")
        s3.put_object(Bucket=b, Key="outside/x.txt", Body=b"x")
        _until(lambda: _tree(local) == {"old.txt": b"rewritten", "sub/deep.bin": b"\x00" * 5000},
               "the folder to follow the bucket")
    finally:
        code, _out, err = _stop(proc)
    assert code == 0, err
    assert "Stopped watching." in err


def test_mirror_watch_bucket_to_bucket(tmp_path, coffer_target, coffer_client):
    s3 = _s3(coffer_target)
    src, dst = (coffer_client.bucket(f"sdk-{uuid.uuid4().hex[:16]}").create() for _ in range(2))
    proc = _cli(tmp_path, coffer_target, "--json", "mirror", "--remove", "--watch", f"dev/{src.name}",
                f"dev/{dst.name}")

    def keys() -> dict[str, int]:
        return {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=dst.name).get("Contents", [])}

    try:
        s3.put_object(Bucket=src.name, Key="a", Body=b"a" * 10)
        _until(lambda: keys() == {"a": 10}, "the first copy")
        s3.put_object(Bucket=src.name, Key="b/c", Body=b"c" * 20)
        s3.delete_object(Bucket=src.name, Key="a")
        _until(lambda: keys() == {"b/c": 20}, "the target bucket to follow")
    finally:
        code, out, err = _stop(proc)
        for b in (src, dst):
            b.delete(force=True)
    assert code == 0, err
    actions = [json.loads(line).get("action") for line in out.splitlines() if line.strip()]
    assert "copy" in actions and "delete" in actions


def test_watch_prints_events(tmp_path, coffer_target, coffer_bkt):
    s3 = _s3(coffer_target)
    proc = _cli(tmp_path, coffer_target, "watch", "--json", "--events", "put", f"dev/{coffer_bkt.name}")
    lines: list[dict] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    try:
        # the stream gives no sign of readiness to the caller: write until one event is printed
        deadline = time.monotonic() + 30
        n = 0
        while not lines and time.monotonic() < deadline:
            if n == 0:
                reader.start()
            s3.put_object(Bucket=coffer_bkt.name, Key=f"warm-{n}", Body=b"w")
            n += 1
            time.sleep(0.5)
        s3.delete_object(Bucket=coffer_bkt.name, Key="warm-0")  # not asked for
        s3.put_object(Bucket=coffer_bkt.name, Key="last", Body=b"12")
        _until(lambda: any(r["key"] == "last" for r in lines), "the last event")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(5)
    assert proc.returncode == 0
    assert all(r["event"] == "s3:ObjectCreated:Put" for r in lines)
    assert lines[-1] == {**lines[-1], "bucket": coffer_bkt.name, "key": "last", "size": 2}


def test_mirror_watch_reconnects_and_catches_up(tmp_path, server_factory):
    """The server goes away; while the mirror cannot listen, objects change (written through the same
    data on another address); when the server is back, the mirror reconnects and catches up."""
    from ports import free_port

    srv = server_factory(workers=2)
    t = type("T", (), {"url": srv.endpoint, "access_key": srv.access_key, "secret_key": srv.secret_key})()
    _s3(t).create_bucket(Bucket="followed")
    _s3(t).put_object(Bucket="followed", Key="before.txt", Body=b"1")
    local = tmp_path / "mirror"
    proc = _cli(tmp_path, t, "mirror", "--remove", "--watch", "dev/followed", str(local))
    try:
        _until(lambda: local.is_dir() and _tree(local) == {"before.txt": b"1"}, "the first mirror pass")
        srv.stop()
        other = type(srv)(data=srv.data, port=free_port(), meta=srv.meta)  # same data, another address
        other.start()
        try:
            o = type("T", (), {"url": other.endpoint, "access_key": srv.access_key, "secret_key": srv.secret_key})()
            _s3(o).put_object(Bucket="followed", Key="while-away.txt", Body=b"2")
            _s3(o).delete_object(Bucket="followed", Key="before.txt")
        finally:
            other.stop()
        srv.start()
        _until(lambda: _tree(local) == {"while-away.txt": b"2"}, "the catch-up after reconnecting", timeout=60)
        _s3(t).put_object(Bucket="followed", Key="after.txt", Body=b"3")
        _until(lambda: _tree(local) == {"while-away.txt": b"2", "after.txt": b"3"}, "events after reconnecting")
    finally:
        code, _out, err = _stop(proc)
    assert code == 0, err
    assert "reconnecting" in err



class _Drained:
    """Reads a command's stdout and stderr as they come (so neither pipe fills up), stderr kept."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.err = proc, b""
        self._threads = [threading.Thread(target=self._read, args=(f, f is proc.stderr), daemon=True)
                         for f in (proc.stdout, proc.stderr)]
        for t in self._threads:
            t.start()

    def _read(self, f: Any, keep: bool) -> None:
        for line in f:
            if keep:
                self.err += line

    def exit_within(self, sig: int, bound: float = 10) -> tuple[int, str]:
        """Send `sig`; the command must be gone within `bound` seconds (generous: it never waits for an
        event or a transfer to finish). Returns its exit code and stderr."""
        self.proc.send_signal(sig)
        try:
            self.proc.wait(bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {bound} s after signal {sig}: {self.err.decode()[-2000:]}") from None
        finally:
            for t in self._threads:
                t.join(5)
        return self.proc.returncode, self.err.decode()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_mirror_watch_stops_promptly_while_a_download_is_in_flight(tmp_path, coffer_target, coffer_bkt, sig):
    """A signal during a long (rate-limited) download cancels it: exit 0 at once, no partial file left."""
    s3 = _s3(coffer_target)
    local = tmp_path / "mirror"
    local.mkdir()
    run = _Drained(_cli(tmp_path, coffer_target, "mirror", "--watch", "--limit-rate", "128K",
                        f"dev/{coffer_bkt.name}", str(local)))
    try:
        _until(lambda: b"Watching" in run.err, "the watch to start")
        s3.put_object(Bucket=coffer_bkt.name, Key="big.bin", Body=os.urandom(4 << 20))  # 32 s at 128 KiB/s
        _until(lambda: any(local.iterdir()), "the download to start")
    finally:
        code, err = run.exit_within(sig)
    assert code == 0, err
    assert "Stopped watching." in err and "Exception ignored" not in err and "Traceback" not in err, err
    assert list(local.iterdir()) == []  # the partial file was removed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_watch_commands_stop_promptly_while_waiting_and_while_events_flow(tmp_path, coffer_target, coffer_client,
                                                                        sig):
    """mirror --watch (bucket to bucket, bucket to folder, folder to bucket) and watch, each signalled
    while idle on its stream or rescan, and again while writes keep coming: exit 0, quietly, every time."""
    s3 = _s3(coffer_target)
    src, dst = (coffer_client.bucket(f"sdk-{uuid.uuid4().hex[:16]}").create() for _ in range(2))
    folder = tmp_path / "folder"
    folder.mkdir()
    commands = [["mirror", "--remove", "--watch", f"dev/{src.name}", f"dev/{dst.name}"],
                ["mirror", "--remove", "--watch", f"dev/{src.name}", str(tmp_path / "into")],
                ["mirror", "--watch", "--interval", "1s", str(folder), f"dev/{dst.name}"],
                ["watch", f"dev/{src.name}"]]
    try:
        for flowing in (False, True):
            for args in commands:
                run = _Drained(_cli(tmp_path, coffer_target, *args))
                stop = threading.Event()

                def write(stop: threading.Event = stop) -> None:
                    n = 0
                    while not stop.is_set():
                        s3.put_object(Bucket=src.name, Key=f"k{n % 7}", Body=b"x" * 100)
                        s3.delete_object(Bucket=src.name, Key=f"k{(n + 3) % 7}")
                        (folder / f"f{n % 5}").write_bytes(os.urandom(100))
                        n += 1

                writer = threading.Thread(target=write, daemon=True)
                try:
                    if args[0] == "mirror":
                        _until(lambda r=run: b"Watching" in r.err, "the command to start")
                    if flowing:
                        writer.start()
                    time.sleep(1.5)  # into the wait for the next event (or between two)
                finally:
                    code, err = run.exit_within(sig)
                    stop.set()
                    if flowing:
                        writer.join(10)
                assert code == 0, (args, err)
                assert "Exception ignored" not in err and "Traceback" not in err, (args, err)
    finally:
        for b in (src, dst):
            b.delete(force=True)
