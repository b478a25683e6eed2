"""Request counters: requests, errors, bytes in and out (for the console's live charts).

The front calls :func:`count` once per finished request. Each worker process counts what it served;
with :func:`share` every worker also writes its totals (at most twice a second, write-then-rename)
to ``<dir>/<pid>.json``, and :func:`snapshot` sums the files of live processes, so a reader sees the
whole server whichever worker answers it. Totals are cumulative; a reader turns two snapshots into
rates (a restarted worker's totals start again at zero: a reader clips negative rates).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WRITE_EVERY = 0.5


@dataclass(slots=True)
class Counters:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


TOTALS = Counters()
_shared: Path | None = None
_written = 0.0


def share(directory: Path) -> None:
    global _shared
    directory.mkdir(parents=True, exist_ok=True)
    _shared = directory


def _write(now: float) -> None:
    global _written
    _written = now
    if _shared is None:
        return
    path = _shared / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(asdict(TOTALS)))
        os.replace(tmp, path)
    except OSError:
        pass  # counters are best effort: a full disk must not fail a request


def count(status: int, bytes_in: int | None, bytes_out: int | None) -> None:
    t = TOTALS
    t.requests += 1
    if status >= 500:
        t.errors_5xx += 1
    elif status >= 400:
        t.errors_4xx += 1
    t.bytes_in += bytes_in or 0
    t.bytes_out += bytes_out or 0
    now = time.monotonic()
    if _shared is not None and now - _written >= WRITE_EVERY:
        _write(now)


def snapshot() -> dict[str, float | int]:
    """Totals of this worker, or of every live worker when shared; ``time`` is wall-clock seconds."""
    total = asdict(TOTALS)
    workers = 1
    if _shared is not None:
        _write(time.monotonic())
        me = f"{os.getpid()}.json"
        for p in _shared.glob("*.json"):
            if p.name == me:
                continue
            try:
                os.kill(int(p.stem), 0)  # a worker that is gone no longer counts (nor is its file kept)
            except ProcessLookupError:
                p.unlink(missing_ok=True)
                continue
            except (ValueError, OSError):
                pass
            try:
                other = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            workers += 1
            for k in total:
                total[k] += int(other.get(k, 0))
    return {"pid": 0 if _shared is not None else os.getpid(), "time": time.time(), "workers": workers, **total}
