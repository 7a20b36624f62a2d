"""parse_date reads what Jekyll (Ruby's Time.parse) reads, and still refuses what is no date.

The expected values were taken from Ruby 3.1's ``Time.parse`` with ``TZ`` set to the site's
zone (Jekyll sets it from ``timezone:``); the refusals at the end are where feedsmith is
stricter on purpose (Ruby fills a missing year or day from the clock, rolls Feb 30 into March).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.dates import parse_date
from feedsmith.core.ruby_time import read_fields, zone_offset

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")


def iso(text: str, tz=UTC) -> str:
    return parse_date(text, tz).isoformat()


def test_jekylls_own_post_with_a_repeated_year_is_read_like_ruby():
    # docs/_posts/2023-01-29-jekyll-4-3-2-released.markdown: Ruby's time pattern takes no zone
    # after "2023", so the -0800 is never seen and the time is the site's (UTC here).
    assert iso("2023-01-29 18:30:22 2023 -0800") == "2023-01-29T18:30:22+00:00"
    assert iso("2023-01-29 18:30:22 2023 -0800", TOKYO) == "2023-01-29T18:30:22+09:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jan 1 2016 10:00", "2016-01-01T10:00:00+00:00"),
        ("January 1, 2016", "2016-01-01T00:00:00+00:00"),
        ("January 1st, 2016", "2016-01-01T00:00:00+00:00"),
        ("1 January 2016", "2016-01-01T00:00:00+00:00"),
        ("1st January 2016", "2016-01-01T00:00:00+00:00"),
        ("Friday, 1 January 2016", "2016-01-01T00:00:00+00:00"),
        ("Tuesday 2016-01-05", "2016-01-05T00:00:00+00:00"),
        ("2016-01-05 Tuesday", "2016-01-05T00:00:00+00:00"),
        ("Mon Jan  4 10:00:00 PST 2016", "2016-01-04T10:00:00-08:00"),
        ("Sept 3 2016", "2016-09-03T00:00:00+00:00"),
        ("3 Sept. 2016", "2016-09-03T00:00:00+00:00"),
        ("Dec 25, 2016 at 10:00", "2016-12-25T10:00:00+00:00"),
        ("2016/1/1 10:00 am", "2016-01-01T10:00:00+00:00"),
        ("2016/1/1 10:00 pm", "2016-01-01T22:00:00+00:00"),
        ("2016/1/1 12:00 am", "2016-01-01T00:00:00+00:00"),
        ("2016-01-01 12:00 a.m.", "2016-01-01T00:00:00+00:00"),
        ("2016-01-01 10am", "2016-01-01T10:00:00+00:00"),
        ("2016-01-01 10h30", "2016-01-01T10:30:00+00:00"),
        ("2016-01-01 at 10:00", "2016-01-01T10:00:00+00:00"),
        ("10:00 2016-01-01", "2016-01-01T10:00:00+00:00"),
        ("2016-01-01 10", "2016-01-01T10:00:00+00:00"),
        ("2016-01-01T10:00:00.000-08:00", "2016-01-01T10:00:00-08:00"),
        ("2016-01-04 10:00:00.123456789", "2016-01-04T10:00:00.123456+00:00"),
        ("2016-01-01 10:30:00,5", "2016-01-01T10:30:00.500000+00:00"),
        ("2016.01.01", "2016-01-01T00:00:00+00:00"),
        ("2016.1.1 10:00", "2016-01-01T10:00:00+00:00"),
        ("25.12.2016", "2016-12-25T00:00:00+00:00"),
        ("25/12/2016", "2016-12-25T00:00:00+00:00"),
        ("1/2/2016", "2016-02-01T00:00:00+00:00"),  # Ruby reads d/m/y, never m/d/y
        ("2016-1-1", "2016-01-01T00:00:00+00:00"),
        ("16-01-01", "2016-01-01T00:00:00+00:00"),
        ("Jan 1 '16", "2016-01-01T00:00:00+00:00"),
        ("01-Jan-2016", "2016-01-01T00:00:00+00:00"),
        ("Jan-01-2016", "2016-01-01T00:00:00+00:00"),
        ("2016-Jan-01", "2016-01-01T00:00:00+00:00"),
        ("20160101", "2016-01-01T00:00:00+00:00"),
        ("20160101T100000", "2016-01-01T10:00:00+00:00"),
        ("2016-01-01 draft", "2016-01-01T00:00:00+00:00"),
        ("2016-01-01 10:00:00 -0800 (PST)", "2016-01-01T10:00:00-08:00"),
        ("2016-01-01 10:00:00 -0800 2016", "2016-01-01T10:00:00-08:00"),
    ],
)
def test_shapes_ruby_reads_give_rubys_time(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize(
    ("zone", "offset"),
    [
        ("PST", "-08:00"),
        ("PDT", "-07:00"),
        ("pst", "-08:00"),
        ("EST", "-05:00"),
        ("EDT", "-04:00"),
        ("CST", "-06:00"),
        ("CDT", "-05:00"),
        ("MST", "-07:00"),
        ("MDT", "-06:00"),
        ("UTC", "+00:00"),
        ("GMT", "+00:00"),
        ("UT", "+00:00"),
        ("Z", "+00:00"),
        ("+09", "+09:00"),
        ("-08", "-08:00"),
        ("+0530", "+05:30"),
        ("+05:45", "+05:45"),
        ("A", "+01:00"),  # RFC 822's military letters, as Ruby's table has them
        ("Y", "-12:00"),
    ],
)
def test_zones_rubys_time_knows_give_their_offset(zone, offset):
    assert iso(f"2016-01-01 10:00:00 {zone}", TOKYO) == f"2016-01-01T10:00:00{offset}"


@pytest.mark.parametrize(
    "zone", ["CEST", "BST", "IST", "JST", "+9", "GMT+2", "UTC+09:00", "Pacific Standard Time"]
)
def test_zones_ruby_does_not_know_mean_the_sites_zone(zone):
    # Time.zone_offset knows only the RFC 822 names and numeric offsets; anything else is the
    # local zone, which Jekyll sets to the site's time zone.
    assert iso(f"2016-01-01 10:00:00 {zone}", LA) == "2016-01-01T10:00:00-08:00"


def test_the_sites_own_zone_abbreviations_are_known_in_winter_and_summer():
    assert iso("2016-01-01 10:00:00 CET", BERLIN) == "2016-01-01T10:00:00+01:00"
    # Ruby looks at January and July of the post's year, so CEST means +02:00 even in January.
    assert iso("2016-01-01 10:00:00 CEST", BERLIN) == "2016-01-01T10:00:00+02:00"
    assert iso("2016-01-01 10:00:00 JST", TOKYO) == "2016-01-01T10:00:00+09:00"
    assert iso("2016-01-01 10:00:00 JST", UTC) == "2016-01-01T10:00:00+00:00"


@pytest.mark.parametrize(
    "text",
    [
        "Dec 9, 2002 4:58 a.m. -0000",
        "2002-12-09T04:58:00-00:00",
        "2002-12-09 04:58:00 -0000",
        "20021209T045800-0000",
    ],
)
def test_minus_zero_is_an_unknown_zone_in_every_shape(text):
    # Ruby makes -0000 UTC; RFC 2822 and RFC 3339 say "offset unknown": the site's zone.
    assert iso(text, BERLIN).endswith("+01:00")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10:00", "date '10:00' is a time of day with no date"),
        ("10:00 am PST", "date '10:00 am PST' is a time of day with no date"),
        ("Jan 1", "date 'Jan 1' has no year"),
        ("January 2016", "date 'January 2016' has no day"),
        ("2016-02-30", "unrecognised date '2016-02-30'"),
        ("2016-01-01 23:59:60", "unrecognised date '2016-01-01 23:59:60'"),
        ("12/25/2016", "unrecognised date '12/25/2016'"),
        ("2016-01-01 10:00 +2400", "unrecognised date '2016-01-01 10:00 +2400'"),
        ("-2016-01-01", "date '-2016-01-01' is out of range (years 1000–9999)"),
        ("1 Jan 2016 BC", "date '1 Jan 2016 BC' is out of range (years 1000–9999)"),
        ("tomorrow", "unrecognised date 'tomorrow'"),
        ("Monday", "unrecognised date 'Monday'"),
        ("TBD", "unrecognised date 'TBD'"),
        ("v1.2.3", "unrecognised date 'v1.2.3'"),  # Ruby: 2001-02-03
        ("1/2/3", "unrecognised date '1/2/3'"),
        ("2016年1月1日", "unrecognised date '2016年1月1日'"),
    ],
)
def test_values_with_no_whole_date_are_still_refused(value, reason):
    with pytest.raises(ValueError) as info:
        parse_date(value, TOKYO)
    assert str(info.value) == reason


def test_read_fields_leaves_missing_parts_none_instead_of_the_clock():
    fields = read_fields("Jan 1 10:00")
    assert (fields.year, fields.month, fields.day, fields.hour) == (None, 1, 1, 10)


def test_zone_offset_unknown_name_is_none():
    assert zone_offset("CEST", 2016, UTC) is None
    assert zone_offset("-08:00", 2016, UTC) == -timedelta(hours=8)


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
SPELLINGS = [
    "%Y-%m-%d %H:%M:%S %z",  # Jekyll's own spelling
    "%a, %d %b %Y %H:%M:%S %z",
    "%A, %d %B %Y %H:%M:%S %z",
    "%b %d, %Y %H:%M:%S %z",
    "%d %B %Y at %H:%M:%S %z",
    "%Y/%m/%d %H:%M:%S %z",
    "%Y.%m.%d %H:%M:%S %z",
    "%Y%m%dT%H%M%S %z",
    "%Y-%m-%d %H:%M:%S %z %Y",
    "%Y-%m-%d %H:%M:%S.%f%z",
]


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)),
    offsets,
    st.sampled_from(SPELLINGS),
)
@settings(deadline=None)
def test_written_dates_round_trip(naive, offset, spelling):
    dt = naive.replace(tzinfo=offset)
    if "%f" not in spelling:
        dt = dt.replace(microsecond=0)
    text = dt.strftime(spelling)
    parsed = parse_date(text, TOKYO)
    assert parsed == dt, text
    assert parsed.utcoffset() == dt.utcoffset(), text


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)), offsets)
@settings(deadline=None)
def test_iso_round_trips(naive, offset):
    dt = naive.replace(tzinfo=offset)
    assert parse_date(dt.isoformat(), TOKYO) == dt
    assert parse_date(dt.replace(tzinfo=None).isoformat(), offset) == dt


@given(st.text(max_size=100))
@settings(deadline=None)
def test_any_text_only_raises_value_error(text):
    try:
        dt = parse_date(text, BERLIN)
    except ValueError as exc:
        assert str(exc)
    else:
        assert dt.tzinfo is not None
        dt.astimezone(UTC)


date_words = st.sampled_from(
    ["Jan", "sept.", "Monday,", "at", "am", "pm", "a.m.", "PST", "CEST", "Z", "T", "BC", "th"]
)
date_bits = st.from_regex(r"[-+']?\d{1,8}([-/.:,][-+']?\d{1,4}){0,3}", fullmatch=True)


@given(st.lists(st.one_of(date_words, date_bits), max_size=8).map(" ".join))
@settings(deadline=None)
def test_date_like_fragments_only_raise_value_error(text):
    try:
        dt = parse_date(text, BERLIN)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 1000 <= dt.year <= 9999
        dt.astimezone(UTC)
