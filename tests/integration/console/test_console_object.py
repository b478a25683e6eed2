"""Object details in a real browser: checksums, the storage policy and where the fragments live
(one folder, then six volumes with erasure coding), IBM protection and legal holds."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from browser_support import ApiClient
from console_pages import css, go, login, s3_client, toast_text, wait
from ec_support import start

pytestmark = pytest.mark.slow


def test_checksums_and_placement_in_one_folder(browser, console_server):
    d, srv = browser, console_server
    s3 = s3_client(srv)
    bucket = f"obj-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="data.bin", Body=body, ChecksumAlgorithm="SHA256")
    login(d, srv)
    go(d, srv, f"#/object?bucket={bucket}&key=data.bin", "#placement")
    want = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert want in css(d, "#checksums").text and "SHA256" in css(d, "#checksums").text
    assert "Policy SINGLE · 1 segment(s) · healthy" in css(d, "#placement-summary").text
    frags = d.find_elements("css selector", "#fragments tr.fragment")
    assert len(frags) == 1 and "ok" in frags[0].text


def test_fragments_on_volumes_are_shown_with_their_volumes(browser, server_factory, tmp_path: Path):
    d = browser
    srv, _vols = start(server_factory, tmp_path, n=6)
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="ecb")
    s3.put_object(Bucket="ecb", Key="big", Body=os.urandom(3 * 1024 * 1024))
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    placement = api.request("GET", "object", query="bucket=ecb&key=big")[1]["placement"]
    volumes = {f["volume"] for seg in placement["segments"] for f in seg["fragments"]}
    login(d, srv)
    go(d, srv, "#/object?bucket=ecb&key=big", "#fragments")
    summary = css(d, "#placement-summary").text
    assert placement["policy"] and f"Policy {placement['policy']}" in summary and "healthy" in summary
    rows = d.find_elements("css selector", "#fragments tr.fragment")
    width = placement["segments"][0]["width"]
    assert width == 6 and len(rows) == width * len(placement["segments"])
    assert len(volumes) == 6 and all(v in css(d, "#fragments").text for v in volumes)  # one fragment a volume
    # a user who is not an administrator sees the layout but no server paths
    uid = f"u{uuid.uuid4().hex[:6]}"
    made = api.request("POST", "users", {"id": uid})[1]
    plain = ApiClient(srv.endpoint)
    plain.login(made["access_key"], made["secret_key"])
    s3.put_bucket_policy(Bucket="ecb", Policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                         f'"Principal": {{"AWS": ["{uid}"]}}, "Action": "s3:GetObject", '
                         '"Resource": "arn:aws:s3:::ecb/*"}]}')
    status, doc = plain.request("GET", "object", query="bucket=ecb&key=big")
    assert status == 200, doc
    frag = doc["placement"]["segments"][0]["fragments"][0]
    assert "volume" in frag and "path" not in frag and "volume_path" not in frag


def test_ibm_protection_and_legal_holds(browser, console_server):
    d, srv = browser, console_server
    s3 = s3_client(srv)
    bucket = f"ibm-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    login(d, srv)
    go(d, srv, f"#/settings?bucket={bucket}", "#protection-form")
    css(d, "#prot-min").clear()
    css(d, "#prot-min").send_keys("5")
    css(d, "#prot-default").clear()
    css(d, "#prot-default").send_keys("1")
    css(d, "#prot-max").clear()
    css(d, "#prot-max").send_keys("30")
    css(d, "#protection-save").click()
    css(d, "#confirm-ok").click()
    assert "Minimum <= Default" in wait(d, lambda d: d.find_element("css selector", "#protection-error").text)
    css(d, "#prot-default").clear()
    css(d, "#prot-default").send_keys("10")
    d.execute_script("const t = document.getElementById('toast'); t.textContent = '';")
    css(d, "#protection-save").click()
    css(d, "#confirm-ok").click()
    toast_text(d, "Protection saved")
    wait(d, lambda d: "kept 10 days by default" in d.find_element("css selector", "#ibm-protection-text").text)
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    assert api.request("GET", "settings", query=f"bucket={bucket}")[1]["protection"]["max"] == 30
    # loosening is refused (IBM: the bounds only grow)
    css(d, "#prot-max").clear()
    css(d, "#prot-max").send_keys("20")
    css(d, "#protection-save").click()
    css(d, "#confirm-ok").click()
    assert "only be increased" in wait(d, lambda d: d.find_element("css selector", "#protection-error").text)
    # an object under the default retention: holds added and removed on its page
    s3.put_object(Bucket=bucket, Key="record.pdf", Body=b"%PDF-1.4 evidence")
    go(d, srv, f"#/object?bucket={bucket}&key=record.pdf", "#ibm-hold-form")
    assert "IBM retention: until" in css(d, "#protection").text
    css(d, "#ibm-hold-id").send_keys("case-42")
    css(d, "#ibm-hold-add").click()
    toast_text(d, "Legal hold case-42 added")
    wait(d, lambda d: "case-42" in d.find_element("css selector", "#ibm-holds").text)
    holds = api.request("GET", "object", query=f"bucket={bucket}&key=record.pdf")[1]["protection"]["ibm"]["holds"]
    assert [h["id"] for h in holds] == ["case-42"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="record.pdf")
    assert e.value.response["Error"]["Code"] in ("AccessDenied", "ObjectLocked", "InvalidRequest")
    css(d, "button.ibm-hold-remove[data-hold='case-42']").click()
    toast_text(d, "Legal hold case-42 removed")
    wait(d, lambda d: "case-42" not in d.find_element("css selector", "#ibm-holds").text)
    assert api.request("GET", "object", query=f"bucket={bucket}&key=record.pdf")[1]["protection"]["ibm"]["holds"] == []
