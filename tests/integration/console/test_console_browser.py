"""The console in a real browser (headless Chromium driven by Selenium) against a real server."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from browser_support import ApiClient
from console_pages import create_bucket_ui, css, go, login, s3_client, same_origin_only, toast_text, wait

pytestmark = pytest.mark.slow


def test_upload_browse_preview_share(browser, console_server, tmp_path: Path):
    d, srv = browser, console_server
    login(d, srv)
    bucket = f"photos-{uuid.uuid4().hex[:6]}"
    create_bucket_ui(d, bucket)
    d.find_element("link text", bucket).click()
    css(d, "#drop")
    # a folder, then a 20 MiB file through the upload control (multipart), watching its progress
    css(d, "#folder-name").send_keys("docs")
    css(d, "#folder-name").submit()
    css(d, "a.folder")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    d.execute_script("""
        window.__sent = [];
        new MutationObserver(ms => ms.forEach(m => { if (m.attributeName === 'data-sent')
            window.__sent.push(Number(m.target.dataset.sent)); }))
          .observe(document.getElementById('uploads'), {subtree: true, attributes: true});""")
    css(d, "#file-input").send_keys(str(big))
    wait(d, lambda d: d.find_elements("css selector", "#uploads li.done"), 120)
    sent = d.execute_script("return window.__sent")
    size = big.stat().st_size
    assert sent[-1] == size and any(0 < n < size for n in sent), sent  # progress was reported along the way
    assert sent == sorted(sent)
    s3 = s3_client(srv)
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ContentLength"] == size and got["ETag"].strip('"').endswith("-2")  # two 16 MiB parts
    assert hashlib.md5(got["Body"].read()).digest() == hashlib.md5(big.read_bytes()).digest()
    # small files: a JSON document and a PNG, previewed in the page
    doc = tmp_path / "report.json"
    doc.write_text('{"answer": 42, "items": [1, 2]}')
    png = tmp_path / "dot.png"
    png.write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"))
    css(d, "#file-input").send_keys(f"{doc}\n{png}")
    wait(d, lambda d: len(d.find_elements("css selector", "#uploads li.done")) == 3, 60)
    wait(d, lambda d: "report.json" in d.find_element("css selector", "#objects").text)
    assert "docs/" in css(d, "#objects").text and "big.bin" in css(d, "#objects").text
    d.find_element("link text", "report.json").click()
    pre = css(d, "pre.preview-text")
    assert '"answer": 42' in pre.text  # pretty-printed JSON
    assert "31 bytes" in css(d, ".details").text
    # share: a presigned link made server-side, fetched outside the browser
    css(d, "#share-expiry").send_keys("1 minute")
    css(d, "#share-button").click()
    link = wait(d, lambda d: d.find_element("css selector", "#share-url").get_attribute("value"))
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=60" in link
    with urllib.request.urlopen(link, timeout=10) as r:
        assert r.read() == doc.read_bytes()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(link.replace("X-Amz-Expires=60", "X-Amz-Expires=61"), timeout=10)
    assert e.value.code == 403
    # the image preview decodes in the page
    go(d, srv, f"#/object?bucket={bucket}&key=dot.png", "img.preview-img")
    wait(d, lambda d: d.execute_script("return document.querySelector('img.preview-img').naturalWidth") == 1)
    # breadcrumbs lead back; delete asks first
    d.find_element("link text", bucket).click()
    css(d, "input[data-key='dot.png']").click()
    css(d, "#delete-selected").click()
    css(d, "#confirm-ok").click()
    wait(d, lambda d: "dot.png" not in d.find_element("css selector", "#objects").text)
    assert "dot.png" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    same_origin_only(d, srv)


def test_legal_hold_refuses_delete_and_old_version_restores(browser, console_server):
    d, srv = browser, console_server
    login(d, srv)
    bucket = f"locked-{uuid.uuid4().hex[:6]}"
    create_bucket_ui(d, bucket, lock=True)
    s3 = s3_client(srv)
    v1 = s3.put_object(Bucket=bucket, Key="contract.txt", Body=b"first draft")["VersionId"]
    s3.put_object(Bucket=bucket, Key="contract.txt", Body=b"second draft")
    go(d, srv, f"#/object?bucket={bucket}&key=contract.txt", "#legal-hold-toggle").click()
    wait(d, lambda d: "Legal hold ON" in d.find_element("css selector", "#protection").text)
    assert s3.get_object_legal_hold(Bucket=bucket, Key="contract.txt")["LegalHold"]["Status"] == "ON"
    go(d, srv, f"#/versions?bucket={bucket}&prefix=contract.txt&exact=1", "#versions")
    rows = d.find_elements("css selector", "#versions tbody tr")
    assert len(rows) == 2 and "Legal hold ON" in rows[0].text
    rows[0].find_element("css selector", ".delete-version").click()
    css(d, "#confirm-ok").click()
    assert "denied" in toast_text(d, "AccessDenied").lower()
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2  # nothing was deleted
    css(d, f"button.restore[data-version='{v1}']").click()
    wait(d, lambda d: len(d.find_elements("css selector", "#versions tbody tr")) == 3)
    assert s3.get_object(Bucket=bucket, Key="contract.txt")["Body"].read() == b"first draft"


def test_policy_errors_are_shown_inline(browser, console_server):
    d, srv = browser, console_server
    login(d, srv)
    bucket = f"pol-{uuid.uuid4().hex[:6]}"
    create_bucket_ui(d, bucket)
    area = go(d, srv, f"#/settings?bucket={bucket}", "#policy")
    area.send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
                   '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::some-other-bucket/*"}]}')
    css(d, "#policy-save").click()
    err = wait(d, lambda d: d.find_element("css selector", "#policy-error").text)
    assert "MalformedPolicy" in err
    area.clear()
    area.send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
                   f'"Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/*"}}]}}')
    css(d, "#policy-save").click()
    toast_text(d, "saved")
    assert d.find_element("css selector", "#policy-error").text == ""
    assert bucket in s3_client(srv).get_bucket_policy(Bucket=bucket)["Policy"]


def test_health_charts_draw_live_data(browser, console_server):
    d, srv = browser, console_server
    login(d, srv)
    go(d, srv, "#/health", "#chart-requests")
    s3 = s3_client(srv)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # traffic for the charts, bounded
        s3.list_buckets()
        samples = d.execute_script("return document.getElementById('chart-requests').dataset.samples")
        if samples and int(samples) >= 3:
            break
        time.sleep(0.2)
    last = d.execute_script("return document.getElementById('chart-requests').dataset.last")
    assert float(last) > 0
    # pixels were drawn: the canvas holds more than its background colour
    colours = d.execute_script("""
        const c = document.getElementById('chart-requests'); const px = c.getContext('2d')
          .getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < px.length; i += 16) seen.add(px[i] << 16 | px[i+1] << 8 | px[i+2]);
        return seen.size;""")
    assert colours > 3
    same_origin_only(d, srv)


def test_admin_creates_a_user_who_cannot_see_the_first_bucket(browser, console_server):
    d, srv = browser, console_server
    login(d, srv)
    bucket = f"private-{uuid.uuid4().hex[:6]}"
    create_bucket_ui(d, bucket)
    uid = f"bob{uuid.uuid4().hex[:4]}"
    go(d, srv, "#/admin", "#users")
    css(d, "#new-user").send_keys(uid)
    css(d, "#new-user").submit()
    box = css(d, "#secret-once")
    ak = box.text.split("Access key: ")[1].split()[0]
    sk = box.text.split("Secret key: ")[1].split()[0]
    css(d, "#logout").click()
    css(d, "#ak")
    login(d, srv, ak, sk)
    assert bucket not in css(d, "#buckets").text
    assert d.find_element("css selector", "a[href='#/admin']").get_attribute("hidden") is not None
    go(d, srv, f"#/browse?bucket={bucket}", "#toast")
    assert "denied" in toast_text(d, "AccessDenied").lower()
    api = ApiClient(srv.endpoint)
    api.login(ak, sk)
    assert api.request("GET", "objects", query=f"bucket={bucket}")[0] == 403
