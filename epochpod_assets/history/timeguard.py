"""The time guard: a historical figure may not refer to anything after the date it speaks from.

Two offline checks, both deterministic:

- **dates**: explicit years ("in 1945", "44 BC", "AD 79", year ranges), full dates
  ("6 August 1945"), decades ("the 1960s") and centuries ("the twenty-first century") later
  than the figure's `as_of`. Numbers that are not years are left alone: counts and measures
  ("3000 soldiers", "1500 talents", "some 2000 of them"), page and catalogue numbers
  ("page 1923"), money ("$1950"), decimals and thousands ("1,945").
- **lexicon**: a bundled, dated list (`data/lexicon.csv`) of inventions, events, institutions,
  terms and people, each with the first year a contemporary could have spoken of it in that
  sense and a citation. Matching is by whole words, with plurals, case-insensitive except for
  entries marked case-sensitive (acronyms, and phrases whose lower-case form is an old word).

A reference to the future counts too: "by 1950 we shall..." from a figure speaking in 1921 is
flagged, because the guard's rule is that a figure refers to nothing after its `as_of`.

Hosts and narrators speak from today and may look back, so their lines are checked against
today's date (only references to the future are flagged). A model pass (`model_findings`)
adds what a lexicon cannot know; its findings are labelled `origin="model"`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

from epochpod_assets.formats import schemas
from epochpod_assets.history.dates import MONTHS, HistoricalDate
from epochpod_assets.history.factsheet import Finding
from epochpod_assets.providers.base import Usage, Writer, WritingTask

Role = Literal["figure", "host", "narrator"]
LexiconKind = Literal["invention", "event", "institution", "term", "person"]


@dataclass(frozen=True)
class LexiconEntry:
    term: str
    year: int
    kind: LexiconKind
    source: str
    variants: tuple[str, ...] = ()
    case_sensitive: bool = False

    def forms(self) -> list[str]:
        """Every spelling matched: the term, its variants and their regular plurals."""
        forms: list[str] = []
        for form in (self.term, *self.variants):
            forms.append(form)
            if self.kind == "person" or not form[-1:].isalpha() or form.isupper():
                continue
            last = form.split()[-1]
            if last.lower() != last or last.endswith("s"):
                continue  # proper names ("the Great Depression") and words already plural
            if re.search(r"[^aeiou]y$", form):
                forms.append(form[:-1] + "ies")
            elif re.search(r"(x|ch|sh)$", form):
                forms.append(form + "es")
            else:
                forms.append(form + "s")
        return forms


@cache
def lexicon() -> tuple[LexiconEntry, ...]:
    """The bundled dated lexicon (read once per process)."""
    text = (
        resources.files("epochpod_assets.history")
        .joinpath("data/lexicon.csv")
        .read_text(encoding="utf-8")
    )
    entries = []
    for row in csv.DictReader(text.splitlines()):
        kind = row["kind"]
        if kind not in ("invention", "event", "institution", "term", "person"):
            raise ValueError(f"lexicon entry {row['term']!r} has an unknown kind {kind!r}")
        entries.append(
            LexiconEntry(
                term=row["term"],
                year=int(row["year"]),
                kind=kind,  # type: ignore[arg-type]
                source=row["source"],
                variants=tuple(v.strip() for v in row["variants"].split(";") if v.strip()),
                case_sensitive="cs" in row["flags"].split(";"),
            )
        )
    return tuple(entries)


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    by_form: dict[str, LexiconEntry]


def _alternation(forms: list[str]) -> str:
    # Longest first, so "Martin Luther King" wins over "Martin Luther".
    ordered = sorted(set(forms), key=len, reverse=True)
    parts = [re.escape(form).replace(r"\ ", r"\s+") for form in ordered]
    return r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])"


@cache
def _matchers() -> tuple[_Matcher, _Matcher]:
    sensitive: dict[str, LexiconEntry] = {}
    insensitive: dict[str, LexiconEntry] = {}
    for entry in lexicon():
        for form in entry.forms():
            if entry.case_sensitive:
                sensitive.setdefault(form, entry)
            else:
                insensitive.setdefault(form.lower(), entry)
    return (
        _Matcher(re.compile(_alternation(list(sensitive))), sensitive),
        _Matcher(re.compile(_alternation(list(insensitive)), re.IGNORECASE), insensitive),
    )


# --- numbers that are years, and numbers that are not -------------------------------------

_ERA_BC = r"(?:B\.?\s?C\.?(?:\s?E\.?)?)"
_ERA_AD = r"(?:A\.?\s?D\.?|C\.?\s?E\.?)"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty-first": 21, "twenty first": 21,
    "twenty-second": 22, "twenty second": 22,
}  # fmt: skip

_FULL_DATE = re.compile(
    rf"(?<![\w])(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH})\.?,?\s+"
    rf"|(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    rf"|(?P<m3>{_MONTH})\.?,?\s+(?:of\s+)?)"
    rf"(?:(?P<ad>{_ERA_AD})\s*)?(?P<year>\d{{1,4}})(?![\w])(?:\s*(?P<era>{_ERA_BC}|{_ERA_AD})(?![\w]))?",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"(?<![\w-])(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?![\w-])")
_ERA_YEAR = re.compile(
    rf"(?<![\w.,])(?:(?P<ad>{_ERA_AD})\s*(?P<y1>\d{{1,4}})(?![\w])"
    rf"|(?P<y2>\d{{1,4}})\s*(?P<era>{_ERA_BC}|{_ERA_AD})(?![\w]))",
    re.IGNORECASE,
)
_DECADE = re.compile(
    rf"(?<![\w.,])(?P<decade>\d{{2,3}}0)'?s(?![\w])(?:\s*(?P<era>{_ERA_BC}))?", re.IGNORECASE
)
_CENTURY = re.compile(
    r"(?<![\w])(?:(?P<num>\d{1,2})(?:st|nd|rd|th)|(?P<word>"
    + "|".join(sorted((re.escape(word) for word in _ORDINALS), key=len, reverse=True))
    + rf"))[\s-]+century(?![\w])(?:\s*(?P<era>{_ERA_BC}|{_ERA_AD})(?![\w]))?",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(?<![\w.,$£€])(?P<a>\d{4})\s*-\s*(?P<b>\d{2}|\d{4})(?![\w%°]|[.,]\d)")
# Not followed by a hyphen either: "a 1000-year-old oak" and "a 3000-li road" are measures
# (ranges such as 1914-18 are read by _RANGE first).
_BARE = re.compile(r"(?<![\w.,$£€¥₹#/-])(?P<year>\d{4})(?![\w%°'-]|[.,:]\d)")

# Years said in words, as scripts written to be spoken often have them: "nineteen forty-five",
# "seventeen seventy-six", "eighteen hundred", "nineteen oh five", "two thousand and one".
_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_UNIT = "|".join(_UNITS)
_TEEN = "|".join(_TEENS)
_TEN = "|".join(_TENS)
_TWO_DIGITS = rf"(?:{_TEEN}|(?:{_TEN})(?:[- ](?:{_UNIT}))?|o(?:h)?[- ](?:{_UNIT}))"
_WORD_YEAR = re.compile(
    rf"(?<![\w-])(?:(?P<century>eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    rf"eighteen|nineteen)\s+(?P<rest>hundred|{_TWO_DIGITS})"
    rf"|two\s+thousand(?:\s+and)?(?:\s+(?P<after2000>{_TWO_DIGITS}|{_UNIT}))?"
    rf"|twenty\s+(?P<twenty>{_TEEN}|(?:{_TEN})(?:[- ](?:{_UNIT}))?))(?![\w-])",
    re.IGNORECASE,
)


def _two_digits(text: str) -> int:
    words = re.split(r"[- ]+", text.lower())
    if words[0] in ("o", "oh"):
        return _UNITS[words[1]]
    if words[0] in _TEENS:
        return _TEENS[words[0]]
    if words[0] in _UNITS:
        return _UNITS[words[0]]
    return _TENS[words[0]] + (_UNITS[words[1]] if len(words) > 1 else 0)


def _word_year(match: re.Match[str]) -> int:
    if match.group("century"):
        first = _TEENS[match.group("century").lower()] * 100
        rest = match.group("rest").lower()
        return first if rest == "hundred" else first + _two_digits(rest)
    if match.group("twenty"):
        return 2000 + _two_digits(match.group("twenty"))
    after = match.group("after2000")
    return 2000 + (_two_digits(after) if after else 0)


# A bare number after one of these words is a label, not a year: "page 1923", "No. 1812".
_LABEL_WORDS = {
    "page", "pages", "p", "pp", "chapter", "verse", "verses", "line", "lines", "number",
    "numbers", "no", "nos", "room", "item", "opus", "op", "psalm", "section", "article",
    "figure", "fig", "plate", "folio", "catalogue", "catalog", "house", "flight", "route",
    "highway", "bus", "platform", "code", "bay", "pier", "gate", "seat", "row", "volume", "vol",
    "issue", "cell", "box", "lot", "patent", "bed", "cabin", "locker", "tablet", "inscription",
    "papyrus", "manuscript", "ms", "codex", "exhibit", "file", "case", "mile", "milestone",
}  # fmt: skip
# ...and after these it is a quantity: "some 3000", "over 1500", "at least 2000".
_QUANTITY_WORDS = {
    "some", "over", "nearly", "almost", "than", "roughly", "approximately", "exactly", "only",
    "another", "these", "those", "every", "extra", "additional", "least", "most", "fully",
    "numbering", "totalling", "totaling", "counting", "costing", "cost", "paid", "weighing",
    "measuring", "perhaps", "maybe", "barely", "scarcely", "mere", "full", "whole", "x",
    # verbs whose object is a number of people or things: "lost 1200 at Gergovia"
    "lost", "killed", "captured", "had", "brought", "raised", "sent", "gathered", "mustered",
    "fielded", "recruited", "levied", "owned", "kept", "fed", "slew", "freed", "enslaved",
    "hired", "armed", "owed", "gave", "received", "collected", "counted", "sold", "bought",
    "sacrificed", "housed", "carried", "employed", "led", "commanded", "buried", "baptized",
}  # fmt: skip
# A number right after one of these is a year, whatever follows it ("in 1500 the city fell").
_YEAR_WORDS = {
    "in", "since", "until", "till", "by", "from", "after", "before", "year", "circa", "c",
    "ca", "spring", "summer", "autumn", "winter", "fall", "early", "late", "mid", "during",
    "born", "died", "anno", "year's",
}  # fmt: skip
# After any other word ("about", "of", "and") a year unless a counted noun follows:
# "about 1950" but "about 3000 men".
# Words that mark the number before them as a count or a measure.
_COUNT_NOUNS = {
    "men", "women", "people", "children", "feet", "foot", "teeth", "geese", "mice", "sheep",
    "fish", "deer", "cattle", "infantry", "cavalry", "horse", "head", "strong", "dead",
    "wounded", "killed", "times", "odd", "more", "fewer", "less", "thousand", "hundred",
    "million", "percent", "per", "degrees", "kg", "km", "ft", "lb", "lbs", "mph", "li", "of",
    "yards", "pounds", "each", "apiece", "souls", "dozen", "score", "altogether", "crew",
    "staff", "militia", "clergy", "police", "gold", "silver", "copper", "bronze", "grain",
    "rice", "wheat", "wine", "oil", "salt", "tea", "silk", "cotton", "wool", "timber", "stone",
    "steel", "iron", "coal", "ton", "tonne", "tonnes", "long", "high", "deep", "wide", "tall",
    "away", "distant", "aboard", "below", "above", "so",
    # irregular plurals and collective nouns that do not end in s
    "oxen", "brethren", "folk", "kin", "nobility", "peasantry", "gentry", "youth", "livestock",
    "poultry", "swine", "personnel", "aircraft", "artillery",
    # old and non-English units and money
    "stadia", "drachmae", "denarii", "sestertii", "aurei", "minae", "talenta", "iugera",
    "jugera", "passus", "koku", "ryo", "mu", "liang", "cash", "lakh", "crore", "rai", "yen",
}  # fmt: skip
# Nouns for a group of people or things, whose size follows "of": "an army of 1500". Not
# nouns that take a year ("the voyage of 1492", "the census of 1801", "the March of 1812").
_GROUP_NOUNS = {
    "army", "force", "forces", "fleet", "garrison", "host", "band", "crowd", "population",
    "company", "legion", "legions", "group", "party", "troop", "troops", "total", "sum",
    "number", "body", "column", "detachment", "division", "regiment", "battalion", "crew",
    "contingent", "multitude", "throng", "mob", "caravan", "herd", "flock", "convoy", "squadron",
    "tribute", "ransom", "fine", "debt", "loan", "payment", "salary", "budget", "price", "cost",
    "distance", "depth", "height", "length", "width", "weight", "altitude", "library",
    "collection", "treasury", "hoard", "stock", "supply", "estimate", "toll", "casualties",
    "losses",
}  # fmt: skip
# Words ending in "s" that are not plurals of a counted noun.
_NOT_PLURAL = {
    "was", "is", "has", "as", "this", "his", "its", "us", "thus", "always", "perhaps",
    "towards", "afterwards", "besides", "unless", "yes", "across", "whereas", "does", "hers",
    "ours", "yours", "theirs", "less", "series", "news", "politics", "physics", "mathematics",
    "paris", "athens", "thebes",
}  # fmt: skip


def _previous_word(text: str, start: int) -> str:
    match = re.search(r"([A-Za-z']+)\.?\s*$", text[:start])
    return match.group(1).lower() if match else ""


def _next_words(text: str, end: int, count: int = 2) -> list[str]:
    # Only words in the same clause: "It was 1921. Things changed" has no counted noun.
    clause = re.split(r"[,.;:!?()\[\]\"]", text[end : end + 60], maxsplit=1)[0]
    return [word.lower() for word in re.findall(r"[A-Za-z']+", clause)[:count]]


def _is_count(word: str) -> bool:
    if word in _COUNT_NOUNS:
        return True
    # horsemen, spearmen, oarsmen, footmen
    if len(word) > 4 and word.endswith("men"):
        return True
    return len(word) > 3 and word.endswith("s") and word not in _NOT_PLURAL


def _bare_number_is_year(text: str, start: int, end: int) -> bool:
    """Whether a bare four-digit number reads as a year. Labels and quantities first, then
    year prepositions, then what follows it."""
    before_text = text[:start].rstrip()
    if before_text[-1:] in ("$", "£", "€", "¥", "#", "№", "\u00d7", "+", "="):
        return False
    before = _previous_word(text, start)
    if before in _LABEL_WORDS or before in _QUANTITY_WORDS:
        return False
    # "at least 2000" and "no fewer than 1500": the word before the quantity word counts too.
    if re.search(r"\b(?:at|no|not)\s+(?:least|more|fewer|less)(?:\s+than)?\s*$", before_text):
        return False
    if before in _YEAR_WORDS:
        return True
    # "an army of 1500", "a garrison of 1200": a number after a group noun and "of" counts it.
    group = re.search(r"([A-Za-z]+)\s+of\s*$", before_text)
    if group and group.group(1).lower() in _GROUP_NOUNS:
        return False
    following = _next_words(text, end)
    # "the 1500 who died": a number that a relative clause describes is a count.
    if following and following[0] in ("who", "whom", "whose"):
        return False
    if following and _is_count(following[0]):
        return False
    # "3000 heavy infantry", "1500 armed men"
    return not (len(following) > 1 and not _starts_clause(following[0]) and _is_count(following[1]))


def _starts_clause(word: str) -> bool:
    # Words that begin a clause after a year ("1848 saw revolutions", "1905 the papers came")
    # rather than describe a counted noun ("2000 armed men").
    return word in _CLAUSE_WORDS


_CLAUSE_WORDS = {
    "saw", "brought", "was", "were", "had", "marked", "changed", "and", "when", "the", "a",
    "an", "i", "we", "he", "she", "they", "it", "my", "our", "his", "her", "their", "you",
    "your", "this", "that", "there", "is", "will", "shall", "would", "all", "many", "most",
}  # fmt: skip


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    term: str
    evidence: str
    origin: Literal["date", "lexicon"]


def _year_text(year: int) -> str:
    return f"{-year} BC" if year < 0 else str(year)


def _overlaps(hits: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < b and a < end for a, b in hits)


def normalize(text: str) -> str:
    return (
        # Curly quotes and dashes as plain ones, so every pattern below can assume them.
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u2013", "-")
        .replace("\u2014", " - ")
        .replace("\u00a0", " ")
    )


@dataclass(frozen=True)
class DateMention:
    """A year, date, range, decade or century mentioned in a text.

    `point` is the moment a speaker must have reached to mention it: the date itself, the end
    of a range ("1939-45" needs 1945), the start of a decade or century ("the 1920s" can be
    spoken in 1921). `label` says it for people ("the 1960s (from 1960)")."""

    start: int
    end: int
    text: str
    point: HistoricalDate
    label: str
    # The years it may mean, first and last: (1850, 1859) for "the 1850s".
    span: tuple[int, int] = (0, 0)


def date_mentions(text: str) -> list[DateMention]:
    """Every year-like mention in `text`, in order, leaving out numbers that are not years
    (counts, measures, page numbers, money). The text should be `normalize`d first."""
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(
        start: int, end: int, point: HistoricalDate, label: str, span: tuple[int, int] | None = None
    ) -> None:
        taken.append((start, end))
        years = span or (point.year, point.year)
        found.append(DateMention(start, end, text[start:end].strip(), point, label, years))

    for match in _FULL_DATE.finditer(text):
        month_name = match.group("m1") or match.group("m2") or match.group("m3")
        day_text = match.group("d1") or match.group("d2")
        year = int(match.group("year"))
        era = (match.group("era") or "").upper()
        has_era = bool(era or match.group("ad"))
        if not has_era and year < 100:
            continue  # "June 14" with a small number after it is a day, not a year
        if era.startswith("B"):
            year = -year
        if not has_era and not day_text and not 1000 <= year <= 2999:
            continue
        try:
            date = HistoricalDate(
                year=year,
                month=MONTHS[month_name.lower().rstrip(".")],
                day=int(day_text) if day_text else None,
            )
        except ValueError:
            continue
        add(match.start(), match.end(), date, date.display())
    for match in _ISO_DATE.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        try:
            date = HistoricalDate(
                year=int(match.group("year")),
                month=int(match.group("month")),
                day=int(match.group("day")),
            )
        except ValueError:
            continue
        add(match.start(), match.end(), date, date.display())
    for match in _CENTURY.finditer(text):
        number = (
            int(match.group("num"))
            if match.group("num")
            else _ORDINALS[" ".join(match.group("word").lower().split())]
        )
        if (match.group("era") or "").upper().startswith("B"):
            first = -number * 100
        else:
            first = (number - 1) * 100 + 1
        if first == 0 or abs(first) > 9999:
            continue
        ordinal = text[match.start() : match.end()].strip()
        add(
            match.start(),
            match.end(),
            HistoricalDate(year=first),
            f"the {ordinal} (from {_year_text(first)})",
            (first, first + 99),
        )
    for match in _DECADE.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        decade = int(match.group("decade"))
        if match.group("era"):
            first = -(decade + 9)
        else:
            if decade < 1000:
                continue  # "the 60s" could be any century; "the 960s" is too rare to guess
            first = decade
        add(
            match.start(),
            match.end(),
            HistoricalDate(year=first),
            f"the {_year_text(first)}s",
            (first, first + 9),
        )
    for match in _ERA_YEAR.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        year = int(match.group("y1") or match.group("y2"))
        if year == 0:
            continue
        if (match.group("era") or "").upper().startswith("B"):
            year = -year
        add(match.start(), match.end(), HistoricalDate(year=year), _year_text(year))
    for match in _RANGE.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        first = int(match.group("a"))
        last_text = match.group("b")
        last = int(last_text) if len(last_text) == 4 else first // 100 * 100 + int(last_text)
        if not 1000 <= first <= 2999 or last < first:
            continue
        if not _bare_number_is_year(text, match.start(), match.end()):
            continue
        add(match.start(), match.end(), HistoricalDate(year=last), f"{first}-{last}", (first, last))
    for match in _BARE.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        year = int(match.group("year"))
        if not 1000 <= year <= 2999:
            continue
        if not _bare_number_is_year(text, match.start(), match.end()):
            continue
        add(match.start(), match.end(), HistoricalDate(year=year), str(year))
    for match in _WORD_YEAR.finditer(text):
        if _overlaps(taken, match.start(), match.end()):
            continue
        # "fifteen hundred men" and "nineteen twenty soldiers" count; the same rules as digits.
        if not _bare_number_is_year(text, match.start(), match.end()):
            continue
        # "eighteen hundred were killed", "he paid two thousand": round numbers in words are
        # years only after "in", "by", "since"...
        round_number = (match.group("rest") or "").lower() == "hundred" or (
            match.group(0).lower().startswith("two") and not match.group("after2000")
        )
        if round_number and _previous_word(text, match.start()) not in _YEAR_WORDS:
            continue
        year = _word_year(match)
        add(match.start(), match.end(), HistoricalDate(year=year), str(year))
    found.sort(key=lambda mention: mention.start)
    return found


def _date_hits(text: str, as_of: HistoricalDate) -> list[_Hit]:
    limit = as_of.display()
    return [
        _Hit(m.start, m.end, m.text, f"{m.label} is after {limit}", "date")
        for m in date_mentions(text)
        if not as_of.covers(m.point)
    ]


def _lexicon_hits(text: str, as_of: HistoricalDate) -> list[_Hit]:
    hits: list[_Hit] = []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, LexiconEntry]] = []
    sensitive, insensitive = _matchers()
    for match in sensitive.pattern.finditer(text):
        entry = sensitive.by_form.get(" ".join(match.group(0).split()))
        if entry:
            found.append((match.start(), match.end(), entry))
    for match in insensitive.pattern.finditer(text):
        entry = insensitive.by_form.get(" ".join(match.group(0).split()).lower())
        if entry:
            found.append((match.start(), match.end(), entry))
    # Longest match first, then drop the matches it contains.
    for start, end, entry in sorted(found, key=lambda item: (item[0] - item[1], item[0])):
        if _overlaps(taken, start, end):
            continue
        taken.append((start, end))
        if entry.year > as_of.year:
            evidence = (
                f"{entry.term} ({entry.kind}) dates from {_year_text(entry.year)}: "
                f"{entry.source}; after {as_of.display()}"
            )
            hits.append(_Hit(start, end, text[start:end], evidence, "lexicon"))
    return hits


def today() -> HistoricalDate:
    now = _dt.date.today()
    return HistoricalDate(year=now.year, month=now.month, day=now.day)


def check_text(
    text: str,
    as_of: HistoricalDate,
    *,
    role: Role = "figure",
    line: int = 1,
    speaker: str = "",
) -> list[Finding]:
    """Anachronisms in one line. A figure is held to `as_of`; a host or narrator speaks from
    today, so only references to the future are flagged for them."""
    limit = as_of if role == "figure" else today()
    normalized = normalize(text)
    hits = _date_hits(normalized, limit) + _lexicon_hits(normalized, limit)
    hits.sort(key=lambda hit: hit.start)
    return [
        Finding(
            line=line,
            speaker=speaker,
            kind="anachronism",
            term=hit.term,
            evidence=hit.evidence,
            origin=hit.origin,
        )
        for hit in hits
    ]


@dataclass(frozen=True)
class GuardLine:
    """One spoken line to check: its 1-based number, who says it and from when."""

    line: int
    speaker: str
    text: str
    role: Role = "figure"
    as_of: HistoricalDate | None = None


def check_lines(lines: Sequence[GuardLine]) -> list[Finding]:
    """Offline findings for many lines. Figure lines need an `as_of`; each figure may have its
    own (a debate across time)."""
    findings: list[Finding] = []
    for item in lines:
        if item.role == "figure" and item.as_of is None:
            raise ValueError(f"line {item.line} ({item.speaker}): a figure line needs an as_of")
        findings.extend(
            check_text(
                item.text,
                item.as_of or today(),
                role=item.role,
                line=item.line,
                speaker=item.speaker,
            )
        )
    return findings


# --- the model pass ----------------------------------------------------------------------


class ModelAnachronism(BaseModel):
    line: int = Field(description="the number of the line, as given in brackets")
    term: str = Field(description="the words in the line that are anachronistic")
    evidence: str = Field(description="why: when the thing first existed or became known")


class ModelAnachronisms(BaseModel):
    findings: list[ModelAnachronism]


GUARD_INSTRUCTIONS = (
    "You are a historian checking a podcast script for anachronisms. Each numbered line is "
    "spoken by a historical figure at a given date. Report every word or phrase that refers "
    "to anything the speaker could not have known at that date: later events, inventions, "
    "institutions, people, names, words and ideas, and later years. Do not report things "
    "that already existed at that date, or numbers that are not years. Quote the term exactly "
    "as it appears in the line. Answer with an empty list when there is nothing to report."
)


def model_findings(writer: Writer, lines: Sequence[GuardLine], usage: Usage) -> list[Finding]:
    """Ask a model for the anachronisms a lexicon cannot know. Only figure lines are sent;
    answers naming a line that was not asked about, or a term not in that line, are dropped
    (a model's finding is checked against the text, not trusted). The offline writer answers
    with no findings."""
    figure_lines = [item for item in lines if item.role == "figure" and item.as_of is not None]
    if not figure_lines:
        return []
    by_number = {item.line: item for item in figure_lines}
    prompt = "\n".join(
        f"[{item.line}] {item.speaker}, speaking as of {item.as_of.display()}: {item.text}"
        for item in figure_lines
        if item.as_of is not None
    )

    def check(answer: ModelAnachronisms) -> None:
        for finding in answer.findings:
            if finding.line not in by_number:
                raise ValueError(f"line {finding.line} was not one of the lines given")

    # Only the lines asked about can be named: their numbers are an enum.
    finding = schemas.obj(
        {
            "line": {"type": "integer", "enum": sorted(by_number)},
            "term": schemas.text("the anachronistic words, as they stand in the line", max_words=8),
            "evidence": schemas.text("why: when the thing first existed", max_words=40),
        }
    )
    task: WritingTask[ModelAnachronisms] = WritingTask(
        name="time_guard",
        schema=ModelAnachronisms,
        instructions=GUARD_INSTRUCTIONS,
        prompt=prompt,
        template=lambda: ModelAnachronisms(findings=[]),
        check=check,
        json_schema=schemas.obj({"findings": schemas.array(finding, (0, 3 * len(by_number)))}),
    )
    answer = writer.write(task, usage)
    findings = []
    for item in answer.findings:
        source = by_number.get(item.line)
        if source is None or item.term.strip().lower() not in source.text.lower():
            continue
        findings.append(
            Finding(
                line=item.line,
                speaker=source.speaker,
                kind="anachronism",
                term=item.term.strip(),
                evidence=item.evidence,
                origin="model",
            )
        )
    return findings
