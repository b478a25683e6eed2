"""The per-request contexts handed to endpoint handlers, and the S3/OpenIO handler registry.

`RequestContext` is the one base every front's context builds on (S3 and OpenIO's `Ctx`, DS3's
`Ds3Request`, AIStore's `AisCtx`, the admin API's `AdminRequest`): the query, `header()`, and the
one integer/boolean argument parser, `int_arg()` / `bool_arg()`. A front keeps its own error wording
by overriding `_not_an_integer` / `_out_of_range` (clients and tests read those messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common.auth import BodyPlan
from coffer.server.http.common.endpoint import Route
from coffer.server.meta.model import Bucket
from coffer.server.service import Principal, Service

_D = TypeVar("_D")  # the default's type: int, or None for "not given"


def parse_int(raw: str | None, name: str, default: _D, *, lo: int | None = None, hi: int | None = None,
              blank_is_default: bool = True, not_an_integer: Callable[[str, str], Exception],
              out_of_range: Callable[[str, str, int | None, int | None], Exception] | None = None) -> int | _D:
    """The one integer parser of the fronts: `raw` (a query argument, header or element value) as an
    int within [lo, hi]; `default` when absent (or blank). The error builders carry each front's wording."""
    if raw is None or (raw == "" and blank_is_default):
        return default
    try:
        v = int(raw)
    except ValueError:
        raise not_an_integer(name, raw) from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        assert out_of_range is not None
        raise out_of_range(name, raw, lo, hi)
    return v


class RequestContext:
    """What every front's request context has: `request` and `query` (first value of each argument)."""

    __slots__ = ()
    request: web.BaseRequest
    query: dict[str, str]
    BLANK_IS_DEFAULT = True  # `?name=` means "not given" (the admin API refuses it instead)

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def int_arg(self, name: str, default: _D, *, lo: int | None = 0, hi: int | None = None) -> int | _D:
        """The integer query argument `name` (`default` when absent), within [lo, hi]."""
        return parse_int(self.query.get(name), name, default, lo=lo, hi=hi, blank_is_default=self.BLANK_IS_DEFAULT,
                         not_an_integer=self._not_an_integer, out_of_range=self._out_of_range)

    def bool_arg(self, name: str) -> bool:
        """A flag argument: 1, true or yes (any case) is set; anything else, or absence, is not."""
        return self.query.get(name, "").lower() in ("1", "true", "yes")

    def _not_an_integer(self, name: str, raw: str) -> Exception:
        return S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                       ArgumentName=name, ArgumentValue=raw)

    def _out_of_range(self, name: str, raw: str, lo: int | None, hi: int | None) -> Exception:
        return S3Error("InvalidArgument", f"Argument {name} must be an integer between {lo} and {hi}",
                       ArgumentName=name, ArgumentValue=raw)


@dataclass(slots=True)
class Ctx(RequestContext):
    """An S3 or OpenIO request, routed and authenticated."""

    request: web.BaseRequest
    route: Route
    who: Principal
    plan: BodyPlan
    svc: Service
    cfg: Config
    query: dict[str, str]
    request_id: str
    bucket_rec: Bucket | None = None  # the addressed bucket's row, when access control read it

    @property
    def bucket(self) -> str:
        assert self.route.bucket is not None
        return self.route.bucket

    @property
    def key(self) -> str:
        assert self.route.key is not None
        return self.route.key


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return deco
