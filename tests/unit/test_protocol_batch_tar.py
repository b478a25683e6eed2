"""The batch GET's tar format (coffer.protocol.batch_tar): what the server writes is a tar Python's tarfile
reads, with the COFFER.* pax records; the incremental reader gives back the same members and bytes
whatever the pieces it is fed, says when the archive is complete, and refuses a damaged header."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from coffer.protocol import batch_tar as bt


def _archive(members: list[tuple[str, bytes, dict[str, str]]]) -> bytes:
    out = b"".join(bt.member_header(name, len(data), 1_700_000_000.5, recs) + data + bt.padding(len(data))
                   for name, data, recs in members)
    return out + bt.end_of_archive()


MEMBERS = [
    ("dir/a.txt", b"hello", {"etag": "5d41402abc4b2a76b9719d911017c592", "checksum-crc32c": "mnG7TA=="}),
    ("k" * 150 + "/ünï", os.urandom(3000), {"etag": "x-2", "version-id": "v1"}),
    ("gone", b"", {"error-code": "NoSuchKey", "error-message": "The specified key does not exist.",
                   "error-status": "404"}),
    ("empty", b"", {"etag": "d41d8cd98f00b204e9800998ecf8427e"}),
]


def test_tarfile_reads_what_the_server_writes():
    with tarfile.open(fileobj=io.BytesIO(_archive(MEMBERS)), mode="r:") as tar:
        got = [(m.name, tar.extractfile(m).read(), m.mtime, m.pax_headers) for m in tar.getmembers()]
    assert [(n, d) for n, d, _m, _p in got] == [(n, d) for n, d, _r in MEMBERS]
    assert all(mtime == 1_700_000_000.5 for _n, _d, mtime, _p in got)
    assert got[0][3]["COFFER.checksum-crc32c"] == "mnG7TA==" and got[2][3]["COFFER.error-code"] == "NoSuchKey"


@pytest.mark.parametrize("piece", [1, 7, 512, 4096, 1 << 20])
def test_the_reader_gives_back_every_member_whatever_the_pieces(piece):
    blob = _archive(MEMBERS)
    reader = bt.TarReader()
    events: list = []
    for i in range(0, len(blob), piece):
        assert not reader.done
        events += reader.feed(blob[i : i + piece])
    assert reader.done
    got: list[tuple[bt.Member, bytes]] = []
    for ev in events:
        if isinstance(ev, bt.Member):
            got.append((ev, b""))
        else:
            got[-1] = (got[-1][0], got[-1][1] + ev)
    assert [(m.name, d, m.records) for m, d in got] == MEMBERS
    assert all(m.mtime == 1_700_000_000.5 and m.size == len(d) for m, d in got)


def test_a_cut_archive_is_not_done_and_a_damaged_header_is_refused():
    blob = _archive(MEMBERS)
    reader = bt.TarReader()
    reader.feed(blob[:-1024])  # everything but the end blocks
    assert not reader.done
    damaged = bytearray(blob)
    damaged[10] ^= 0xFF  # inside the first header's name
    with pytest.raises(bt.TarFormatError):
        bt.TarReader().feed(bytes(damaged))
