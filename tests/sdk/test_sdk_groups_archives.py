"""Coffer's SDK: multi-object groups (a list or a template) and reading one member of a tar/zip object."""

from __future__ import annotations

import io
import zipfile

import pytest

from archive_builders import make_tar
from coffer import NoSuchKey
from coffer.protocol.template import TemplateError


def test_template_delete_and_copy(coffer_client, coffer_bkt):
    for i in range(10):
        coffer_bkt.object(f"shard-{i:03d}.tar").put(f"s{i}".encode())
    group = coffer_bkt.objects(template="shard-{000..014}.tar")
    assert len(group.names()) == 15
    res = group.copy(coffer_bkt, prepend="copy/")
    assert len(res.done) == 10 and len(res.skipped) == 5
    assert coffer_bkt.object("copy/shard-004.tar").read() == b"s4"
    res = coffer_bkt.objects(template="copy/shard-{000..009..3}.tar").delete()
    assert sorted(res.done) == [f"copy/shard-{i:03d}.tar" for i in (0, 3, 6, 9)]
    left = [o.key for o in coffer_bkt.list_objects(prefix="copy/")]
    assert left == [f"copy/shard-{i:03d}.tar" for i in (1, 2, 4, 5, 7, 8)]
    coffer_bkt.objects(["shard-000.tar", "shard-001.tar"]).delete()
    assert not coffer_bkt.object("shard-000.tar").exists()
    assert coffer_bkt.object("shard-002.tar").exists()


def test_list_copy_missing_raises(coffer_client, coffer_bkt):
    coffer_bkt.object("a").put(b"a")
    with pytest.raises(NoSuchKey):
        coffer_bkt.objects(["a", "missing"]).copy(coffer_bkt, prepend="c/")
    res = coffer_bkt.objects(["a", "missing"]).copy(coffer_bkt, prepend="d/", continue_on_error=True)
    assert res.done == ["a"] and res.skipped == ["missing"]
    with pytest.raises(ValueError):
        coffer_bkt.objects(["a"]).copy(coffer_bkt)  # onto itself
    with pytest.raises(TemplateError):
        coffer_bkt.objects(template="bad-{1..2")


@pytest.mark.parametrize("kind", ["tar", "tgz", "zip"])
def test_get_reader_archpath(coffer_client, coffer_bkt, kind):
    members = {f"m/{i}.bin": bytes([i]) * (i * 300_000 + 7) for i in range(4)}
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for i, (name, data) in enumerate(members.items()):
                z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
        body = buf.getvalue()
    else:
        body = make_tar(members, "w:gz" if kind == "tgz" else "w")
    obj = coffer_bkt.object(f"archive.{kind}")
    obj.put(body)
    for name, data in members.items():
        assert obj.get_reader(archpath=name).read_all() == data
    assert obj.get_reader("bytes=5-14", archpath="m/3.bin").read_all() == members["m/3.bin"][5:15]
    with obj.get_reader(archpath="m/2.bin").as_file() as f:
        f.seek(1000)
        assert f.read(10) == members["m/2.bin"][1000:1010]
        f.seek(0, io.SEEK_END)
        assert f.tell() == len(members["m/2.bin"])
    with pytest.raises(NoSuchKey):
        obj.get_reader(archpath="m/none").read_all()
