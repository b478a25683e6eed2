"""Support for the web console's tests: headless Chromium (Debian's package) under Selenium, and the
console's JSON API spoken from Python with a cookie jar, as the page speaks it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("COFFER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COFFER_CHROMEDRIVER", "/usr/bin/chromedriver")
CONSOLE = "/_coffer/console/"


def browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return f"Chromium and chromedriver are not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium " \
               "chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


def make_driver(profile: Path, width: int = 1280, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    return driver


class ApiClient:
    """The console's JSON API spoken from Python (urllib, a cookie jar), as the page speaks it."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def request(self, method: str, name: str, body: Any = None, csrf: bool = True,
                query: str = "") -> tuple[int, Any]:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if csrf and method != "GET":
            headers["X-Coffer-CSRF"] = self.csrf
        req = urllib.request.Request(f"{self.endpoint}{CONSOLE}api/{name}{'?' + query if query else ''}",
                                     data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def upload(self, name: str, query: str, data: bytes, content_type: str = "application/octet-stream",
               ) -> tuple[int, Any]:
        """PUT raw bytes (an object or a part), as the page's uploads do."""
        req = urllib.request.Request(f"{self.endpoint}{CONSOLE}api/{name}?{query}", data=data, method="PUT",
                                     headers={"Content-Type": content_type, "X-Coffer-CSRF": self.csrf})
        try:
            with self.opener.open(req, timeout=30) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def login(self, access_key: str, secret_key: str) -> dict:
        status, doc = self.request("POST", "login", {"access_key": access_key, "secret_key": secret_key})
        assert status == 200, doc
        self.csrf = doc["csrf"]
        return doc
