"""parse_date and split_dated_name: every date shape real blogs use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.dates import parse_date, split_dated_name

TOKYO = ZoneInfo("Asia/Tokyo")
UTC = UTC
JST = timezone(timedelta(hours=9))


def test_jekyll_seed_shape_is_utc_aware():
    dt = parse_date("2025-11-16 20:35:04 +0000", TOKYO)
    assert dt.isoformat() == "2025-11-16T20:35:04+00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-16T20:35:04Z", datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)),
        ("2025-11-16T20:35:04+09:00", datetime(2025, 11, 16, 20, 35, 4, tzinfo=JST)),
        ("2025-11-16T20:35:04+0900", datetime(2025, 11, 16, 20, 35, 4, tzinfo=JST)),
        ("2025-11-16 20:35:04 +0900", datetime(2025, 11, 16, 20, 35, 4, tzinfo=JST)),
        ("2025-11-16T20:35:04.250Z", datetime(2025, 11, 16, 20, 35, 4, 250000, tzinfo=UTC)),
        ("2025-11-16T20:35Z", datetime(2025, 11, 16, 20, 35, tzinfo=UTC)),
        (
            "2025-11-16 20:35:04 -0500",
            datetime(2025, 11, 16, 20, 35, 4, tzinfo=timezone(-timedelta(hours=5))),
        ),
        ("Sun, 16 Nov 2025 20:35:04 +0000", datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)),
        ("16 Nov 2025 20:35:04 +0900", datetime(2025, 11, 16, 20, 35, 4, tzinfo=JST)),
    ],
)
def test_aware_string_formats_keep_their_own_offset(text, expected):
    dt = parse_date(text, TOKYO)
    assert dt == expected
    assert dt.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-16 20:35:04", datetime(2025, 11, 16, 20, 35, 4)),
        ("2025-11-16T20:35:04", datetime(2025, 11, 16, 20, 35, 4)),
        ("2025-11-16 20:35", datetime(2025, 11, 16, 20, 35)),
        ("2025-11-16", datetime(2025, 11, 16)),
        ("  2025-11-16  ", datetime(2025, 11, 16)),
    ],
)
def test_naive_strings_take_the_configured_time_zone(text, expected):
    dt = parse_date(text, TOKYO)
    assert dt == expected.replace(tzinfo=TOKYO)
    assert dt.utcoffset() == timedelta(hours=9)


def test_naive_datetime_gets_config_tz_and_aware_is_kept():
    assert parse_date(datetime(2025, 1, 2, 3, 4), TOKYO) == datetime(2025, 1, 2, 3, 4, tzinfo=TOKYO)
    aware = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    assert parse_date(aware, TOKYO).utcoffset() == timedelta(0)


def test_date_becomes_midnight_in_config_tz():
    assert parse_date(date(2025, 11, 16), TOKYO) == datetime(2025, 11, 16, tzinfo=TOKYO)


def test_rfc2822_minus_zero_offset_means_unknown_zone():
    dt = parse_date("Sun, 16 Nov 2025 20:35:04 -0000", TOKYO)
    assert dt.utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-13-45", "unrecognised date '2025-13-45'"),
        ("yesterday", "unrecognised date 'yesterday'"),
        ("2025-11-16 25:00", "unrecognised date '2025-11-16 25:00'"),
        ("2025-11-16T10:00+24:00", "unrecognised date '2025-11-16T10:00+24:00'"),
        ("1 2 3", "unrecognised date '1 2 3'"),
        ("", "date is empty"),
        (None, "date is empty"),
        (20251116, "date must be a date, not a number"),
        (1.5, "date must be a date, not a number"),
        (True, "date must be a date, not true/false"),
        (["2025-11-16"], "date must be a date, not a list"),
        ({"a": 1}, "date must be a date, not a mapping"),
    ],
)
def test_bad_values_raise_value_error_with_human_reason(value, reason):
    with pytest.raises(ValueError) as info:
        parse_date(value, TOKYO)
    assert str(info.value) == reason


def test_absurd_years_are_rejected():
    for text in ("0001-01-01", "0999-12-31", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(ValueError, match="out of range"):
            parse_date(text, TOKYO)


@given(st.text(max_size=80))
@settings(deadline=None)
def test_parse_date_arbitrary_strings_only_raise_value_error(text):
    try:
        dt = parse_date(text, TOKYO)
    except ValueError as exc:
        assert str(exc)
    else:
        assert dt.tzinfo is not None
        dt.astimezone(UTC)


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.datetimes(timezones=st.none() | st.timezones()),
        st.dates(),
        st.times(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.binary(max_size=10),
        st.from_regex(
            r"\d{4}-\d{1,2}-\d{1,2}( \d{1,2}:\d{2}(:\d{2})?( [+-]\d{4})?)?", fullmatch=True
        ),
    )
)
@settings(deadline=None)
def test_parse_date_arbitrary_objects_only_raise_value_error(value):
    try:
        dt = parse_date(value, TOKYO)
    except ValueError:
        pass
    else:
        assert dt.tzinfo is not None and dt.utcoffset() is not None


def test_split_dated_name():
    assert split_dated_name("2025-11-16-my-post") == (date(2025, 11, 16), "my-post")
    assert split_dated_name("2025-1-6-short") == (date(2025, 1, 6), "short")
    assert split_dated_name("2025-11-16-日本語の記事") == (date(2025, 11, 16), "日本語の記事")


def test_split_dated_name_without_valid_date_returns_stem():
    assert split_dated_name("about") == (None, "about")
    assert split_dated_name("2025-13-45-x") == (None, "2025-13-45-x")
    assert split_dated_name("25-11-16-x") == (None, "25-11-16-x")


def test_split_dated_name_bare_date_has_empty_slug():
    assert split_dated_name("2025-11-16") == (date(2025, 11, 16), "")
