"""The console's JSON API without a browser: sessions, CSRF, logout, and acting as the user only."""

from __future__ import annotations

import json
import uuid

from browser_support import ApiClient


def test_login_refuses_a_wrong_secret(console_server):
    api = ApiClient(console_server.endpoint)
    status, doc = api.request("POST", "login", {"access_key": console_server.access_key, "secret_key": "nope"})
    assert status == 403 and doc["error"]["code"] == "AccessDenied"
    status, doc = api.request("GET", "buckets")
    assert status == 401 and doc["error"]["code"] == "Unauthenticated"


def test_state_changes_need_the_csrf_token(console_server):
    api = ApiClient(console_server.endpoint)
    api.login(console_server.access_key, console_server.secret_key)
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    status, doc = api.request("POST", "buckets", {"name": name}, csrf=False)
    assert status == 403 and doc["error"]["code"] == "InvalidCsrfToken"
    api.csrf, good = "0" * 40, api.csrf
    status, doc = api.request("POST", "buckets", {"name": name})
    assert status == 403 and doc["error"]["code"] == "InvalidCsrfToken"
    _, listing = api.request("GET", "buckets")
    assert name not in [b["name"] for b in listing["buckets"]]  # nothing was created
    api.csrf = good
    status, _ = api.request("POST", "buckets", {"name": name})
    assert status == 200
    status, _ = api.request("DELETE", "buckets", query=f"bucket={name}", csrf=False)
    assert status == 403


def test_login_needs_a_json_body(console_server):
    import urllib.request

    req = urllib.request.Request(console_server.endpoint + "/_coffer/console/api/login", method="POST",
                                 data=f"access_key={console_server.access_key}".encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("a form post logged in")
    except urllib.error.HTTPError as e:
        assert e.code == 400


def test_logout_revokes_the_session_on_every_worker(console_server):
    api = ApiClient(console_server.endpoint)
    api.login(console_server.access_key, console_server.secret_key)
    assert api.request("GET", "session")[0] == 200
    saved = list(api.jar)
    assert saved and saved[0].has_nonstandard_attr("HttpOnly")
    status, _ = api.request("POST", "logout")
    assert status == 204
    for c in saved:  # replay the old cookie: the token is revoked, not merely forgotten by the browser
        api.jar.set_cookie(c)
    import time

    time.sleep(2.2)  # the token cache of each worker lives two seconds
    for _ in range(4):  # two workers: several requests reach both
        status, doc = api.request("GET", "session")
        assert status == 401, doc


def test_a_forged_or_expired_cookie_is_refused(console_server):
    api = ApiClient(console_server.endpoint)
    api.login(console_server.access_key, console_server.secret_key)
    cookie = next(iter(api.jar))
    token, _, ak = cookie.value.partition("~")
    head, claims, sig = token.split(".")
    import base64
    import json

    doc = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    doc["exp"] = 1  # long expired; the signature no longer matches either
    forged = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    cookie.value = f"{head}.{forged}.{sig}~{ak}"
    api.jar.set_cookie(cookie)
    status, doc = api.request("GET", "session")
    assert status == 401


def test_a_second_user_sees_only_their_own_buckets(console_server):
    admin = ApiClient(console_server.endpoint)
    admin.login(console_server.access_key, console_server.secret_key)
    mine = f"first-{uuid.uuid4().hex[:8]}"
    assert admin.request("POST", "buckets", {"name": mine})[0] == 200
    uid = f"u{uuid.uuid4().hex[:6]}"
    status, user = admin.request("POST", "users", {"id": uid})
    assert status == 200 and user["secret_key"], user
    other = ApiClient(console_server.endpoint)
    other.login(user["access_key"], user["secret_key"])
    _, listing = other.request("GET", "buckets")
    assert mine not in [b["name"] for b in listing["buckets"]]
    for name, q in (("objects", f"bucket={mine}"), ("settings", f"bucket={mine}"), ("versions", f"bucket={mine}")):
        status, doc = other.request("GET", name, query=q)
        assert status == 403 and doc["error"]["code"] == "AccessDenied", (name, doc)
    status, doc = other.request("POST", "folder", query=f"bucket={mine}&key=x/")
    assert status == 403
    status, doc = other.request("GET", "users")
    assert status == 403
    status, doc = other.request("GET", "metrics")
    assert status == 403


def test_metrics_sum_every_worker(console_server):
    import boto3

    api = ApiClient(console_server.endpoint)
    api.login(console_server.access_key, console_server.secret_key)
    before = api.request("GET", "metrics")[1]
    s3 = boto3.client("s3", endpoint_url=console_server.endpoint, aws_access_key_id=console_server.access_key,
                      aws_secret_access_key=console_server.secret_key, region_name="us-east-1")
    for _ in range(40):  # spread over both workers by the kernel; each writes its totals twice a second
        s3.list_buckets()
    import time

    time.sleep(0.6)
    for _ in range(4):
        api.request("GET", "session")  # a request on each worker flushes its file
    after = api.request("GET", "metrics")[1]
    assert after["workers"] == 2, after
    assert after["requests"] - before["requests"] >= 40, (before, after)


def test_console_on_its_own_listener(module_server_factory):
    import urllib.request

    from ports import free_port

    port = free_port()
    srv = module_server_factory(workers=1, extra_args=["--console-address", f"127.0.0.1:{port}"])
    console = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(console + "/", timeout=10) as r:  # / leads to the console page
        assert r.url == console + "/_coffer/console/" and b"app.js" in r.read()
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    api = ApiClient(console)
    api.login(srv.access_key, srv.secret_key)
    assert api.request("POST", "buckets", {"name": "sep"})[0] == 200
    import boto3

    boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                 aws_secret_access_key=srv.secret_key, region_name="us-east-1").put_object(
        Bucket="sep", Key="a.txt", Body=b"hello")
    status, doc = api.request("POST", "share", query="bucket=sep&key=a.txt&expires=60")
    assert status == 200 and doc["url"].startswith(srv.endpoint + "/sep/a.txt?"), doc  # the S3 port
    with urllib.request.urlopen(doc["url"], timeout=10) as r:
        assert r.read() == b"hello"
    status, doc = ApiClient(console).request("GET", "buckets")
    assert status == 401


def test_login_with_an_api_key_and_rate_limited_failures(server_factory):
    """An IBM-style API key logs in; failed logins from one address are limited (429, Retry-After),
    on every worker, and the limit holds even for the right secret until the window passes."""
    import urllib.request

    srv = server_factory(workers=2)
    admin = ApiClient(srv.endpoint)
    admin.login(srv.access_key, srv.secret_key)
    uid = f"ibm{uuid.uuid4().hex[:6]}"
    assert admin.request("POST", "users", {"id": uid})[0] == 200
    status, made = admin.request("POST", "keys", {"user": uid, "type": "apikey"})  # the Users page's "New API key"
    assert status == 200, made
    api_key = made["api_key"]
    user = ApiClient(srv.endpoint)
    status, me = user.request("POST", "login", {"api_key": api_key})
    assert status == 200 and me["user"] == uid and me["access_key"].startswith("APIKEY")
    user.csrf = me["csrf"]
    assert user.request("GET", "buckets")[0] == 200
    bucket = f"k{uuid.uuid4().hex[:8]}"
    assert user.request("POST", "buckets", {"name": bucket})[0] == 200
    # five failures (spread over both workers), then 429 even with the right key
    codes = [ApiClient(srv.endpoint).request("POST", "login", {"api_key": "wrong-" + str(i)})[0] for i in range(5)]
    assert codes == [403] * 5
    req = urllib.request.Request(srv.endpoint + "/_coffer/console/api/login", method="POST",
                                 data=json.dumps({"api_key": api_key}).encode(),
                                 headers={"Content-Type": "application/json"})
    for _ in range(4):  # whichever worker answers
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("a login went through after five failures")
        except urllib.error.HTTPError as e:
            assert e.code == 429
            body = json.loads(e.read())
            assert body["error"]["code"] == "TooManyLoginAttempts"
            assert 1 <= int(e.headers["Retry-After"]) <= 60
