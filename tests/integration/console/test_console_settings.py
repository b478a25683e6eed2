"""The console's settings forms in a real browser: folder upload, lifecycle rules, CORS, website,
default encryption, webhook notifications and quotas, each checked through boto3 or the API."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from browser_support import ApiClient
from console_pages import css, go, login, s3_client, save, wait

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings_server(module_server_factory):
    return module_server_factory(workers=1, extra_args=["--webhook-allow", "127.0.0.0/8"])


def select(el: Any, text: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(el).select_by_visible_text(text)


def reopen(d: Any, srv: Any, hash_: str, ready: str) -> Any:
    """The page loaded afresh (the same URL again would not reload it)."""
    d.get("about:blank")
    return go(d, srv, hash_, ready)


def new_bucket(srv: Any) -> str:
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    s3_client(srv).create_bucket(Bucket=name)
    return name


def test_folder_upload_keeps_the_folder_paths(browser, settings_server, tmp_path: Path):
    d, srv = browser, settings_server
    bucket = new_bucket(srv)
    root = tmp_path / "album"
    (root / "2024" / "june").mkdir(parents=True)
    (root / "cover.txt").write_text("cover")
    (root / "2024" / "june" / "beach.txt").write_text("sand and sea")
    login(d, srv)
    go(d, srv, f"#/browse?bucket={bucket}", "#drop")
    css(d, "#folder-input").send_keys(str(root))
    wait(d, lambda d: len(d.find_elements("css selector", "#uploads li.done")) == 2, 60)
    s3 = s3_client(srv)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["album/2024/june/beach.txt", "album/cover.txt"]
    assert s3.get_object(Bucket=bucket, Key="album/2024/june/beach.txt")["Body"].read() == b"sand and sea"
    wait(d, lambda d: "album/" in d.find_element("css selector", "#objects").text)


def test_lifecycle_rules_form(browser, settings_server):
    d, srv = browser, settings_server
    bucket = new_bucket(srv)
    login(d, srv)
    go(d, srv, f"#/settings?bucket={bucket}", "#lc-rules-form")
    css(d, "#lc-rules-add").click()
    css(d, "#lc-rules-items .lc-prefix").send_keys("logs/")
    css(d, "#lc-rules-save").click()  # a rule with no action: S3's error, shown under the form
    assert "At least one action" in wait(d, lambda d: d.find_element("css selector", "#lc-rules-error").text)
    css(d, "#lc-rules-items .lc-days").send_keys("30")
    css(d, "#lc-rules-items .lc-abort").send_keys("7")
    save(d, "lc-rules", "lifecycle rule(s) saved")
    rules = s3_client(srv).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 1 and rules[0]["Expiration"]["Days"] == 30
    assert rules[0]["Filter"]["Prefix"] == "logs/" and rules[0]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7}
    # the form shows the saved rule again; removing it removes the configuration
    reopen(d, srv, f"#/settings?bucket={bucket}", "#lc-rules-form")
    assert css(d, "#lc-rules-items .lc-days").get_attribute("value") == "30"
    css(d, "#lc-rules-items .remove-item").click()
    save(d, "lc-rules", "Lifecycle rules removed")
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        s3_client(srv).get_bucket_lifecycle_configuration(Bucket=bucket)


def test_cors_website_and_encryption_are_edited(browser, settings_server):
    d, srv = browser, settings_server
    bucket = new_bucket(srv)
    s3 = s3_client(srv)
    login(d, srv)
    go(d, srv, f"#/settings?bucket={bucket}", "#cors-form")
    css(d, "#cors-add").click()
    css(d, "#cors-items .cors-origins").send_keys("https://a.example")
    css(d, "#cors-save").click()  # no method chosen: refused, said under the form
    assert "AllowedMethod" in wait(d, lambda d: d.find_element("css selector", "#cors-error").text)
    css(d, "#cors-items .cors-method[value=GET]").click()
    css(d, "#cors-items .cors-max-age").send_keys("600")
    save(d, "cors", "CORS saved")
    rule = s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]
    assert rule["AllowedOrigins"] == ["https://a.example"] and rule["MaxAgeSeconds"] == 600
    # edit it: another origin and method
    reopen(d, srv, f"#/settings?bucket={bucket}", "#cors-form")
    css(d, "#cors-items .cors-origins").send_keys("\nhttps://b.example")
    css(d, "#cors-items .cors-method[value=PUT]").click()
    save(d, "cors", "CORS saved")
    rule = s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]
    assert rule["AllowedOrigins"] == ["https://a.example", "https://b.example"]
    assert rule["AllowedMethods"] == ["GET", "PUT"]
    # website: served with an index and an error document
    select(css(d, "#web-mode"), "Serve the bucket as a website")
    css(d, "#web-error").send_keys("404.html")
    save(d, "website", "Website saved")
    site = s3.get_bucket_website(Bucket=bucket)
    assert site["IndexDocument"]["Suffix"] == "index.html" and site["ErrorDocument"]["Key"] == "404.html"
    css(d, "#web-index").clear()
    css(d, "#web-index").send_keys("a/b.html")
    css(d, "#website-save").click()
    assert "Suffix is not well formed" in wait(d, lambda d: d.find_element("css selector", "#website-error").text)
    # default encryption
    select(css(d, "#enc-algorithm"), "SSE-S3 (AES256)")
    save(d, "encryption", "Default encryption saved")
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="x")["ServerSideEncryption"] == "AES256"
    select(css(d, "#enc-algorithm"), "None")
    save(d, "encryption", "Default encryption removed")
    with pytest.raises(Exception, match="ServerSideEncryptionConfigurationNotFoundError"):
        s3.get_bucket_encryption(Bucket=bucket)


def test_webhook_notifications_form(browser, settings_server):
    d, srv = browser, settings_server
    bucket = new_bucket(srv)
    login(d, srv)
    go(d, srv, f"#/settings?bucket={bucket}", "#notify-form")
    css(d, "#notify-add").click()
    css(d, "#notify-items .nt-id").send_keys("to-hook")
    css(d, "#notify-items .nt-url").send_keys("http://10.20.30.40/hook")  # outside --webhook-allow
    css(d, "#notify-items .nt-event[value='s3:ObjectCreated:*']").click()
    css(d, "#notify-save").click()
    assert "destination" in wait(d, lambda d: d.find_element("css selector", "#notify-error").text)
    css(d, "#notify-items .nt-url").clear()
    css(d, "#notify-items .nt-url").send_keys("http://127.0.0.1:9/hook")
    css(d, "#notify-items .nt-suffix").send_keys(".jpg")
    save(d, "notify", "Notifications saved")
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    status, doc = api.request("GET", "notifications", query=f"bucket={bucket}")
    assert status == 200 and doc["configs"] == [{"id": "to-hook", "url": "http://127.0.0.1:9/hook",
                                                  "target": "http://127.0.0.1:9/hook",
                                                  "events": ["s3:ObjectCreated:*"], "prefix": "", "suffix": ".jpg"}]
    reopen(d, srv, f"#/settings?bucket={bucket}", "#notify-form")
    assert css(d, "#notify-items .nt-suffix").get_attribute("value") == ".jpg"


def test_quota_screen(browser, settings_server):
    d, srv = browser, settings_server
    bucket = new_bucket(srv)
    api = ApiClient(srv.endpoint)
    me = api.login(srv.access_key, srv.secret_key)
    login(d, srv)
    go(d, srv, f"#/settings?bucket={bucket}", "#edit-quota").click()
    css(d, "#quota-form")
    css(d, "#quota-gib").send_keys("2.5")
    css(d, "#quota-buckets").send_keys("-1")
    css(d, "#quota-save").click()  # the browser's own check refuses it: nothing is sent
    assert d.execute_script("return document.querySelector('#quota-buckets').matches(':invalid')")
    assert api.request("GET", "quota", query=f"user={me['user']}")[1]["quota"] == {}
    css(d, "#quota-buckets").clear()
    css(d, "#quota-buckets").send_keys("500")
    save(d, "quota", "Quota saved")
    status, q = api.request("GET", "quota", query=f"user={me['user']}")
    assert status == 200 and q["quota"] == {"max_bytes": int(2.5 * 1024 ** 3), "max_buckets": 500}
    wait(d, lambda d: "of 2.5 GiB" in d.find_element("css selector", "#quota-usage").text)
    for sel in ("#quota-gib", "#quota-buckets"):
        css(d, sel).clear()
    save(d, "quota", "Quota saved")
    assert api.request("GET", "quota", query=f"user={me['user']}")[1]["quota"] == {}
