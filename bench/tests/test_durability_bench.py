"""durability.py reads strace -c's table and the open flags of a server's files."""

from __future__ import annotations

import os

import durability

TABLE = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 97.10    0.134000         111      1198           fdatasync
  2.90    0.004000          40       100         3 fsync
------ ----------- ----------- --------- --------- ----------------
100.00    0.138000         106      1298         3 total
"""


def test_counts_each_sync_call_and_not_the_total(tmp_path):
    out = tmp_path / "x.strace"
    out.write_text(TABLE)
    assert durability.count_syncs(out) == {"fdatasync": 1198, "fsync": 100}
    out.write_text("")  # strace writes nothing when no traced call was made
    assert durability.count_syncs(out) == {}


def test_sees_files_opened_o_dsync(tmp_path):
    plain = open(tmp_path / "plain", "wb")  # noqa: SIM115
    synced = os.open(tmp_path / "synced", os.O_WRONLY | os.O_CREAT | os.O_DSYNC)
    try:
        assert durability.sync_flagged_files([os.getpid()], tmp_path) == (2, 1)
    finally:
        plain.close()
        os.close(synced)
