"""SSE-C keys and bearer tokens over plain HTTP: refused from another host (as S3 refuses SSE-C without
TLS), accepted from loopback or with --allow-insecure-secrets. "Another host" is a non-loopback address
in a network namespace made by the test (server and client both inside it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root and iproute2 to make a network namespace")
ADDR = "10.77.0.1"
AK, SK = "NSACCESSKEY", "ns-secret-key-0123456789"


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"coffer-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", name, "ip", "addr", "add", f"{ADDR}/32", "dev", "lo"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


CLIENT = textwrap.dedent("""
    import os, sys, urllib.error, urllib.request
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    url = sys.argv[1]
    s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                      region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    try:
        s3.create_bucket(Bucket="netns-bucket")
    except ClientError as e:
        print("create:", e)
    try:
        s3.put_object(Bucket="netns-bucket", Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=os.urandom(32))
        print("ssec: stored")
    except ClientError as e:
        print("ssec:", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
    req = urllib.request.Request(url + "/v1/buckets/netns-bucket?provider=ais",
                                 headers={"Authorization": "Bearer abc.def.ghi"})
    try:
        urllib.request.urlopen(req, timeout=10)
        print("bearer: 200")
    except urllib.error.HTTPError as e:
        print("bearer:", e.code, e.read().decode(errors="replace")[:300])
""")


def run_in(netns: str, *extra: str) -> str:
    port = 9000
    proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m", "coffer", "serve", "--data",
                             f"/tmp/{netns}-{len(extra)}", "--workers", "1", "--address", f"{ADDR}:{port}",
                             "--access-key", AK, "--secret-key", SK, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://{ADDR}:{port}"
        deadline = time.monotonic() + 30
        while subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c",
                              f"import urllib.request; urllib.request.urlopen('{url}/health/ready', timeout=1)"],
                             capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        res = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT, url, AK, SK],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return res.stdout
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(f"/tmp/{netns}-{len(extra)}", ignore_errors=True)


def test_secrets_over_plain_http_from_another_host(netns):
    out = run_in(netns)
    assert "ssec: InvalidRequest 400" in out
    assert "bearer: 403" in out and "plain HTTP" in out
    out = run_in(netns, "--allow-insecure-secrets")
    assert "ssec: stored" in out
    assert "bearer: 401" in out  # past the transport check: the (made-up) token itself is refused
