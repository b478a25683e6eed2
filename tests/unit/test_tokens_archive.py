"""Bearer tokens (signing, expiry, revocation) and archive member lookup, on real SQLite and files."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from archive_builders import make_tar, make_zip
from coffer.server.config import Limits
from coffer.server.data import LocalDataStore
from coffer.server.meta.model import ObjectRecord, Segment, User
from coffer.server.meta.sqlite.store import SqliteMetaStore
from coffer.server.service.access.tokens import TokenError, Tokens
from coffer.server.service.core import Core
from coffer.server.service.objects.archive import Archives, _compressed


def run(coro):
    return asyncio.run(coro)


async def _tokens(tmp_path: Path):
    meta = SqliteMetaStore(tmp_path / "meta.db")
    await meta.open()
    await meta.put_user(User("alice", "alice"))
    return meta, Tokens(meta, tmp_path)


def test_token_lifecycle(tmp_path):
    async def go():
        meta, t = await _tokens(tmp_path)
        try:
            token, info = await t.issue("alice", 3600)
            assert (await t.verify(token)).user_id == "alice"
            assert (tmp_path / "keys" / "token.key").stat().st_mode & 0o777 == 0o600
            # another process with the same data folder verifies it (same key file, same records)
            other = Tokens(meta, tmp_path)
            assert (await other.verify(token)).user_id == "alice"
            await t.revoke(info.token_id)
            with pytest.raises(TokenError, match="revoked"):
                await Tokens(meta, tmp_path).verify(token)
            assert [x.revoked for x in await t.list("alice")] == [True]
            # revoking by the token itself works too
            token2, _ = await t.issue("alice")
            await t.revoke(token2)
            with pytest.raises(TokenError):
                await Tokens(meta, tmp_path).verify(token2)
            with pytest.raises(TokenError):
                await t.issue("nobody")
        finally:
            await meta.close()

    run(go())


def test_forged_and_expired_tokens(tmp_path):
    async def go():
        meta, t = await _tokens(tmp_path)
        try:
            token, _ = await t.issue("alice")
            h, c, s = token.split(".")
            claims = json.loads(base64.urlsafe_b64decode(c + "=="))
            claims["sub"] = "root"
            forged_c = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            for bad in (f"{h}.{forged_c}.{s}", "eyJhbGciOiJub25lIn0." + c + ".", "a.b", token + "x", ""):
                with pytest.raises(TokenError):
                    await t.verify(bad)
            expired, _ = await t.issue("alice", -10)
            with pytest.raises(TokenError, match="expired"):
                await t.verify(expired)
            # a token of another data folder (another key) is refused
            meta2 = SqliteMetaStore(tmp_path / "m2.db")
            await meta2.open()
            await meta2.put_user(User("alice", "alice"))
            try:
                foreign, _ = await Tokens(meta2, tmp_path / "other").issue("alice")
            finally:
                await meta2.close()
            with pytest.raises(TokenError, match="signature"):
                await t.verify(foreign)
            # removing the user revokes their tokens
            await meta.delete_user("alice")
            with pytest.raises(TokenError):
                await Tokens(meta, tmp_path).verify(token)
        finally:
            await meta.close()

    run(go())


MEMBERS = {f"d/{i}.txt": (b"%d-" % i) * (i * 7000 + 3) for i in range(5)}


def _record(data_store: LocalDataStore, body: bytes, pieces: int) -> ObjectRecord:
    """An object stored as `pieces` segment files, as a multipart or appended object is."""
    segs = []
    step = -(-len(body) // pieces)
    for i in range(0, len(body), step):
        w = data_store.writer({})
        w.write(body[i : i + step])
        segs.append(Segment(w.commit(), len(body[i : i + step])))
    return ObjectRecord(bucket="b", key="k", size=len(body), etag="e", last_modified=0, owner="o", segments=segs)


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.xz", "zip"])
@pytest.mark.parametrize("pieces", [1, 3])
def test_members_across_segments(tmp_path, kind, pieces):
    modes = {"tar": "w", "tar.gz": "w:gz", "tar.xz": "w:xz"}
    body = make_zip(MEMBERS) if kind == "zip" else make_tar(MEMBERS, modes[kind])
    store = LocalDataStore(tmp_path)
    store.open()
    core = Core(None, store, Limits(), "r")  # type: ignore[arg-type]  # archives need no metadata
    rec = _record(store, body, pieces)
    archives = Archives(core)

    async def go():
        for name, data in MEMBERS.items():
            m = await archives.locate(rec, name)
            assert m.size == len(data)
            if m.offset is not None:  # stored as is: a plain byte range of the object
                assert body[m.offset : m.offset + m.size] == data
                assert kind in ("tar", "zip")
            got = b"".join([c async for c in archives.read(rec, m)])
            assert got == data
            part = b"".join([c async for c in archives.read(rec, m, 5, min(20, m.size - 5))])
            assert part == data[5:25]
        with pytest.raises(Exception, match="does not exist"):
            await archives.locate(rec, "d/none")

    try:
        run(go())
    finally:
        core.close()
    assert _compressed(body) == (kind in ("tar.gz", "tar.xz"))


def _mixed_tar(fmt: int) -> tuple[bytes, dict[str, bytes]]:
    """Directories, links, ./-names, ustar-prefix names and (GNU/PAX) long names."""
    files = {"./top.txt": b"top", "dir/" + "a" * 90 + "/" + "b" * 60 + ".bin": b"long-ish" * 100,
             "dir/x.txt": b"", "big.bin": bytes(range(256)) * 40}
    if fmt != tarfile.USTAR_FORMAT:
        files["c" * 150 + ".txt"] = b"very long name"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        t.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "big.bin"
        t.addfile(link)
    return buf.getvalue(), {n.removeprefix("./"): d for n, d in files.items()}


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_index_agrees_with_tarfile(tmp_path, fmt):
    body, files = _mixed_tar(fmt)
    store = LocalDataStore(tmp_path)
    store.open()
    core = Core(None, store, Limits(), "r")  # type: ignore[arg-type]
    rec = _record(store, body, 2)
    archives = Archives(core)

    async def go():
        # twice: the second round answers from the per-worker index
        for _ in range(2):
            for name, data in reversed(list(files.items())):
                m = await archives.locate(rec, name)
                assert b"".join([c async for c in archives.read(rec, m)]) == data, name
        for not_a_file in ("dir", "link", "nope"):
            with pytest.raises(Exception, match="does not exist"):
                await archives.locate(rec, not_a_file)

    try:
        run(go())
    finally:
        core.close()


def test_not_an_archive(tmp_path):
    store = LocalDataStore(tmp_path)
    store.open()
    core = Core(None, store, Limits(), "r")  # type: ignore[arg-type]
    archives = Archives(core)

    async def go():
        for body in (b"\0" * 2048, b"hello world" * 100, b"PK\x03\x04 broken zip"):
            rec = ObjectRecord(bucket="b", key="k", size=len(body), etag="e" + str(len(body)), last_modified=0,
                               owner="o", inline=body)
            with pytest.raises(Exception, match="not a tar or zip"):
                await archives.locate(rec, "x")

    try:
        run(go())
    finally:
        core.close()


def test_corrupt_deflated_member_is_detected(tmp_path):
    data = bytes(range(256)) * 400
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.bin", data, compress_type=zipfile.ZIP_DEFLATED)
    body = bytearray(buf.getvalue())
    store = LocalDataStore(tmp_path)
    store.open()
    core = Core(None, store, Limits(), "r")  # type: ignore[arg-type]
    archives = Archives(core)

    async def go():
        good = ObjectRecord(bucket="b", key="z", size=len(body), etag="good", last_modified=0, owner="o",
                            inline=bytes(body))
        m = await archives.locate(good, "a.bin")
        assert m.deflated_at is not None
        assert b"".join([c async for c in archives.read(good, m)]) == data
        body[m.deflated_at + 40] ^= 0xFF  # one flipped byte inside the compressed data
        bad = ObjectRecord(bucket="b", key="z", size=len(body), etag="bad", last_modified=0, owner="o",
                           inline=bytes(body))
        m = await archives.locate(bad, "a.bin")
        try:
            got = b"".join([c async for c in archives.read(bad, m)])
        except Exception as e:  # zlib's error or our CRC check
            assert "CRC" in str(e) or "zlib" in type(e).__module__ or "Error" in type(e).__name__
        else:
            pytest.fail(f"corruption not detected ({len(got)} bytes served)")

    try:
        run(go())
    finally:
        core.close()
