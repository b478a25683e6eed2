"""growth.py's reading of the server's access log and of what a previous run preloaded."""

from __future__ import annotations

import growth

LOG = """\
Coffer serving S3 on http://127.0.0.1:40527 (data: /tmp/x/data, workers: 2, region: us-east-1, pid: 1)
2026-12-07 10:13:41,071 23057 coffer.access INFO [C7] C7 127.0.0.1 root ListObjects big - 200 0 204299 4.7ms
2026-12-07 10:13:41,099 23057 coffer.access INFO [C8] C8 127.0.0.1 root PutObject big m/1 200 4096 0 12.5ms
2026-12-07 10:13:41,119 23058 coffer.access INFO [C9] C9 127.0.0.1 root HeadObject big m/1 200 0 0 0.2ms
2026-12-07 10:13:41,151 23058 coffer.access INFO [CA] CA 127.0.0.1 - health:GET - - 200 0 6 22.4ms
coffer: stopped
"""


def test_server_times_by_operation_after_the_offset(tmp_path):
    log = tmp_path / "server.log"
    log.write_text(LOG)
    t = growth.server_times(log, 0)
    assert t["list"] == [0.0047] and t["put"] == [0.0125] and t["head"] == [0.0002] and t["get"] == []
    offset = LOG.index("2026-12-07 10:13:41,119")
    later = growth.server_times(log, offset)
    assert later["put"] == [] and later["head"] == [0.0002]
