"""/health/data on an idle server: volumes are probed in the background, so a lost disk shows without
any request touching it; the unauthenticated health and metrics endpoints never show volume paths."""

from __future__ import annotations

import time
import urllib.request

from ec_support import health, start


def test_idle_server_notices_a_lost_volume_and_hides_paths(server_factory, tmp_path):
    srv, vols = start(server_factory, tmp_path, n=6)
    assert health(srv)["status"] == "ok"
    with urllib.request.urlopen(srv.endpoint + "/health/metrics", timeout=10) as r:
        metrics = r.read().decode()
    with urllib.request.urlopen(srv.endpoint + "/health/data", timeout=10) as r:
        data = r.read().decode()
    for text in (metrics, data):
        assert str(tmp_path) not in text and "vol0" not in text
    vols[2].rename(vols[2].with_name("vol2-unplugged"))  # the disk goes away; nobody sends a request
    deadline = time.monotonic() + 20
    seen = health(srv)
    while seen["status"] == "ok" and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = health(srv)
    assert seen["status"] == "degraded"
    assert sorted(v["state"] for v in seen["volumes"]).count("offline") == 1
