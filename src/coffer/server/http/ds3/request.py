"""What a DS3 handler gets: the request, who sent it, the decoded path and the query."""

from __future__ import annotations

from aiohttp import web

from coffer.protocol.errors import S3Error
from coffer.server.config import Config
from coffer.server.http.common.auth import BodyPlan
from coffer.server.http.common.context import RequestContext
from coffer.server.service import Principal, Service


class Ds3Request(RequestContext):
    """A DS3 request, authenticated; its argument errors in DS3's words."""

    __slots__ = ("cfg", "path", "plan", "query", "request", "svc", "who")

    def __init__(self, request: web.BaseRequest, who: Principal, plan: BodyPlan, svc: Service, cfg: Config,
                 query: dict[str, str], path: str) -> None:
        self.request = request
        self.who = who
        self.plan = plan
        self.svc = svc
        self.cfg = cfg
        self.query = query
        self.path = path  # decoded, without the leading "/"

    def _not_an_integer(self, name: str, raw: str) -> Exception:
        return S3Error("InvalidArgument", f"{name} must be an integer, not '{raw}'.", status=400)

    def _out_of_range(self, name: str, raw: str, lo: int | None, hi: int | None) -> Exception:
        return S3Error("InvalidArgument", f"{name} must be at least {lo}.", status=400)

    def host_port(self) -> tuple[str, int | None]:
        host = self.request.host or "localhost"
        name, _, port = host.rpartition(":")
        if name and port.isdigit():
            return name, int(port)
        return host, None
