"""Timestamp formats on the S3 wire: x-amz-date, HTTP dates, and ISO 8601 as S3 writes it in XML.

All functions take/return POSIX timestamps (float seconds, UTC) so callers never juggle timezones.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from datetime import UTC, datetime
from functools import lru_cache

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUM = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)}

_AMZ_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$", re.ASCII)

# RFC 7231 section 7.1.1.1: a recipient must accept all three forms.  Weekday names are not checked
# against the date (senders get them wrong and the date is what matters).
_RFC1123_RE = re.compile(
    r"^[A-Za-z]{3}, (\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|[+-]0000|Z)$", re.ASCII
)
_RFC850_RE = re.compile(r"^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$", re.ASCII)
_ASCTIME_RE = re.compile(r"^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$", re.ASCII)
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)


def amz_date(ts: float | None = None) -> str:
    """``20250101T000000Z`` (the x-amz-date / X-Amz-Date form); now when ``ts`` is None."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if ts is None else ts))


def _timegm(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> float | None:
    # Validate the fields ourselves: calendar.timegm happily normalises 2025-02-31.
    try:
        datetime(year, month, day, hh, mm, min(ss, 59))
    except ValueError:
        return None
    # Allow a leap second (60) as HTTP permits, folded into the next second by timegm.
    return float(calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)))


@lru_cache(maxsize=256)  # clients send the same second many times
def parse_amz_date(s: str) -> float | None:
    """Parse ``YYYYMMDDTHHMMSSZ``; None when malformed."""
    m = _AMZ_DATE_RE.match(s.strip())
    if not m:
        return None
    return _timegm(*(int(g) for g in m.groups()))


def http_date(ts: float | None = None) -> str:
    """RFC 7231 IMF-fixdate: ``Wed, 01 Jan 2025 00:00:00 GMT`` (locale independent)."""
    return _http_date_of_second(math.floor(time.time() if ts is None else ts))  # as gmtime rounds


@lru_cache(maxsize=1024)  # a GET answers its object's Last-Modified: many objects share a second
def _http_date_of_second(second: int) -> str:
    t = time.gmtime(second)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(s: str) -> float | None:
    """Parse an HTTP date in any of the three forms HTTP allows (RFC 1123, RFC 850, asctime).

    Returns None when ``s`` is none of them; conditional-request handling then ignores the header, as
    RFC 7232 requires for invalid dates.
    """
    s = s.strip()
    m = _RFC1123_RE.match(s)
    if m:
        day, mon, year, hh, mi, ss = m.groups()
        month = _MONTH_NUM.get(mon.lower())
        if month is None:
            return None
        return _timegm(int(year), month, int(day), int(hh), int(mi), int(ss))
    m = _RFC850_RE.match(s)
    if m:
        day, mon, yy, hh, mi, ss = m.groups()
        month = _MONTH_NUM.get(mon.lower())
        if month is None:
            return None
        # RFC 7231: a two-digit year more than 50 years in the future is in the past century.
        this_year = time.gmtime().tm_year
        year = (this_year // 100) * 100 + int(yy)
        if year > this_year + 50:
            year -= 100
        return _timegm(year, month, int(day), int(hh), int(mi), int(ss))
    m = _ASCTIME_RE.match(s)
    if m:
        mon, day, hh, mi, ss, year = m.groups()
        month = _MONTH_NUM.get(mon.lower())
        if month is None:
            return None
        return _timegm(int(year), month, int(day), int(hh), int(mi), int(ss))
    return None


def iso8601(ts: float) -> str:
    """``2025-01-01T00:00:00.000Z``: S3's LastModified / Initiated format (milliseconds, UTC)."""
    # Truncate, not round: rounding could move a timestamp into the next second and disagree with
    # the Last-Modified header (which has whole seconds) for the same object.
    # Round to microseconds first so float noise (1.001 * 1000 == 1000.999...) does not lose a ms.
    secs, ms = divmod(round(ts * 1_000_000) // 1000, 1000)
    # Listings format thousands of timestamps from a few seconds: the formatted seconds and the
    # millisecond suffixes are looked up, not rebuilt (strftime was a tenth of a 1000-key page).
    head = _SECONDS.get(secs)
    if head is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        head = _SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return head + _MS_SUFFIX[ms]


_SECONDS: dict[int, str] = {}
_MS_SUFFIX = tuple(f".{i:03d}Z" for i in range(1000))


def parse_iso8601(s: str) -> float | None:
    """Parse the ISO 8601 forms S3 clients send (e.g. RetainUntilDate, lifecycle Date); None if bad."""
    m = _ISO_RE.match(s.strip())
    if not m:
        return None
    year, month, day, hh, mi, ss, frac, tz = m.groups()
    base = _timegm(int(year), int(month), int(day), int(hh), int(mi), int(ss))
    if base is None:
        return None
    if frac:
        base += int(frac) / (10 ** len(frac))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        base -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return base


def to_datetime(ts: float) -> datetime:
    """A timezone-aware UTC datetime for ``ts``."""
    return datetime.fromtimestamp(ts, tz=UTC)
