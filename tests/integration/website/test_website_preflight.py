"""CORS preflight (OPTIONS) on the website endpoint: the bucket's CORS rules decide, on the
--website-address listener and on website Host names of the main listener."""

from __future__ import annotations

import uuid

import pytest
from helpers import client
from website_support import SITE, get

from ports import free_port


@pytest.fixture(scope="module")
def web(module_server_factory):
    port = free_port()
    srv = module_server_factory(workers=1, extra_args=["--website-address", f"127.0.0.1:{port}"])
    c = client(srv.endpoint, srv.access_key, srv.secret_key)
    name = f"pf-{uuid.uuid4().hex[:10]}"
    c.create_bucket(Bucket=name)
    c.put_bucket_website(Bucket=name, WebsiteConfiguration=SITE)
    return srv, port, c, name


def _preflight(port, host, origin, method="GET", headers=""):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return get(port, host, "/index.html", method="OPTIONS", headers=h)


def test_website_preflight(web):
    srv, port, c, name = web
    host = f"{name}.s3-website.localhost"
    status, h, _ = _preflight(port, host, "https://fonts.test")
    assert status == 403 and "access-control-allow-origin" not in h  # no CORS rules yet
    c.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://fonts.test"], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["x-a*"],
         "MaxAgeSeconds": 600}]})
    for p in (port, srv.port):  # the website listener, and a website Host on the S3 listener
        status, h, _ = _preflight(p, host, "https://fonts.test", headers="X-Amz-Date")
        assert status == 200, h
        assert h["access-control-allow-origin"] == "https://fonts.test"
        assert h["access-control-allow-methods"] == "GET, HEAD" and h["access-control-max-age"] == "600"
        assert h["access-control-allow-headers"] == "x-amz-date"
        for bad in (("https://evil.test", "GET", ""), ("https://fonts.test", "PUT", ""),
                    ("https://fonts.test", "GET", "Authorization")):
            status, h, _ = _preflight(p, host, *bad)
            assert status == 403 and "access-control-allow-origin" not in h
