"""Timestamp formats against the stdlib's own implementations and the RFC examples."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.protocol.timeutil import (
    amz_date,
    http_date,
    iso8601,
    parse_amz_date,
    parse_http_date,
    parse_iso8601,
    to_datetime,
)

# 1970 .. 9999: the range every format here can represent.
timestamps = st.integers(min_value=0, max_value=253402300799)


def test_known_values() -> None:
    ts = 1735689600  # 2025-01-01T00:00:00Z
    assert amz_date(ts) == "20250101T000000Z"
    assert http_date(ts) == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert iso8601(ts) == "2025-01-01T00:00:00.000Z"
    assert iso8601(ts + 1.5) == "2025-01-01T00:00:01.500Z"
    assert iso8601(1.001) == "1970-01-01T00:00:01.001Z"  # no float truncation artefacts
    assert iso8601(ts + 0.9999) == "2025-01-01T00:00:00.999Z"  # truncated, never rounded up


@settings(max_examples=200, deadline=None)
@given(timestamps)
def test_round_trips(ts: int) -> None:
    assert parse_amz_date(amz_date(ts)) == ts
    assert parse_http_date(http_date(ts)) == ts
    assert http_date(ts) == email.utils.formatdate(ts, usegmt=True)
    assert parse_iso8601(iso8601(ts)) == ts
    assert iso8601(ts) == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert to_datetime(ts).timestamp() == ts


def test_the_three_http_date_forms() -> None:
    # RFC 7231 section 7.1.1.1 examples, all the same instant.
    for form in (
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ):
        assert parse_http_date(form) == 784111777, form


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        "Sun, 31 Feb 2025 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "1735689600",
        "Sun, ٠٦ Nov 1994 08:49:37 GMT",
    ],
)
def test_invalid_http_dates_are_none(bad: str) -> None:
    assert parse_http_date(bad) is None


@pytest.mark.parametrize("bad", ["", "20250101", "20250101T000000", "20251301T000000Z", "2025010１T000000Z"])
def test_invalid_amz_dates_are_none(bad: str) -> None:
    assert parse_amz_date(bad) is None


def test_iso8601_parsing_variants() -> None:
    assert parse_iso8601("2025-01-01T00:00:00Z") == 1735689600
    assert parse_iso8601("2025-01-01T01:00:00+01:00") == 1735689600
    assert parse_iso8601("2025-01-01T00:00:00.250Z") == 1735689600.25
    assert parse_iso8601("2025-01-01") is None
    assert parse_iso8601("2025-02-30T00:00:00Z") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parsers_never_raise(s: str) -> None:
    for parser in (parse_http_date, parse_amz_date, parse_iso8601):
        result = parser(s)
        assert result is None or isinstance(result, float)


@given(st.floats(min_value=-2e9, max_value=253402300799, allow_nan=False))
def test_http_date_is_the_standard_format_of_its_second(ts):
    # cached per whole second: the standard library's text for that second (time.gmtime floors, as here)
    assert http_date(ts) == email.utils.formatdate(math.floor(ts), usegmt=True)
