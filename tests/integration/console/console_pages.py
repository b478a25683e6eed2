"""What the console's browser tests share: waiting, finding, logging in, going to a page, toasts."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from browser_support import CONSOLE


def wait(driver: Any, cond, timeout: float = 30.0) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                             ).until(lambda d: cond(d))
    except Exception:
        toast = driver.execute_script("return document.getElementById('toast')?.textContent")
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"page: {driver.current_url}; toast: {toast!r}; browser log: {logs}") from None


def css(driver: Any, sel: str, timeout: float = 30.0) -> Any:
    from selenium.webdriver.common.by import By

    return wait(driver, lambda d: (d.find_elements(By.CSS_SELECTOR, sel) or [None])[0], timeout)


def login(driver: Any, server: Any, access_key: str | None = None, secret_key: str | None = None) -> None:
    driver.get(server.endpoint + "/")  # a browser asking for / lands on the console
    assert driver.current_url.startswith(server.endpoint + CONSOLE)
    css(driver, "#ak").send_keys(access_key or server.access_key)
    css(driver, "#sk").send_keys(secret_key or server.secret_key)
    css(driver, "#login-button").click()
    css(driver, "#buckets")


def go(driver: Any, server: Any, hash_: str, ready: str) -> Any:
    driver.get(server.endpoint + CONSOLE + hash_)
    return css(driver, ready)


def s3_client(server: Any) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key, region_name="us-east-1",
                        config=BotoConfig(retries={"max_attempts": 1}))


def create_bucket_ui(driver: Any, name: str, lock: bool = False) -> None:
    css(driver, "#new-bucket").send_keys(name)
    if lock:
        css(driver, "#new-lock").click()
    css(driver, "#create-bucket button").click()
    wait(driver, lambda d: name in d.find_element("css selector", "#buckets").text)


def toast_text(driver: Any, needle: str) -> str:
    """The notice once it says `needle` (an earlier notice may still be showing)."""
    return wait(driver, lambda d: needle in (t := d.find_element("css selector", "#toast").text) and t)


def same_origin_only(driver: Any, server: Any) -> None:
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    urls.append(driver.current_url)
    assert urls and all(u.startswith(server.endpoint + "/") for u in urls), urls
    bad = [e for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert not bad, bad


def save(d: Any, form: str, needle: str) -> str:
    """Submit a settings form and wait for its own notice (an earlier one is cleared first)."""
    d.execute_script("const t = document.getElementById('toast'); t.textContent = ''; t.hidden = true;")
    css(d, f"#{form}-save").click()
    return toast_text(d, needle)
