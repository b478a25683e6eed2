"""Fixtures of the console tests: a real server (two workers, so a session made by one worker is
honoured by the other) and a fresh headless Chromium per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import browser_missing, make_driver


@pytest.fixture(scope="module")
def console_server(module_server_factory):
    return module_server_factory(workers=2)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    profile = Path(tempfile.mkdtemp(prefix="coffer-chromium-"))
    driver = make_driver(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


