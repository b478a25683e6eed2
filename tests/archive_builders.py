"""Archive bodies for the tests of archive members (S3 `?archpath=`, the AIStore API, the SDK's
reader and the server's archive index): one tar/zip builder instead of one per test module.

Lives beside the root conftest.py, whose folder pytest puts on sys.path, so unit, integration and
SDK tests can all import it.
"""

from __future__ import annotations

import io
import tarfile
import zipfile


def make_tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    """A tar (mode "w", "w:gz", "w:xz", ...) holding `members` in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    """A zip holding `members`, stored and deflated in turn (both ways of reading a member are used)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (name, data) in enumerate(members.items()):
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
    return buf.getvalue()
