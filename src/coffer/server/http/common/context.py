"""The per-request context handed to every endpoint handler, and the handler registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common.auth import BodyPlan
from coffer.server.http.common.endpoint import Route
from coffer.server.meta.model import Bucket
from coffer.server.service import Principal, Service


@dataclass(slots=True)
class Ctx:
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

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def int_arg(self, name: str, default: int, *, lo: int = 0, hi: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            v = int(raw)
        except ValueError:
            raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                          ArgumentName=name, ArgumentValue=raw) from None
        if v < lo or (hi is not None and v > hi):
            raise S3Error("InvalidArgument", f"Argument {name} must be an integer between {lo} and {hi}",
                          ArgumentName=name, ArgumentValue=raw)
        return v


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return deco
