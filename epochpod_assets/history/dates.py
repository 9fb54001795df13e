"""Historical dates: the `as_of` of a figure and the date inside an adventure's setting.

A figure speaks from a point in time ("1921", "44 BC", "AD 79", "c. 1500", "1921-06-14",
"14 June 1921"), and the time guard compares everything a line mentions against it. Years are
signed the way historians count: 44 BC is -44, AD 79 is 79, and there is no year 0 (1 BC is
followed by AD 1), so `year` is never 0 and BC years compare below AD years as they should.

`parse_date` reads a whole value and says exactly what is wrong when it cannot;
`find_date` looks for the date inside a longer text such as an adventure setting
("Rome, 44 BC"). `AsOf` is the pydantic field type: it accepts either a string or a dict and
serializes back to the display string, so requests and metadata carry "44 BC", not a dict.
"""

from __future__ import annotations

import calendar
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator

MONTHS = {
    name.lower(): number
    for number, name in enumerate(calendar.month_name)
    if name  # month_name[0] is ""
}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

# The largest year we accept. Bigger numbers are far more likely typos than dates.
MAX_YEAR = 9999

_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_APPROX = r"(?P<approx>(?:c\.|ca\.|circa|about|around)\s*)?"
_BC = r"(?:B\.?\s?C\.?(?:\s?E\.?)?)"  # BC, B.C., BCE, B.C.E.
_AD = r"(?:A\.?\s?D\.?|C\.?\s?E\.?)"  # AD, A.D., CE, C.E.

# Whole-value patterns, tried in order. Each names its groups so one builder reads them all.
_WHOLE_PATTERNS = [
    # 1921-06-14, 1921-06
    re.compile(r"^(?P<year>\d{1,4})-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?$"),
    # 14 June 1921, 14 June 44 BC, 15 March AD 79
    re.compile(
        rf"^{_APPROX}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mname>{_MONTH_NAMES})\.?,?\s+"
        rf"(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})(?:\s*(?P<era>{_BC}|{_AD}))?$",
        re.IGNORECASE,
    ),
    # June 14, 1921 / June 1921
    re.compile(
        rf"^{_APPROX}(?P<mname>{_MONTH_NAMES})\.?\s+(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?"
        rf"(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})(?:\s*(?P<era>{_BC}|{_AD}))?$",
        re.IGNORECASE,
    ),
    # 1921, 44 BC, AD 79, 79 CE, c. 1500
    re.compile(
        rf"^{_APPROX}(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})(?:\s*(?P<era>{_BC}|{_AD}))?$",
        re.IGNORECASE,
    ),
]


class HistoricalDate(BaseModel):
    """A point in time with a signed year (BC negative, never 0) and an optional month and day.

    Order follows time: `HistoricalDate(year=-44) < HistoricalDate(year=79)`. A date known only
    to the year covers the whole year, so `covers(later)` is what the time guard asks: could a
    figure speaking at this date know about something at that one?
    """

    model_config = ConfigDict(frozen=True)

    year: int
    month: int | None = None
    day: int | None = None
    approximate: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_date(value)
            return parsed.model_dump()
        if isinstance(value, int) and not isinstance(value, bool):
            return {"year": value}
        return value

    @model_validator(mode="after")
    def _check(self) -> HistoricalDate:
        _validate(self.year, self.month, self.day)
        return self

    @property
    def bc(self) -> bool:
        return self.year < 0

    @property
    def astronomical_year(self) -> int:
        """Year numbering with a year 0 (1 BC = 0, 2 BC = -1): what arithmetic needs."""
        return self.year + 1 if self.year < 0 else self.year

    def key(self) -> tuple[int, int, int]:
        """Earliest moment the date can mean, for ordering."""
        return (self.year, self.month or 0, self.day or 0)

    def end_key(self) -> tuple[int, int, int]:
        """Latest moment the date can mean: "1921" runs to the end of December 1921."""
        return (self.year, self.month or 13, self.day or 32)

    def covers(self, other: HistoricalDate) -> bool:
        """True when `other` may lie at or before this date (so a speaker here may know it)."""
        return other.key() <= self.end_key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, HistoricalDate):
            return NotImplemented
        return self.key() < other.key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, HistoricalDate):
            return NotImplemented
        return self.key() <= other.key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, HistoricalDate):
            return NotImplemented
        return self.key() > other.key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, HistoricalDate):
            return NotImplemented
        return self.key() >= other.key()

    def year_display(self) -> str:
        if self.year < 0:
            return f"{-self.year} BC"
        # Early AD years read as ages or counts without the era ("79" alone); say AD.
        if self.year < 1000:
            return f"AD {self.year}"
        return str(self.year)

    def display(self) -> str:
        """The readable form, e.g. "44 BC", "AD 79", "c. 1500", "14 June 1921".

        `parse_date(d.display()) == d` for every date."""
        text = self.year_display()
        if self.month is not None:
            month = calendar.month_name[self.month]
            text = f"{self.day} {month} {text}" if self.day is not None else f"{month} {text}"
        return f"c. {text}" if self.approximate else text

    def __str__(self) -> str:
        return self.display()


def _serialize(value: HistoricalDate) -> str:
    return value.display()


# The field type for requests and metadata: accepts "44 BC" (or a dict), dumps as "44 BC".
AsOf = Annotated[HistoricalDate, PlainSerializer(_serialize, return_type=str)]


def _days_in_month(year: int, month: int) -> int:
    astronomical = year + 1 if year < 0 else year
    if month == 2 and calendar.isleap(astronomical):
        return 29
    return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def _validate(year: int, month: int | None, day: int | None) -> None:
    if year == 0:
        raise ValueError("there is no year 0: 1 BC is followed by AD 1")
    if abs(year) > MAX_YEAR:
        raise ValueError(f"year {abs(year)} is out of range (at most {MAX_YEAR})")
    if day is not None and month is None:
        raise ValueError("a day needs a month")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"month {month} is not a month (1 to 12)")
    if month is not None and day is not None:
        last = _days_in_month(year, month)
        if not 1 <= day <= last:
            raise ValueError(
                f"day {day} is not in {calendar.month_name[month]} (it has {last} days)"
            )


def _build(match: re.Match[str], text: str) -> HistoricalDate:
    groups = match.groupdict()
    year = int(groups["year"])
    era = (groups.get("era") or "").upper().replace(".", "").replace(" ", "")
    ad_before = groups.get("ad1")
    if ad_before and era.startswith("B"):
        raise ValueError(f"{text!r} says both AD and BC")
    if era.startswith("B"):
        if year == 0:
            raise ValueError("there is no year 0: 1 BC is followed by AD 1")
        year = -year
    month: int | None = None
    if groups.get("mname"):
        month = MONTHS[groups["mname"].lower().rstrip(".")]
    elif groups.get("month"):
        month = int(groups["month"])
    day = int(groups["day"]) if groups.get("day") else None
    _validate(year, month, day)
    return HistoricalDate(year=year, month=month, day=day, approximate=bool(groups.get("approx")))


def parse_date(text: str) -> HistoricalDate:
    """Parse a whole date value: "1921", "44 BC", "AD 79", "c. 1500", "1921-06-14",
    "14 June 1921", "June 14, 1921", "June 1921".

    Raises ValueError saying what is wrong (empty, no year 0, a month 13, 30 February, or
    not a date at all, with examples of what is accepted)."""
    if not isinstance(text, str):
        raise ValueError(f"a date must be text, got {type(text).__name__}")
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise ValueError("the date is empty: give a year such as 1921, 44 BC or AD 79")
    if cleaned.startswith("-"):
        raise ValueError(f"{text!r}: write years before AD 1 with BC, e.g. '44 BC', not a minus")
    for pattern in _WHOLE_PATTERNS:
        match = pattern.match(cleaned)
        if match:
            return _build(match, text)
    raise ValueError(
        f"{text!r} is not a date: use a year (1921, 44 BC, AD 79, c. 1500) "
        "or a full date (1921-06-14, 14 June 1921)"
    )


# Patterns for dates inside running text, most specific first. Each match is scored by how
# sure it is to be a date; the best one wins.
_IN_TEXT = [
    (
        3,
        re.compile(
            rf"\b{_APPROX}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mname>{_MONTH_NAMES})\.?,?\s+"
            rf"(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})\b(?:\s*(?P<era>{_BC}|{_AD}))?",
            re.IGNORECASE,
        ),
    ),
    (
        3,
        re.compile(
            rf"\b{_APPROX}(?P<mname>{_MONTH_NAMES})\.?\s+(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?"
            rf"(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})\b(?:\s*(?P<era>{_BC}|{_AD}))?",
            re.IGNORECASE,
        ),
    ),
    (3, re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})(?:-(?P<day>\d{2}))?\b")),
    (
        2,
        re.compile(
            rf"(?<![\w.]){_APPROX}(?:(?P<ad1>{_AD})\s*)?(?P<year>\d{{1,4}})\s*(?P<era>{_BC}|{_AD})"
            r"(?![\w])",
            re.IGNORECASE,
        ),
    ),
    (
        2,
        re.compile(rf"(?<![\w.]){_APPROX}(?P<ad1>{_AD})\s*(?P<year>\d{{1,4}})\b", re.IGNORECASE),
    ),
    # A bare four-digit year, or a bare number standing last after a comma ("Rome, 800").
    (1, re.compile(rf"(?<![\w.-]){_APPROX}(?P<year>\d{{4}})(?![\w-])", re.IGNORECASE)),
    (1, re.compile(rf",\s*{_APPROX}(?P<year>\d{{2,4}})\s*$", re.IGNORECASE)),
]


def find_date(text: str) -> HistoricalDate:
    """The date inside a longer text, e.g. an adventure setting: "Rome, 44 BC",
    "Paris, 14 July 1789", "Alexandria in 48 BC".

    A full date beats a year with an era, which beats a bare four-digit year; among equals
    the longer, then the last wins (settings put the date after the place). Raises
    ValueError when the text holds no date, or holds an impossible one."""
    best: tuple[int, int, int, re.Match[str]] | None = None
    for score, pattern in _IN_TEXT:
        for match in pattern.finditer(text):
            # The longer match of equal rank says more ("14 July 1789" over "July 1789").
            candidate = (score, len(match.group(0)), match.start(), match)
            if best is None or candidate[:3] > best[:3]:
                best = candidate
    if best is None:
        raise ValueError(
            f"no date found in {text!r}: add one, e.g. 'Rome, 44 BC' or 'Paris, 14 July 1789'"
        )
    return _build(best[3], text)
