"""Request ids are unique across the pre-forked workers (their random part is drawn after fork)."""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor


def test_request_ids_unique_across_workers(server_factory):
    srv = server_factory(workers=2)

    def one(_: int) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)  # a new connection: either worker
        try:
            conn.request("GET", "/no-such-bucket-here")
            resp = conn.getresponse()
            resp.read()
            return resp.getheader("x-amz-request-id")
        finally:
            conn.close()

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(400)))
    assert all(ids) and len(set(ids)) == len(ids)
    assert len({i[:6] for i in ids}) == 2  # both workers answered, each with its own prefix
