"""Accessibility of the console, checked in a real browser on every page: names of controls,
buttons and links, unique ids, WCAG AA contrast of the text actually drawn and of the CSS palette,
a visible focus ring on every element reached with the Tab key; and a phone-width layout (375 px)
that does not scroll sideways."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from browser_support import make_driver
from console_pages import css, go, login, s3_client
from ds3_wire import Ds3WireClient

pytestmark = pytest.mark.slow

AUDIT = (Path(__file__).parent / "a11y_audit.js").read_text()
PALETTE = (Path(__file__).parent / "a11y_palette.js").read_text()


def audit(d: Any) -> list[str]:
    return d.execute_script(AUDIT)


def focus_rings(d: Any, presses: int = 40) -> list[str]:
    """Tab through the page: every element that takes focus must draw a visible outline."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
    d.find_element("css selector", "body").click()
    bad = []
    for _ in range(presses):
        ActionChains(d).send_keys(Keys.TAB).perform()
        el = d.execute_script("""
            const e = document.activeElement; if (!e || e === document.body) return null;
            const s = getComputedStyle(e);
            return {name: e.tagName + (e.id ? '#' + e.id : ''), style: s.outlineStyle,
                    width: parseFloat(s.outlineWidth), shadow: s.boxShadow};""")
        if el is None:
            continue
        if (el["style"] == "none" or el["width"] < 2) and el["shadow"] == "none":
            bad.append(el["name"])
    return sorted(set(bad))


def palette_contrast(d: Any) -> dict[str, float]:
    """Contrast ratios of the stylesheet's colour pairs, read from its custom properties."""
    return d.execute_script(PALETTE)


@pytest.fixture(scope="module")
def pages(console_server) -> list[str]:
    """A bucket with an object, versions, a bulk job: something on every page."""
    srv = console_server
    s3 = s3_client(srv)
    bucket = f"a11y-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"hello again")
    s3.put_object(Bucket=bucket, Key="docs/scan.bin", Body=os.urandom(300_000), ChecksumAlgorithm="SHA256")
    ds3 = Ds3WireClient(srv.endpoint, srv.access_key, srv.secret_key)
    job = ds3.put_bulk_job(bucket, [("bulk.bin", 10)])["JobId"]
    ds3.put_object(bucket, "bulk.bin", 10, io.BytesIO(b"0123456789"), job=job, offset=0)
    return ["#/buckets", f"#/browse?bucket={bucket}&prefix=docs/", f"#/object?bucket={bucket}&key=docs/readme.txt",
            f"#/object?bucket={bucket}&key=docs/scan.bin",
            f"#/versions?bucket={bucket}&prefix=docs/readme.txt&exact=1", f"#/settings?bucket={bucket}",
            "#/admin", "#/quota?user=root", "#/kms", "#/tokens", "#/jobs", f"#/job?id={job}", "#/health"]


def test_every_page_passes_the_audit(browser, console_server, pages):
    d, srv = browser, console_server
    d.get(srv.endpoint + "/_coffer/console/")
    css(d, "#login-form")
    assert audit(d) == [], "login page"
    # the audit sees what it is meant to: an unnamed control, a nameless button, pale text
    d.execute_script("""const x = document.createElement('div'); x.id = 'probe';
        x.innerHTML = '<input><button type=button></button><p>pale</p>';
        x.querySelector('p').style.color = '#bbb';  // through the CSSOM: the page's CSP forbids style attributes
        document.getElementById('main').append(x);""")
    caught = audit(d)
    assert len(caught) == 3 and "control without a label: input" in caught and any("contrast" in p for p in caught)
    d.execute_script("document.getElementById('probe').remove()")
    assert focus_rings(d, 8) == []
    login(d, srv)
    found = {}
    for hash_ in pages:
        go(d, srv, hash_, "main[data-view]")
        css(d, f"main[data-view='{hash_.split('?')[0][1:]}']")
        problems = audit(d)
        rings = focus_rings(d)
        if problems or rings:
            found[hash_] = problems + [f"no visible focus on {n}" for n in rings]
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
    # text needs 4.5:1 (WCAG AA), a focus ring 3:1 against what surrounds it (non-text contrast)
    low = {k: round(v, 2) for k, v in palette_contrast(d).items() if v < (3 if k.startswith("focus") else 4.5)}
    assert low == {}, low


def test_narrow_screen(console_server, pages, tmp_path: Path):
    """At 375 px (a phone) no page scrolls sideways; the screenshot goes to docs/console/ on request."""
    from browser_support import browser_missing

    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    d = make_driver(tmp_path / "profile", width=375, height=812)
    try:
        # a desktop window has a minimum width: emulate the phone's viewport instead
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
        srv = console_server
        login(d, srv)
        assert d.execute_script("return window.innerWidth") == 375
        wide = {}
        for hash_ in pages:
            go(d, srv, hash_, "main[data-view]")
            css(d, f"main[data-view='{hash_.split('?')[0][1:]}']")
            overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                culprits = d.execute_script("""return [...document.querySelectorAll('main *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);""")
                wide[hash_] = (overflow, culprits)
        assert wide == {}
        shots = os.environ.get("COFFER_CONSOLE_SHOTS")
        if shots:
            go(d, srv, pages[1], "#objects")
            d.save_screenshot(str(Path(shots) / "narrow.png"))
            go(d, srv, pages[5], "#lc-rules-form")
            css(d, "#lc-rules-add").click()
            d.execute_script("document.getElementById('lc-rules-form').scrollIntoView()")
            d.save_screenshot(str(Path(shots) / "narrow-settings.png"))
    finally:
        d.quit()
