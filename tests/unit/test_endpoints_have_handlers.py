"""Every endpoint of every front's routing table has a handler, and no handler serves an endpoint
no table names (a typo in a `@handles` name, or a table entry whose handler was never written)."""

from __future__ import annotations

import inspect
import re

import coffer.server.http.app  # noqa: F401  (imports every handler module: the registries fill)
from coffer.server.http.admin import data as admin_data
from coffer.server.http.admin import front as admin_front
from coffer.server.http.ais.front import AIS_HANDLERS, RESOURCES
from coffer.server.http.batch.front import OPERATIONS as BATCH_OPERATIONS
from coffer.server.http.common.context import HANDLERS
from coffer.server.http.ds3 import handlers as ds3_handlers
from coffer.server.http.oio.handlers import OPERATIONS
from coffer.server.http.s3.router import IAM_TOKEN, TABLE

# Answered by the S3-signed front itself, before authentication (common/signed.py: CORS preflight).
ANSWERED_BY_THE_FRONT = {"PreflightRequest"}
METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"}


# Routed by the S3 router outside its table (POST /identity/token, IBM's IAM path).
OUTSIDE_THE_TABLE = {IAM_TOKEN.name}


def test_every_s3_endpoint_has_a_handler() -> None:
    names = {ep.name for ep in TABLE.values()} | OUTSIDE_THE_TABLE
    missing = sorted(names - set(HANDLERS) - ANSWERED_BY_THE_FRONT)
    assert not missing, f"S3 endpoints without a handler: {missing}"
    for (method, level, _selector), ep in TABLE.items():
        assert method in METHODS and level in ("service", "bucket", "object"), (method, level)
        assert ep.permission, ep.name


def test_every_openio_operation_has_a_handler() -> None:
    missing = sorted(name for name, _perm in OPERATIONS.values() if name not in HANDLERS)
    assert not missing, f"OpenIO operations without a handler: {missing}"
    assert all(perm for _name, perm in OPERATIONS.values())


def test_every_batch_operation_has_a_handler() -> None:
    missing = sorted(ep.name for ep in BATCH_OPERATIONS.values() if ep.name not in HANDLERS)
    assert not missing, f"batch operations without a handler: {missing}"


def test_no_handler_for_an_unknown_endpoint() -> None:
    known = {ep.name for ep in TABLE.values()} | {name for name, _perm in OPERATIONS.values()} | OUTSIDE_THE_TABLE \
        | {ep.name for ep in BATCH_OPERATIONS.values()}
    unknown = sorted(set(HANDLERS) - known)
    assert not unknown, f"handlers registered for endpoints no routing table names: {unknown}"
    for name, fn in HANDLERS.items():
        assert inspect.iscoroutinefunction(fn), name


def test_aistore_routes() -> None:
    assert AIS_HANDLERS, "the AIStore handler modules registered nothing"
    for (method, resource), fn in AIS_HANDLERS.items():
        assert method in METHODS, method
        assert resource in RESOURCES, f"handler for unknown AIStore resource /v1/{resource}"
        assert inspect.iscoroutinefunction(fn), (method, resource)
    served = {resource for _method, resource in AIS_HANDLERS}
    assert served == set(RESOURCES), f"AIStore resources without any handler: {set(RESOURCES) - served}"


def test_ds3_routes() -> None:
    assert ds3_handlers.ROUTES
    for (method, kind, _with_id), fn in ds3_handlers.ROUTES.items():
        assert method in METHODS, method
        assert re.fullmatch(r"[a-z_]+", kind), kind
        assert inspect.iscoroutinefunction(fn), (method, kind)
        assert fn.__module__.startswith("coffer.server.http.ds3."), (method, kind, fn.__module__)


def _documented_resources(doc: str) -> set[str]:
    """The resource names of the `METHOD resource...` lines of an admin module's docstring."""
    return {m.group(1) for m in re.finditer(r"^\s+(?:GET|PUT|POST|DELETE)\s+([a-z][a-z-]*)", doc, re.MULTILINE)}


def test_admin_resources_are_the_documented_ones() -> None:
    documented = _documented_resources(admin_front.__doc__ or "") | _documented_resources(admin_data.__doc__ or "")
    registered = set(admin_front.ADMIN_ROUTES)
    assert registered == documented, (f"registered but undocumented: {sorted(registered - documented)}; "
                                      f"documented but unhandled: {sorted(documented - registered)}")
    for name, fn in admin_front.ADMIN_ROUTES.items():
        assert inspect.iscoroutinefunction(fn), name
