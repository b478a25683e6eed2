"""coffer.protocol.snowball: the tar the SDK and CLI send, and the pax records the server reads."""

from __future__ import annotations

import io
import tarfile

import pytest

from coffer.protocol import snowball as sb


def test_pack_writes_coffer_pax_records_tarfile_reads_back():
    body = sb.pack([sb.Member("a/é.txt", b"hi", ("CRC32C", "AAAAAA=="), "text/plain"), sb.Member("b", b"")])
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        a, b = tar.getmembers()
        assert (a.name, a.size, b.name, b.size) == ("a/é.txt", 2, "b", 0)
        assert a.pax_headers[sb.PAX_CHECKSUM + "crc32c"] == "AAAAAA=="
        assert a.pax_headers[sb.PAX_CONTENT_TYPE] == "text/plain"
        assert tar.extractfile(a).read() == b"hi"  # type: ignore[union-attr]


def test_parse_pax_records_and_malformed_ones():
    rec = "path=x/y\n"
    line = f"{len(rec) + 3} {rec}"
    assert sb.parse_pax(line.encode() + b"\0\0") == {"path": "x/y"}
    for bad in (b"99 path=x\n", b"5 x\n", b"12 pathx/y.z\n", b"abc path=x\n"):
        with pytest.raises(ValueError):
            sb.parse_pax(bad)


def test_truthy():
    assert sb.truthy("true") and sb.truthy(" TRUE ") and not sb.truthy("1") and not sb.truthy(None)
