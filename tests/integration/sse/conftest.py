"""Fixtures of the SSE suites: one server per test module and its boto3 client."""

from __future__ import annotations

import pytest
from helpers import client


@pytest.fixture(scope="module")
def srv(module_server_factory):
    return module_server_factory(workers=1)


@pytest.fixture(scope="module")
def c(srv):
    return client(srv.endpoint, srv.access_key, srv.secret_key)
