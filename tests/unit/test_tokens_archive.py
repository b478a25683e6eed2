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

from coffer.server.config import Limits
from coffer.server.data import LocalDataStore
from coffer.server.meta.model import ObjectRecord, Segment, User
from coffer.server.meta.sqlite import SqliteMetaStore
from coffer.server.service.archive import Archives, _compressed
from coffer.server.service.core import Core
from coffer.server.service.tokens import TokenError, Tokens


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


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (n, d) in enumerate(MEMBERS.items()):
            z.writestr(n, d, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
    return buf.getvalue()


def _tar(mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for n, d in MEMBERS.items():
            info = tarfile.TarInfo(n)
            info.size = len(d)
            t.addfile(info, io.BytesIO(d))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.xz", "zip"])
@pytest.mark.parametrize("pieces", [1, 3])
def test_members_across_segments(tmp_path, kind, pieces):
    body = _zip() if kind == "zip" else _tar({"tar": "w", "tar.gz": "w:gz", "tar.xz": "w:xz"}[kind])
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
