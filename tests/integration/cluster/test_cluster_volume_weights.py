"""A storage node's volume weights (`coffer node serve --volume DIR:WEIGHT`) reach the gateways'
placement: on a node whose volumes weigh 3, 1 and 1, single-fragment objects land on the heavy
volume about 3 times in 5; the admin node list shows each volume's weight."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from cluster_support import CLUSTER_SECRET, NodeProcess, ServerProcess
from helpers import client, data

from coffer.sdk._client import Client
from ports import free_port

OBJECTS = 300


def _admin(gw: ServerProcess, name: str, **query: str) -> dict:
    c = Client(gw.endpoint, gw.access_key, gw.secret_key)
    try:
        return json.loads(c._transport.request("GET", "_coffer", "admin/v1/" + name, query=query or None,
                                               retries=False).data)
    finally:
        c.close()


def test_fragments_follow_the_volume_weights(tmp_path: Path) -> None:
    gw_data = tmp_path / "gateway-data"
    node = NodeProcess("node0", tmp_path / "node0", str(gw_data / "meta" / "cluster.sqlite3"), "z0", volumes=3,
                       weights={0: 3.0})
    node.start()
    gw = ServerProcess(data=gw_data, port=free_port(), extra_args=["--cluster-secret", CLUSTER_SECRET])
    try:
        gw.start()
        nodes = _admin(gw, "nodes")["nodes"]
        weights = sorted(v["weight"] for v in nodes[0]["volumes"])
        assert weights == [1.0, 1.0, 3.0]
        heavy = next(v["uuid"] for v in nodes[0]["volumes"] if v["weight"] == 3.0)
        s3 = client(gw.endpoint, gw.access_key, gw.secret_key)

        def single(request, **kw):
            request.headers["x-coffer-storage-policy"] = "SINGLE"

        s3.meta.events.register("before-sign.s3.CreateBucket", single)
        s3.create_bucket(Bucket="weighted")
        body = data(160 * 1024, seed=3)  # above the inline size (128 KiB): a fragment file on a volume
        per_volume: Counter[str] = Counter()
        for i in range(OBJECTS):
            s3.put_object(Bucket="weighted", Key=f"k{i}", Body=body)
            (seg,) = _admin(gw, "locate", bucket="weighted", key=f"k{i}")["segments"]
            assert seg["policy"] == "SINGLE"
            per_volume.update(f["volume"] for f in seg["fragments"])
        assert sum(per_volume.values()) == OBJECTS and len(per_volume) == 3
        # the heavy volume's share is 3/5; 4.5 binomial standard deviations bound a chance failure under 1e-5
        sd = math.sqrt(OBJECTS * 0.6 * 0.4)
        assert abs(per_volume[heavy] - OBJECTS * 0.6) < 4.5 * sd, per_volume
    finally:
        gw.stop()
        node.stop()
