"""Static websites: Put/Get/DeleteBucketWebsite through boto3 (with S3's validation errors), and the
website endpoint over raw HTTP: index and error documents, dir -> dir/ redirects, RedirectAllRequestsTo,
routing rules, encrypted objects, and the Host-header and --website-address entry points.
"""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import client, s3_error
from website_support import SITE, get

from ports import free_port


def test_put_get_delete_website(s3, bucket):
    with s3_error("NoSuchWebsiteConfiguration", 404):
        s3.get_bucket_website(Bucket=bucket)
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=SITE)
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"} and got["ErrorDocument"] == {"Key": "404.html"}
    assert got["RoutingRules"] == SITE["RoutingRules"]
    s3.delete_bucket_website(Bucket=bucket)
    with s3_error("NoSuchWebsiteConfiguration", 404):
        s3.get_bucket_website(Bucket=bucket)


@pytest.mark.parametrize("cfg", [
    {"ErrorDocument": {"Key": "e.html"}},
    {"IndexDocument": {"Suffix": "a/index.html"}},
    {"IndexDocument": {"Suffix": "index.html"}, "RedirectAllRequestsTo": {"HostName": "x.test"}},
    {"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]},
    {"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [{"Redirect": {"Protocol": "ftp"}}]},
])
def test_website_invalid(s3, bucket, cfg):
    with s3_error("InvalidArgument", 400):
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=cfg)





@pytest.fixture(scope="module")
def site_server(module_server_factory):
    web_port = free_port()
    srv = module_server_factory(workers=1, extra_args=["--website-address", f"127.0.0.1:{web_port}"])
    srv.web_port = web_port
    return srv


@pytest.fixture(scope="module")
def site(site_server):
    c = client(site_server.endpoint, site_server.access_key, site_server.secret_key)
    name = f"site-{uuid.uuid4().hex[:10]}"
    c.create_bucket(Bucket=name)
    c.put_bucket_website(Bucket=name, WebsiteConfiguration=SITE)
    # a website serves what anonymous callers may read: public, except hidden/
    c.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/hidden/*"},
    ]}))
    c.put_object(Bucket=name, Key="hidden/page.html", Body=b"not for the web", ContentType="text/html")
    for key, body in [("index.html", b"<h1>home</h1>"), ("blog/index.html", b"blog home"),
                      ("404.html", b"custom not found"), ("new/page.html", b"new page")]:
        c.put_object(Bucket=name, Key=key, Body=body, ContentType="text/html")
    c.put_object(Bucket=name, Key="moved.html", Body=b"", WebsiteRedirectLocation="/new/page.html")
    c.put_object(Bucket=name, Key="secret.html", Body=b"encrypted at rest", ServerSideEncryption="AES256")
    c.put_object(Bucket=name, Key="ssec.html", Body=b"customer key", SSECustomerAlgorithm="AES256",
                 SSECustomerKey=b"k" * 32)
    return c, name, site_server


def test_website_index_error_and_redirects(site):
    _c, name, srv = site
    host = f"{name}.s3-website.localhost:{srv.port}"
    status, h, body = get(srv.port, host, "/")
    assert (status, body) == (200, b"<h1>home</h1>") and h["content-type"] == "text/html"
    assert get(srv.port, host, "/blog/")[2] == b"blog home"
    status, h, _ = get(srv.port, host, "/blog")
    assert status == 302 and h["location"] == "/blog/"
    status, _, body = get(srv.port, host, "/nope.html")
    assert (status, body) == (404, b"custom not found")
    status, h, _ = get(srv.port, host, "/old/page.html")
    assert status == 301 and h["location"] == f"http://{host}/new/page.html"
    status, h, _ = get(srv.port, host, "/docs/gone")
    assert status == 302 and h["location"] == "https://docs.example.com/missing.html"
    assert get(srv.port, host, "/secret.html")[2] == b"encrypted at rest"
    status, h, _ = get(srv.port, host, "/moved.html")
    assert status == 301 and h["location"] == "/new/page.html"
    assert get(srv.port, host, "/ssec.html")[0] == 403
    status, h, _ = get(srv.port, host, "/index.html", method="HEAD")
    assert status == 200 and h["content-length"] == "13"
    assert get(srv.port, host, "/index.html", method="DELETE")[0] == 405
    status, _, body = get(srv.port, host, "/index.html", headers={"Range": "bytes=4-7"})
    assert (status, body) == (206, b"home")


def test_website_cors(site):
    c, name, srv = site
    c.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://fonts.test"], "AllowedMethods": ["GET"]}]})
    host = f"{name}.s3-website.localhost"
    _, h, _ = get(srv.web_port, host, "/index.html", headers={"Origin": "https://fonts.test"})
    assert h["access-control-allow-origin"] == "https://fonts.test"
    _, h, _ = get(srv.web_port, host, "/index.html", headers={"Origin": "https://other.test"})
    assert "access-control-allow-origin" not in h


def test_object_redirect_location(site):
    c, name, _srv = site
    assert c.head_object(Bucket=name, Key="moved.html")["WebsiteRedirectLocation"] == "/new/page.html"
    with s3_error("InvalidArgument", 400):
        c.put_object(Bucket=name, Key="bad.html", Body=b"", WebsiteRedirectLocation="ftp://x")


def test_website_listener_and_errors(site):
    c, name, srv = site
    # the --website-address listener serves websites only (bucket from the Host header)
    status, _, body = get(srv.web_port, f"{name}.s3-website.localhost", "/")
    assert (status, body) == (200, b"<h1>home</h1>")
    status, _, body = get(srv.web_port, "no-such-bucket-web.s3-website.localhost", "/")
    assert status == 404 and b"NoSuchBucket" in body and b"<html>" in body
    # S3 requests on the website listener are not S3: no ListObjects, no writes
    assert get(srv.web_port, f"{name}.s3-website.localhost", "/index.html", method="PUT")[0] == 405
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    c.create_bucket(Bucket=plain)
    status, _, body = get(srv.port, f"{plain}.s3-website.localhost", "/")
    assert status == 404 and b"NoSuchWebsiteConfiguration" in body


def test_website_serves_only_what_anonymous_callers_may_read(site):
    c, name, srv = site
    host = f"{name}.s3-website.localhost"
    status, _, body = get(srv.web_port, host, "/hidden/page.html")
    assert status == 403 and b"AccessDenied" in body and b"not for the web" not in body
    private = f"priv-{uuid.uuid4().hex[:8]}"  # a website configuration alone does not make a bucket public
    c.create_bucket(Bucket=private)
    c.put_bucket_website(Bucket=private, WebsiteConfiguration=SITE)
    c.put_object(Bucket=private, Key="index.html", Body=b"private home")
    c.put_object(Bucket=private, Key="404.html", Body=b"private error page")
    status, _, body = get(srv.web_port, f"{private}.s3-website.localhost", "/")
    assert status == 403 and b"private home" not in body
    status, _, body = get(srv.web_port, f"{private}.s3-website.localhost", "/missing")
    assert status == 404 and b"private error page" not in body
    c.put_object_acl(Bucket=private, Key="index.html", ACL="public-read")
    assert get(srv.web_port, f"{private}.s3-website.localhost", "/")[2] == b"private home"


def test_redirect_all_requests(site):
    c, _name, srv = site
    name = f"redir-{uuid.uuid4().hex[:8]}"
    c.create_bucket(Bucket=name)
    c.put_bucket_website(Bucket=name, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}})
    status, h, _ = get(srv.web_port, f"{name}.s3-website.localhost", "/a/b.html")
    assert status == 301 and h["location"] == "https://www.example.com/a/b.html"
