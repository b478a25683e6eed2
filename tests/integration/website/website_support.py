"""What the website tests share: a website configuration and a raw HTTP GET with a Host header."""

from __future__ import annotations

import http.client

SITE = {
    "IndexDocument": {"Suffix": "index.html"},
    "ErrorDocument": {"Key": "404.html"},
    "RoutingRules": [
        {"Condition": {"KeyPrefixEquals": "old/"}, "Redirect": {"ReplaceKeyPrefixWith": "new/"}},
        {"Condition": {"KeyPrefixEquals": "docs/", "HttpErrorCodeReturnedEquals": "404"},
         "Redirect": {"HostName": "docs.example.com", "Protocol": "https", "HttpRedirectCode": "302",
                      "ReplaceKeyWith": "missing.html"}},
    ],
}


def get(port: int, host: str, path: str, method: str = "GET", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()
