"""Bucket settings verbs (policy, ilm, event, encrypt, cors, website, stat BUCKET) against a real
server, read back with the aws CLI, and for events with a real webhook receiver."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from cli_helpers import aws_json, lines


def test_policy_get_set_anonymous(run, aws, bucket, endpoint, tmp_path):
    run("pipe", f"dev/{bucket}/pub/hello.txt", stdin=b"hello")
    run("pipe", f"dev/{bucket}/private.txt", stdin=b"secret")
    run("policy", "anonymous", "download", f"dev/{bucket}/pub/")
    with urllib.request.urlopen(f"{endpoint.url}/{bucket}/pub/hello.txt") as r:
        assert r.read() == b"hello"
    try:
        urllib.request.urlopen(f"{endpoint.url}/{bucket}/private.txt")
        raise AssertionError("anonymous read outside the prefix was allowed")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    theirs = json.loads(aws_json(aws("s3api", "get-bucket-policy", "--bucket", bucket))["Policy"])
    ours = lines(run("policy", "get", "--json", f"dev/{bucket}"))[0]["policy"]
    assert theirs == ours and ours["Statement"][1]["Resource"] == [f"arn:aws:s3:::{bucket}/pub/*"]
    assert lines(run("stat", "--json", f"dev/{bucket}"))[0]["public"] is True
    (tmp_path / "p.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    run("policy", "set", f"dev/{bucket}", "p.json")
    theirs = json.loads(aws_json(aws("s3api", "get-bucket-policy", "--bucket", bucket))["Policy"])
    assert theirs["Statement"][0]["Effect"] == "Deny"
    assert run("policy", "set", f"dev/{bucket}", "{not json", ok=False).returncode == 2
    run("policy", "remove", f"dev/{bucket}")
    assert aws("s3api", "get-bucket-policy", "--bucket", bucket, ok=False).returncode != 0
    assert run("policy", "get", "--json", f"dev/{bucket}").stdout.strip() == b'{"bucket": "%s", "policy": null}' % (
        bucket.encode())


def test_ilm_add_ls_export_import_rm(run, aws, bucket, tmp_path):
    run("ilm", "add", f"dev/{bucket}/logs/", "--id", "logs", "--expire-days", "30")
    run("ilm", "add", f"dev/{bucket}", "--id", "old", "--noncurrent-expire-days", "2w", "--abort-uploads-days", "7")
    rules = {r["ID"]: r for r in aws_json(aws("s3api", "get-bucket-lifecycle-configuration",
                                              "--bucket", bucket))["Rules"]}
    assert rules["logs"]["Expiration"] == {"Days": 30} and rules["logs"]["Filter"] == {"Prefix": "logs/"}
    assert rules["old"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 14
    assert rules["old"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert [r["id"] for r in lines(run("ilm", "ls", "--json", f"dev/{bucket}"))] == ["logs", "old"]
    (tmp_path / "ilm.json").write_bytes(run("ilm", "export", f"dev/{bucket}").stdout)
    run("ilm", "rm", "--all", f"dev/{bucket}")
    assert run("ilm", "ls", f"dev/{bucket}").stdout == b""
    run("ilm", "import", f"dev/{bucket}", "ilm.json")
    run("ilm", "rm", "--id", "old", f"dev/{bucket}")
    rules = aws_json(aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket))["Rules"]
    assert [r["ID"] for r in rules] == ["logs"]
    assert run("ilm", "add", f"dev/{bucket}", ok=False).returncode == 2  # no action given


class _Hook(BaseHTTPRequestHandler):
    got: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.got.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_event_add_ls_rm_delivers(run, bucket):
    srv = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    try:
        run("event", "add", f"dev/{bucket}", url, "--event", "put", "--suffix", ".jpg", "--id", "jpgs")
        shown = lines(run("event", "ls", "--json", f"dev/{bucket}"))
        assert shown[0]["url"] == url and shown[0]["events"] == ["s3:ObjectCreated:*"] and shown[0]["suffix"] == ".jpg"
        run("pipe", f"dev/{bucket}/skip.txt", stdin=b"no")
        run("pipe", f"dev/{bucket}/cat.jpg", stdin=b"meow")
        deadline = time.monotonic() + 30
        while not _Hook.got and time.monotonic() < deadline:
            time.sleep(0.2)
        keys = [r["s3"]["object"]["key"] for doc in _Hook.got for r in doc.get("Records", [])]
        assert keys == ["cat.jpg"], _Hook.got
        run("event", "rm", "--id", "jpgs", f"dev/{bucket}")
        assert run("event", "ls", f"dev/{bucket}").stdout == b""
        assert run("event", "add", f"dev/{bucket}", url, "--event", "bogus", ok=False).returncode == 2
    finally:
        srv.shutdown()


def test_encrypt_cors_website(run, aws, bucket, tmp_path):
    run("encrypt", "set", "sse-s3", f"dev/{bucket}")
    enc = aws_json(aws("s3api", "get-bucket-encryption", "--bucket", bucket))
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    run("pipe", f"dev/{bucket}/sealed", stdin=b"x")
    head = aws_json(aws("s3api", "head-object", "--bucket", bucket, "--key", "sealed"))
    assert head["ServerSideEncryption"] == "AES256"
    assert "Encrypted : AES256" in run("stat", f"dev/{bucket}/sealed").stdout.decode()
    assert lines(run("encrypt", "info", "--json", f"dev/{bucket}"))[0]["algorithm"] == "AES256"
    run("encrypt", "clear", f"dev/{bucket}")
    assert aws("s3api", "get-bucket-encryption", "--bucket", bucket, ok=False).returncode != 0

    run("cors", "set", f"dev/{bucket}", "--origin", "https://app.example", "--method", "get", "--method", "PUT",
        "--max-age", "600")
    rules = aws_json(aws("s3api", "get-bucket-cors", "--bucket", bucket))["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://app.example"] and rules[0]["AllowedMethods"] == ["GET", "PUT"]
    (tmp_path / "cors.json").write_text(json.dumps({"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}]}))
    aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", "file://cors.json")
    ours = lines(run("cors", "get", "--json", f"dev/{bucket}"))[0]
    assert ours["CORSRules"] == json.loads((tmp_path / "cors.json").read_text())["CORSRules"]
    run("cors", "set", f"dev/{bucket}", "cors.json")
    run("cors", "remove", f"dev/{bucket}")
    assert aws("s3api", "get-bucket-cors", "--bucket", bucket, ok=False).returncode != 0

    run("website", "set", f"dev/{bucket}", "--index", "index.html", "--error", "404.html")
    site = aws_json(aws("s3api", "get-bucket-website", "--bucket", bucket))
    assert site["IndexDocument"] == {"Suffix": "index.html"} and site["ErrorDocument"] == {"Key": "404.html"}
    assert lines(run("website", "get", "--json", f"dev/{bucket}"))[0]["index_document"] == "index.html"
    summary = lines(run("stat", "--json", f"dev/{bucket}"))[0]
    assert summary["website"] is True and summary["objects"] == 1 and summary["size"] == 1
    run("website", "remove", f"dev/{bucket}")
    assert aws("s3api", "get-bucket-website", "--bucket", bucket, ok=False).returncode != 0


def test_stat_bucket_summary(run, aws, bucket):
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    run("pipe", f"dev/{bucket}/a", stdin=b"x" * 3000)
    text = run("stat", f"dev/{bucket}").stdout.decode()
    for line in ("Versioning : Enabled", "Lock       : Disabled", "Policy     : none", "Encryption : none",
                 "Usage      : 2.9KiB in 1 objects"):
        assert line in text, text
    assert run("stat", f"dev/{bucket}-nope", ok=False).returncode == 3
