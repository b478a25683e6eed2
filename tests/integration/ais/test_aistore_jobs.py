"""AIStore job ids (the `aistore` SDK against a live server): an id Coffer issued reports its end;
a random, altered or another user's id is unknown (404), never "finished"."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import uuid

import pytest

aistore = pytest.importorskip("aistore")
from ais_support import no_retries  # noqa: E402
from aistore.sdk.errors import AISError  # noqa: E402
from helpers import coffer_cli  # noqa: E402


def test_only_issued_job_ids_report_finished(endpoint):
    if endpoint.server is None:
        pytest.skip("needs a local server (tokens are issued on its data folder)")
    ais = aistore.Client(endpoint.url, token=coffer_cli(endpoint.server.data, "token", "create", "--user", "root"),
                         retry_config=no_retries())
    b = ais.bucket(f"ais-j-{uuid.uuid4().hex[:12]}").create()
    try:
        b.object("a").get_writer().put_content(b"x")
        job = b.objects(obj_names=["a"]).delete()
        status = ais.job(job).status()
        assert 0 < status.end_time <= time.time_ns() and not status.aborted
        head, _, mac = job.rpartition("-")
        forged = [
            f"cf-{time.time_ns():x}-{secrets.token_hex(4)}",  # the old unsigned format
            f"cf-{time.time_ns():x}-{secrets.token_hex(4)}-{secrets.token_hex(16)}",  # a guessed MAC
            f"{head}-{mac[::-1]}",  # an altered one
            f"{head[:-1]}{'0' if head[-1] != '0' else '1'}-{mac}",
            "0123456789",
        ]
        for jid in forged:
            with pytest.raises(AISError) as e:
                ais.job(jid).status()
            assert e.value.status_code in (400, 404)
        # another user: the id was not issued to them
        ak, sk = "AISJOBOTHERUSER00001", "ais-job-other-user-secret-0123456789abc"
        out = subprocess.run([sys.executable, "-m", "coffer", "user", "add", "ais-job-other", "--access-key", ak,
                              "--secret-key", sk, "--data", str(endpoint.server.data)], capture_output=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        other = aistore.Client(endpoint.url, retry_config=no_retries(),
                               token=coffer_cli(endpoint.server.data, "token", "create", "--user", "ais-job-other"))
        with pytest.raises(AISError) as e:
            other.job(job).status()
        assert e.value.status_code == 404
    finally:
        b.delete(missing_ok=True)
