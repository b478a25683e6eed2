"""The console's administration pages in a real browser: KMS keys, bearer tokens, DS3 bulk jobs."""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from browser_support import ApiClient
from console_pages import css, go, login, s3_client, save, toast_text, wait
from ds3_wire import Ds3WireClient

pytestmark = pytest.mark.slow


def bearer_status(srv: Any, token: str) -> int:
    req = urllib.request.Request(srv.endpoint + "/", headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_kms_keys_are_created_disabled_and_enabled(browser, console_server):
    d, srv = browser, console_server
    alias = f"k-{uuid.uuid4().hex[:6]}"
    login(d, srv)
    go(d, srv, "#/kms", "#kms-new-form")
    css(d, "#kms-alias").send_keys("aws/reserved")
    css(d, "#kms-new-save").click()
    assert "alias" in wait(d, lambda d: d.find_element("css selector", "#kms-new-error").text)
    css(d, "#kms-alias").clear()
    css(d, "#kms-alias").send_keys(alias)
    css(d, "#kms-description").send_keys("console test key")
    save(d, "kms-new", f"Key {alias} created")
    row = wait(d, lambda d: next((r for r in d.find_elements("css selector", "#kms-keys tbody tr") if alias in r.text),
                                 None))
    key_id = row.get_attribute("data-key")
    s3 = s3_client(srv)
    bucket = f"kms-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"sealed", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=f"alias/{alias}")
    css(d, f"button.kms-toggle[data-key='{key_id}']").click()
    toast_text(d, "disabled")
    wait(d, lambda d: "Disabled" in d.find_element("css selector", f"tr[data-key='{key_id}']").text)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="secret.txt")
    assert e.value.response["Error"]["Code"] == "KMS.DisabledException"
    css(d, f"button.kms-toggle[data-key='{key_id}']").click()
    wait(d, lambda d: "Enabled" in d.find_element("css selector", f"tr[data-key='{key_id}']").text)
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"sealed"
    # a user who is not an administrator gets no KMS API
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    uid = f"u{uuid.uuid4().hex[:6]}"
    made = api.request("POST", "users", {"id": uid})[1]
    plain = ApiClient(srv.endpoint)
    plain.login(made["access_key"], made["secret_key"])
    status, doc = plain.request("POST", "kms", {"alias": "mine"})
    assert status == 403 and doc["error"]["code"] == "AccessDenied"


def test_bearer_tokens_are_issued_listed_and_revoked(browser, console_server):
    d, srv = browser, console_server
    login(d, srv)
    go(d, srv, "#/tokens", "#token-new-form")
    save(d, "token-new", "Token issued")
    token = css(d, "#token-once-value").get_attribute("value")
    assert token.count(".") == 2
    assert bearer_status(srv, token) == 200  # the S3 API takes it (Authorization: Bearer)
    token_id = css(d, "#token-once").text.split("Bearer token ")[1].split()[0]
    css(d, f"button.token-revoke[data-token='{token_id}']").click()
    toast_text(d, "revoked")
    wait(d, lambda d: d.find_element("css selector", f"tr[data-token='{token_id}'] .token-state").text == "revoked")
    time.sleep(2.5)  # every worker's token cache (2 s) has let go of it
    assert [bearer_status(srv, token) for _ in range(6)] == [403] * 6


def test_bulk_job_shows_its_chunks_progress(browser, console_server):
    d, srv = browser, console_server
    s3 = s3_client(srv)
    bucket = f"bulk-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    ds3 = Ds3WireClient(srv.endpoint, srv.access_key, srv.secret_key)
    job = ds3.put_bulk_job(bucket, [("one.bin", 1000), ("two.bin", 3000)])
    job_id = job["JobId"]
    ds3.put_object(bucket, "one.bin", 1000, io.BytesIO(b"1" * 1000), job=job_id, offset=0)
    login(d, srv)
    go(d, srv, "#/jobs", "#jobs")
    css(d, f"tr[data-job='{job_id}'] a.job-link").click()
    chunks = css(d, "#chunks")
    assert "1 of 2 blob(s)" in chunks.text or "1 of 1 blob(s)" in chunks.text, chunks.text
    assert "1000 B of 3.9 KiB" in css(d, "#job-progress").text
    assert d.execute_script("return document.querySelector('#job-progress progress').value") == 1000
    css(d, "#cancel-job").click()
    toast_text(d, "Job canceled")
    wait(d, lambda d: "CANCELED" in d.find_element("css selector", "#job-details").text)
    assert ds3.get_job(job_id)["Status"] == "CANCELED"


def test_login_with_an_api_key_made_on_the_users_page(browser, console_server):
    d, srv = browser, console_server
    uid = f"ibm{uuid.uuid4().hex[:6]}"
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    assert api.request("POST", "users", {"id": uid})[0] == 200
    login(d, srv)
    go(d, srv, "#/admin", "#users")
    css(d, f"button.new-api-key[data-user='{uid}']").click()
    api_key = css(d, "#secret-once").text.split("API key: ")[1].split()[0]
    css(d, "#logout").click()
    css(d, "#how-apikey").click()
    css(d, "#apikey").send_keys(api_key)
    css(d, "#login-button").click()
    css(d, "#buckets")
    assert f"{uid} (APIKEY" in css(d, "#who").text
