"""Request counters of this worker process: requests, errors, bytes in and out (for the console's charts).

The front calls :func:`count` once per finished request; :func:`snapshot` returns the running totals
with a monotonic timestamp, and a reader turns two snapshots into rates. Totals are per worker (each
process counts what it served); a page polling often enough sees every worker over time, and the
figures are cumulative so no sample is lost between polls of the same worker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


TOTALS = Counters()


def count(status: int, bytes_in: int | None, bytes_out: int | None) -> None:
    t = TOTALS
    t.requests += 1
    if status >= 500:
        t.errors_5xx += 1
    elif status >= 400:
        t.errors_4xx += 1
    t.bytes_in += bytes_in or 0
    t.bytes_out += bytes_out or 0


def snapshot() -> dict[str, float | int]:
    t = TOTALS
    return {"pid": os.getpid(), "time": time.monotonic(), "requests": t.requests, "errors_4xx": t.errors_4xx,
            "errors_5xx": t.errors_5xx, "bytes_in": t.bytes_in, "bytes_out": t.bytes_out}
