"""Parsing `as_of` values and the dates inside adventure settings."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from epochpod_assets.history.dates import AsOf, HistoricalDate, find_date, parse_date


@pytest.mark.parametrize(
    ("text", "year", "month", "day", "approximate"),
    [
        ("1921", 1921, None, None, False),
        ("44 BC", -44, None, None, False),
        ("44 B.C.", -44, None, None, False),
        ("480 BCE", -480, None, None, False),
        ("AD 79", 79, None, None, False),
        ("79 CE", 79, None, None, False),
        ("A.D. 800", 800, None, None, False),
        ("c. 1500", 1500, None, None, True),
        ("circa 1500", 1500, None, None, True),
        ("1921-06-14", 1921, 6, 14, False),
        ("1921-06", 1921, 6, None, False),
        ("14 June 1921", 1921, 6, 14, False),
        ("June 14, 1921", 1921, 6, 14, False),
        ("June 1921", 1921, 6, None, False),
        ("15 March 44 BC", -44, 3, 15, False),
        ("  1 Sept 1939 ", 1939, 9, 1, False),
    ],
)
def test_parse_date_reads_every_documented_form(
    text: str, year: int, month: int | None, day: int | None, approximate: bool
) -> None:
    date = parse_date(text)
    assert (date.year, date.month, date.day, date.approximate) == (year, month, day, approximate)
    # The display form parses back to the same date.
    assert parse_date(date.display()) == date


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("0", "no year 0"),
        ("0 BC", "no year 0"),
        ("1921-13-01", "month 13"),
        ("30 February 1921", "day 30 is not in February"),
        ("29 February 1900", "day 29"),
        ("yesterday", "is not a date"),
        ("-44", "BC"),
        ("12345", "is not a date"),
        ("AD 44 BC", "both AD and BC"),
    ],
)
def test_parse_date_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(text)


def test_leap_day_is_accepted_in_a_leap_year() -> None:
    assert parse_date("29 February 1904").day == 29


def test_displays() -> None:
    assert parse_date("44 BC").display() == "44 BC"
    assert parse_date("79").display() == "AD 79"
    assert parse_date("1921-06-14").display() == "14 June 1921"
    assert parse_date("circa 1500").display() == "c. 1500"
    assert str(parse_date("June 1921")) == "June 1921"


def test_order_and_cover_follow_time_without_a_year_zero() -> None:
    assert parse_date("44 BC") < parse_date("AD 1") < parse_date("79")
    assert parse_date("1 BC").astronomical_year == 0
    year = parse_date("1921")
    assert year.covers(parse_date("31 December 1921"))
    assert not year.covers(parse_date("1 January 1922"))
    day = parse_date("1921-06-14")
    assert day.covers(parse_date("June 1921"))
    assert not day.covers(parse_date("15 June 1921"))


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("Rome, 44 BC", "44 BC"),
        ("Alexandria in 48 BC", "48 BC"),
        ("Pompeii, AD 79", "AD 79"),
        ("Paris, 14 July 1789", "14 July 1789"),
        ("Gettysburg, July 1863", "July 1863"),
        ("London, 1666", "1666"),
        ("The 300 Spartans at Thermopylae, 480 BC", "480 BC"),
        ("Aachen, 800", "AD 800"),
        ("Kyoto around 1600", "c. 1600"),
    ],
)
def test_find_date_inside_a_setting(setting: str, expected: str) -> None:
    assert find_date(setting).display() == expected


def test_find_date_says_when_a_setting_has_no_date() -> None:
    with pytest.raises(ValueError, match="no date found in 'Ancient Rome'"):
        find_date("Ancient Rome")


def test_as_of_field_takes_text_and_dumps_it_back() -> None:
    class Request(BaseModel):
        as_of: AsOf | None = None

    request = Request.model_validate({"as_of": "44 BC"})
    assert request.as_of == HistoricalDate(year=-44)
    assert request.model_dump() == {"as_of": "44 BC"}
    assert Request.model_validate_json(request.model_dump_json()) == request
    with pytest.raises(ValueError, match="no year 0"):
        Request.model_validate({"as_of": "0"})
