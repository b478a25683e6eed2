"""Tests of the benchmark harness's own logic: list-page parsing (untrusted server output), the stream
runner's bounds, the report's ratios and goals, RESULTS.md section rewriting, the profile folding, the
signer fallback, process-group cleanup and the disk baseline.  A live test against nginx (skipped when
nginx is not installed) checks the client end to end, including that a short body is caught."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from harness import machine, procs, report
from harness.s3client import (
    UNSIGNED,
    Payload,
    RequestFailed,
    S3Client,
    _botocore_signer,
    make_payloads,
    new_session,
    parse_list_page,
    parse_list_page_lean,
)
from harness.workloads import Measure, run_streams
from hypothesis import given, settings
from hypothesis import strategies as st

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# Keys as XML 1.0 can carry them: no control characters other than tab/newline, no surrogates
xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


def list_xml(keys: list[str], truncated: bool, token: str | None, ns: bool = True) -> bytes:
    contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>0</Size></Contents>" for k in keys)
    tok = f"<NextContinuationToken>{escape(token)}</NextContinuationToken>" if token else ""
    xmlns = f' xmlns="{NS}"' if ns else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult{xmlns}><Name>b</Name>{contents}'
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{tok}</ListBucketResult>").encode()


PARSERS = pytest.mark.parametrize("parse", [parse_list_page, parse_list_page_lean], ids=["full", "lean"])


@PARSERS
@given(st.lists(xml_text, max_size=30), st.booleans(), xml_text, st.booleans())
def test_list_page_round_trip(parse, keys, truncated, token, ns):
    page = parse(list_xml(keys, truncated, token if truncated else None, ns))
    assert page.keys == keys
    assert page.truncated is truncated
    assert page.token == (token if truncated else None)


@PARSERS
@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_list_page_garbage_raises_value_error_only(parse, body):
    try:
        parse(body)
    except ValueError:
        pass


@pytest.mark.parametrize("body", [
    b"<Error><Code>AccessDenied</Code></Error>",
    list_xml(["a"], True, None),  # truncated without a token would loop forever on the same page
    b"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]><ListBucketResult>&a;</ListBucketResult>',
])
@PARSERS
def test_list_page_rejects(parse, body):
    with pytest.raises(ValueError):
        parse(body)


def test_lean_list_page_checks_key_count():
    body = list_xml(["a", "b"], False, None).replace(b"<Name>b</Name>", b"<Name>b</Name><KeyCount>3</KeyCount>")
    with pytest.raises(ValueError, match="KeyCount"):
        parse_list_page_lean(body)
    assert parse_list_page_lean(body.replace(b"<KeyCount>3<", b"<KeyCount>2<")).keys == ["a", "b"]


def test_payloads_distinct_and_exact():
    ps = make_payloads(3 * (1 << 20) + 5, 3)
    assert all(len(p.data) == 3 * (1 << 20) + 5 for p in ps)
    assert len({p.md5_b64 for p in ps}) == 3
    assert Payload.of(b"").md5_b64 == "1B2M2Y8AsgTpgAmY7PhCfg=="


def test_run_streams_stops_at_max_ops():
    async def op(_s, _i):
        await asyncio.sleep(0)
        return 10

    m = asyncio.run(run_streams(op, streams=8, duration=30, max_ops=50, unit="MiB/s"))
    assert m.ops == 50 and m.nbytes == 500 and m.errors == 0
    assert m.seconds < 5


def test_run_streams_stops_at_deadline_and_counts_errors():
    async def op(_s, i):
        await asyncio.sleep(0.01)
        if i % 2:
            raise RuntimeError("odd op")
        return 1

    m = asyncio.run(run_streams(op, streams=2, duration=0.3, max_ops=10**9, max_errors=10**9))
    assert 0.3 <= m.seconds < 2
    assert m.ops > 0 and m.errors > 0
    assert m.first_error == "RuntimeError: odd op"


def test_run_streams_hard_timeout_cancels_hung_ops():
    async def op(_s, _i):
        await asyncio.sleep(3600)
        return 0

    t = time.monotonic()
    m = asyncio.run(run_streams(op, streams=3, duration=0.1, max_ops=10, hard_timeout=0.5))
    assert m.timed_out and m.ops == 0
    assert time.monotonic() - t < 5


def test_measure_rates_and_percentiles():
    m = Measure(ops=4, nbytes=8 << 20, seconds=2.0, unit="MiB/s", latencies=[0.001, 0.002, 0.003, 0.1])
    assert m.value == 4.0
    assert m.pct(50) == pytest.approx(2.0) and m.pct(99) == pytest.approx(100.0)
    assert Measure(ops=10, seconds=0.5).value == 20.0
    assert Measure().value == 0.0 and Measure().pct(99) == 0.0


def _res(v):
    return {"value": v, "unit": "x", "errors": 0}


def test_goals_pass_fail_and_unmeasured():
    results = {
        "coffer": {"put_large": _res(90), "get_large": _res(70), "list": _res(5)},
        "seaweedfs": {"put_large": _res(100), "get_large": _res(50)},
        "nginx": {"get_large": _res(100)},
        "disk": {"disk_write": _res(100)},
    }
    checks = {g: (m, v) for g, m, v in report.goal_checks(results)}
    assert checks["PUT 64 MiB, 4 streams: Coffer ≥ SeaweedFS"] == ("0.90×", "FAIL")
    assert checks["GET 64 MiB, 4 streams: Coffer ≥ SeaweedFS"] == ("1.40×", "PASS")
    assert checks["ListObjectsV2 all keys, 1000/page: Coffer ≥ SeaweedFS"][1] == "not measured"
    assert checks["GET 64 MiB, 4 streams: Coffer ≥ 80% of nginx sendfile"] == ("0.70×", "FAIL")
    assert checks["PUT 64 MiB, 4 streams: Coffer ≥ 80% of disk, fdatasync'd"] == ("0.90×", "PASS")


def test_failed_phase_is_not_a_number():
    results = {"coffer": {"get_small": {"value": 900, "unit": "ops/s", "errors": 3}},
               "seaweedfs": {"get_small": _res(10)}}
    assert report.value(results, "coffer", "get_small") is None
    assert report.cell(results, "coffer", "get_small") == "FAILED (3 errors)"
    head, rows = report.table(results)
    assert "coffer/seaweedfs" in head and rows[3][head.index("coffer/seaweedfs")] == "—"


def test_results_md_keeps_notes_and_replaces_section(tmp_path):
    f = tmp_path / "RESULTS.md"
    report.update_results_md(f, "run", "first")
    f.write_text("# Title\n\nhand-written notes\n\n" + f.read_text().split("\n", 1)[1] + "\ntrailer\n")
    report.update_results_md(f, "run", "second")
    report.update_results_md(f, "loops", "other")
    text = f.read_text()
    assert "hand-written notes" in text and "trailer" in text
    assert "second" in text and "first" not in text and "other" in text
    assert text.count("<!-- bench:run:begin -->") == 1


RAW = """\
process 1:"x";thread (0x1);Thread.run (threading.py:982);_worker (concurrent/futures/thread.py:83) 40
process 1:"x";BaseEventLoop._run_once (asyncio/base_events.py:1922);EpollSelector.select (selectors.py:468) 50
process 1:"x";handle (coffer/server/http/app.py:10);Hasher.update (coffer/protocol/checksums.py:70) 30
process 1:"x";handle (coffer/server/http/app.py:12);FileWriter.write (coffer/server/data/local.py:99) 10
not a sample line
"""


def test_fold_separates_waiting_and_ranks_work():
    f = machine.fold(RAW)
    assert (f.samples, f.waiting) == (130, 90)
    assert f.own[0] == ("Hasher.update (protocol/checksums.py)", 75.0)
    assert ("handle (http/app.py)", 100.0) in f.coffer
    assert "working samples" in machine.render(RAW, seconds=1, rate=100)


@given(st.text(max_size=500))
def test_fold_never_raises(raw):
    f = machine.fold(raw)
    assert f.samples >= f.waiting >= 0


def test_botocore_signer_matches_coffer_signer():
    sigv4 = pytest.importorskip("coffer.protocol.sigv4")
    sign = _botocore_signer("AKIDEXAMPLE", "secret", "us-east-1")
    url = "http://127.0.0.1:9000/bench/large/0000001"
    headers = {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}
    added = sign("PUT", url, headers, UNSIGNED)
    ours = sigv4.sign_headers("PUT", url, headers, UNSIGNED, "AKIDEXAMPLE", "secret", "us-east-1",
                              amz_date=added["X-Amz-Date"])
    assert added["Authorization"] == ours["Authorization"]


def test_proc_stop_ends_the_whole_group(tmp_path):
    p = procs.Proc("sleepers", ["sh", "-c", "sleep 300 & sleep 300 & wait"], tmp_path / "log")
    p.start()
    time.sleep(0.3)
    pids = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert len(pids) >= 3
    assert sorted(procs.group_members(p.pid)) == sorted(int(x) for x in pids)
    p.stop(grace=2)
    assert [pid for pid in pids if _running(int(pid))] == []
    assert procs.group_members(p.pid) == []
    assert p not in procs._LIVE


def _running(pid: int) -> bool:
    """Alive and not a zombie (in a container, PID 1 may never reap the orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_group_cpu_counts_a_busy_child(tmp_path):
    p = procs.Proc("spinner", ["sh", "-c", "while :; do :; done"], tmp_path / "log")
    p.start()
    try:
        before = procs.group_cpu_seconds(p.pid)
        time.sleep(0.6)
        assert procs.group_cpu_seconds(p.pid) - before > 0.1
    finally:
        p.stop(grace=2)
    assert procs.group_cpu_seconds(p.pid) == 0


def test_server_cost_per_unit():
    large = {"unit": "MiB/s", "bytes": 2 << 30, "seconds": 4.0, "server_cpu_s": 2.0}
    assert report.server_cost(large) == "50%, 1.00 s/GiB"
    small = {"unit": "ops/s", "ops": 4000, "seconds": 2.0, "server_cpu_s": 1.0}
    assert report.server_cost(small) == "50%, 0.25 ms/op"
    assert report.server_cost({"unit": "ops/s"}) == "—"


def test_cost_table_compares_cpu_per_unit():
    def phase(cpu):
        return {"put_small": {"unit": "ops/s", "ops": 1000, "seconds": 1, "server_cpu_s": cpu, "errors": 0}}

    results = {"coffer": phase(0.5), "seaweedfs": phase(1.0)}
    head, rows = report.cost_table(results)
    row = next(r for r in rows if r[0].startswith("PUT 4 KiB"))
    assert row[head.index("coffer")] == "0.50" and row[head.index("coffer/seaweedfs")] == "0.50×"


def test_free_port_is_bindable_with_its_grpc_twin():
    import socket

    port = procs.free_port(also_plus=10000)
    for q in (port, port + 10000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", q))


def test_disk_baseline_writes_syncs_and_cleans_up(tmp_path):
    r = machine.disk_write_rate(tmp_path / "d", total=4 << 20, file_size=2 << 20)
    assert r["bytes"] == 4 << 20 and r["value"] > 0
    assert list((tmp_path / "d").iterdir()) == []


def test_disk_baseline_time_floor_and_cap(tmp_path):
    r = machine.disk_write_rate(tmp_path / "d", total=1 << 20, min_seconds=0.3, max_total=64 << 20,
                                file_size=1 << 20)
    assert r["seconds"] >= 0.3 or r["bytes"] == 64 << 20
    assert (1 << 20) < r["bytes"] <= 64 << 20


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_client_against_nginx(tmp_path):
    server = procs.start_nginx(tmp_path, workers=1)
    try:
        root = server.data_dir / "www" / "data"
        (root / "k").write_bytes(b"x" * 1000)

        async def go():
            async with new_session(2) as s:
                c = S3Client(s, server.base, "data", None)
                assert await c.get("k", expect=1000) == 1000
                with pytest.raises(RequestFailed, match="expected 999"):
                    await c.get("k", expect=999)
                with pytest.raises(RequestFailed, match="HTTP 404"):
                    await c.get("missing")
                sink = S3Client(s, server.base, "sink", None)
                big = make_payloads(3 << 20, 1)[0]  # above the chunking threshold
                assert await sink.put("a/b", big) == len(big.data)
            assert (server.data_dir / "www" / "sink" / "a" / "b").read_bytes() == big.data

        asyncio.run(go())
    finally:
        server.stop()
    assert not server.procs[0].alive() and not _running(server.procs[0].pid)


def test_best_round_wins_but_failures_are_never_hidden():
    ok = [{"t": {"w": _res(v)}} for v in (30, 10, 20)]
    assert report.best(ok)["t"]["w"]["value"] == 30
    assert report.best(ok)["t"]["w"]["rounds"] == [30, 10, 20]
    failed = {"t": {"w": {"value": 99, "unit": "x", "errors": 2}}}
    assert report.best([ok[0], failed, ok[1]])["t"]["w"]["errors"] == 2
    assert report.best([{"u": {"w": _res(5)}}, ok[1]]) == {"u": {"w": _res(5)}, "t": {"w": _res(10)}}
