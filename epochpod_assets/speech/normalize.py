"""What the voice is given to say: written history turned into words a voice reads right.

Voices read "Louis XIV" as "Louis x-i-v", "1066" as "one thousand and sixty-six" and "44 BC" as
"forty-four bee-see" at best. `spoken()` rewrites the text first: regnal numerals, years and
eras, decades, centuries and ordinals, common abbreviations, numbers, percentages and money,
then applies the pronunciation lexicon. It runs before every synthesis (eSpeak and OpenAI) and
in every duration estimate; captions and transcripts keep the written text.

The rules are conservative where a wrong guess is worse than none: a Roman numeral is only read
as one after a name (so "MIX" and the pronoun "I" stay words), "No." only means "number" before
a digit, and a four-digit number is a year unless it counts something ("3,000 soldiers",
"1500 men").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import roman

if TYPE_CHECKING:
    from epochpod_assets.speech.lexicon import Lexicon

# -- words for numbers -------------------------------------------------------------------------


def cardinal(number: int | float) -> str:
    # num2words writes "one thousand, five hundred": the comma would make a voice pause.
    return str(_num2words()(number)).replace(",", "")


def ordinal(number: int) -> str:
    return str(_num2words()(number, to="ordinal")).replace(",", "")


def year(number: int) -> str:
    """How a historian says a year: 1066 "ten sixty-six", 1905 "nineteen oh-five"."""
    return str(_num2words()(number, to="year")).replace(",", "")


def _plural(words: str) -> str:
    # "nineteen twenty" -> "nineteen twenties", "eighteen hundred" -> "eighteen hundreds"
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


# -- vocabulary --------------------------------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH = "|".join(MONTHS)

# Names that take a regnal number (kings, queens, popes, pharaohs, emperors). After one of
# these even a one-letter numeral ("Charles V", "Henry I") is a numeral; after any other
# title-case word only a numeral of two or more letters is.
REGNAL_NAMES = _names(
    """
    Adolf Afonso Alexander Alexios Alfonso Amenhotep Andronikos Anne Antiochus Basil Benedict
    Boniface Catherine Charles Christian Clement Constantine Cosimo Darius David Duncan Edmund
    Edward Elizabeth Ernest Eugene Ferdinand Francis Frederick Friedrich George Gregory Gustav
    Gustavus Haakon Harald Henri Henry Honorius Hugh Innocent Isabella Ivan James Joanna John
    Joseph Juan Julius Justinian Karl Leo Leopold Louis Ludwig Magnus Manuel Maria Mary Mehmed
    Michael Murad Napoleon Nicholas Olaf Otto Paul Pedro Peter Philip Philippe Pius Ptolemy
    Ramesses Rameses Richard Robert Rudolf Selim Sancho Seleucus Sixtus Stephen Suleiman Thutmose
    Umberto Urban Victor Vittorio Wilhelm William Xerxes
    """
)
# No ruler or sequel goes past this; a bigger "numeral" after a name is a word ("DIX", "MIX").
MAX_REGNAL = 40
# Title-case words that start sentences, never names: "In VI" is not a king.
_NOT_NAMES = _names(
    "The A An In On At To Of And But Or For With By From As Is It We He She They You This That "
    "If So When Then My His Her Our Their Its Was Were Be Not No Yes Our Your"
)
# Words after which a numeral counts rather than orders: "World War II" is "World War Two".
CARDINAL_AFTER = _names(
    "War Part Chapter Act Book Volume Vol Article Phase Section Scene Title Apollo Vatican "
    "Mark Type Stage Level Round Class Grade Psalm Canto Appendix Figure Plate Annex Episode"
)
# After "Henry I" these words say the "I" is the speaker, not the king ("Henry, I think..."
# written without its comma).
_PRONOUN_NEXT = re.compile(
    r"\s+(?:am|think|thought|believe|suppose|mean|hope|guess|feel|felt|agree|know|knew|"
    r"would|will|shall|should|could|can|must|have|had|do|did|don't|didn't|"
    r"wonder|want|wanted|fear|say|said|see|saw)\b|'(?:m|ve|ll|d)\b"
)

# Counting nouns that say a four-digit number is a quantity, not a year.
_COUNTED_IRREGULAR = _names(
    "men women people children feet teeth geese mice sheep cattle horsemen infantry cavalry "
    "troops head souls dead"
)
_NOT_PLURAL = _names(
    "was has is its as us his this thus plus across yes always perhaps less unless towards "
    "afterwards besides whereas bonus status chaos"
)
# Words before a number that make it a year, whatever follows.
_YEAR_CUE = re.compile(
    rf"(?:\b(?:in|by|of|since|until|till|from|after|before|around|circa|about|during|year|"
    rf"early|late|mid|spring|summer|autumn|fall|winter|{_MONTH}|between|and|to|c\.|ca\.)"
    r"[\s-]+|\b(?:year|anno)\s+)$",
    re.IGNORECASE,
)

# Title abbreviations before a name: the dot never ends a sentence.
_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Dr": "Doctor",
    "Prof": "Professor",
    "Gen": "General",
    "Col": "Colonel",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Cpl": "Corporal",
    "Adm": "Admiral",
    "Gov": "Governor",
    "Sen": "Senator",
    "Rep": "Representative",
    "Rev": "Reverend",
    "Fr": "Father",
    "Sr": "Sister",  # before a name; "Jr."/"Sr." after one are handled below
    "Mt": "Mount",
    "Ft": "Fort",
    "Pres": "President",
    "Hon": "Honourable",
}
# Abbreviations whose dot may also end the sentence.
_PHRASES = {
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "vs.": "versus",
    "vs": "versus",
    "approx.": "approximately",
    "viz.": "namely",
    "cf.": "compare",
}
_CURRENCY = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent")}
_SCALES = "thousand|million|billion|trillion"
_FRACTIONS = {
    "1/2": "one half",
    "1/3": "one third",
    "2/3": "two thirds",
    "1/4": "one quarter",
    "3/4": "three quarters",
    "½": "one half",
    "¼": "one quarter",
    "¾": "three quarters",
}

_ERA = r"(?:B\.C\.E\.|B\.C\.|BCE|BC|A\.D\.|AD|C\.E\.|CE)(?!\w)"
_ROMAN = r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_NAME = r"[A-Z][a-zà-ÿ]+(?:-[A-Z][a-zà-ÿ]+)?"
_NUM = r"\d{1,3}(?:,\d{3})+|\d+"  # "3,000" or "3000"


def _int(text: str) -> int:
    return int(text.replace(",", ""))


# -- the rules, in the order they run ----------------------------------------------------------

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _regnal(match: re.Match[str]) -> str:
    name, numeral, rest = match.group("name"), match.group("numeral"), match.group("rest") or ""
    try:
        value = roman.fromRoman(numeral)
    except roman.InvalidRomanNumeralError:
        return match.group(0)
    if value > MAX_REGNAL or name in _NOT_NAMES:
        return match.group(0)  # "the MIX", "Louis MMXX": not a king's number
    if numeral == "I" and _PRONOUN_NEXT.match(match.string, match.end("numeral")):
        return match.group(0)  # "Henry I think", "Part I mean"
    if name == "War" and not match.string[: match.start()].endswith("World "):
        return match.group(0)  # "after the War I went home": only World War I is a number
    if name in CARDINAL_AFTER:
        return f"{name} {cardinal(value).title()}{rest}"
    known = name in REGNAL_NAMES or any(part in REGNAL_NAMES for part in name.split("-"))
    if len(numeral) == 1 and not known:
        return match.group(0)
    return f"{name} the {ordinal(value).title()}{rest}"


def _era_after(match: re.Match[str]) -> str:
    """44 BC, 44 B.C., 79 AD, 500 BCE, 1200 CE"""
    value = _int(match.group(1))
    said = f"{year(value) if value < 10_000 else cardinal(value)} {_spell_era(match.group(2))}"
    return said + _stop_kept(match)


def _era_before(match: re.Match[str]) -> str:
    """AD 79, A.D. 79"""
    return f"{_spell_era(match.group(1))} {year(_int(match.group(2)))}"


def _stop_kept(match: re.Match[str]) -> str:
    """A full stop when the abbreviation's own dot also ended the sentence ("in 44 B.C. The")."""
    after = match.string[match.end() :]
    if match.group(0).endswith(".") and (
        not after.strip() or re.match(r"\s+[A-Z\"'\u201c]", after)
    ):
        return "."
    return ""


def _spell_era(era: str) -> str:
    # Letters apart, so every voice says the letters ("B C"), never a word ("bck").
    return " ".join(era.replace(".", "").upper())


def _era_word(match: re.Match[str]) -> str:
    """ "the 5th century BC": the era after a century (the ordinal is read by its own rule)."""
    return f"{match.group(1)} {_spell_era(match.group(2))}{_stop_kept(match)}"


def _decade(match: re.Match[str]) -> str:
    digits = match.group(1)
    if digits.startswith("'"):  # the '60s
        return _plural(cardinal(int(digits[1:])))
    value = int(digits)
    return _plural(year(value) if value >= 1000 else cardinal(value))


def _year_range(match: re.Match[str]) -> str:
    first, second = int(match.group(1)), match.group(2)
    end = int(second)
    return f"{year(first)} to {year(end)}"


def _ordinal(match: re.Match[str]) -> str:
    return ordinal(_int(match.group(1)))


def _day_month(match: re.Match[str]) -> str:
    return f"the {ordinal(int(match.group(1)))} of {match.group(2)}"


def _month_day(match: re.Match[str]) -> str:
    return f"{match.group(1)} {ordinal(int(match.group(2)))}"


def _money(match: re.Match[str]) -> str:
    symbol, whole, cents, scale = match.groups()
    unit, small = _CURRENCY[symbol]
    if scale:
        amount = cardinal(float(f"{_int(whole)}.{cents}")) if cents else cardinal(_int(whole))
        return f"{amount} {scale} {unit}s"
    value = _int(whole)
    words = f"{cardinal(value)} {unit if value == 1 else unit + 's'}"
    cents = (cents or "").ljust(2, "0")  # "$1.5" is one dollar fifty
    if int(cents):
        plural = small if int(cents) == 1 else ("pence" if small == "penny" else small + "s")
        words += f" and {cardinal(int(cents))} {plural}"
    return words


def _percent(match: re.Match[str]) -> str:
    number = match.group(1)
    value = float(number.replace(",", "")) if "." in number else _int(number)
    return f"{cardinal(value)} percent"


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = match.group(3)
    said = cardinal(hours)
    if minutes == 0:
        said += "" if suffix else " o'clock"
    elif minutes < 10:
        said += f" oh {cardinal(minutes)}"
    else:
        said += f" {cardinal(minutes)}"
    return said + (f" {_spell_era(suffix)}{_stop_kept(match)}" if suffix else "")


def _number(match: re.Match[str]) -> str:
    """A bare number: a year, or a quantity."""
    text = match.group(0)
    if "," in text or "." in text:
        return cardinal(float(text.replace(",", "")) if "." in text else _int(text))
    value = int(text)
    if len(text) > 1 and text.startswith("0"):
        return " ".join(cardinal(int(d)) for d in text)  # "007": digit by digit
    before = match.string[: match.start()]
    after = match.string[match.end() :]
    counted = _counts_something(after)
    if 1000 <= value <= 2099 and not counted:
        return year(value)
    if 100 <= value <= 999 and not counted and _YEAR_CUE.search(before[-20:]):
        return year(value)  # "in 476" is "four seventy-six"
    return cardinal(value)


def _counts_something(after: str) -> bool:
    nxt = re.match(r"\s+([a-z]+)\b", after)
    if nxt is None:
        return False
    word = nxt.group(1)
    if word in _COUNTED_IRREGULAR:
        return True
    return word.endswith("s") and len(word) > 2 and word not in _NOT_PLURAL


def _title(match: re.Match[str]) -> str:
    return _TITLES[match.group(1)]


def _saint_or_street(match: re.Match[str]) -> str:
    after = match.string[match.end() :]
    if re.match(r"\s+[A-Z]", after):
        return "Saint"
    before = match.string[: match.start()]
    return "Street" if re.search(r"[A-Z][a-z]+\s+$", before) else "Saint"


def _phrase(match: re.Match[str]) -> str:
    written = match.group(0)
    said = _PHRASES[written] if written in _PHRASES else _PHRASES[written.lower()]
    # Only "etc." ends sentences; "vs." and "e.g." are always followed by what they introduce.
    return said + (_stop_kept(match) if said == "et cetera" else "")


RULES: list[Rule] = [
    # Symbols that are words.
    (re.compile(r"\s*&\s*"), lambda m: " and "),
    (
        re.compile(r"(?<![\d/])(?:" + "|".join(re.escape(f) for f in _FRACTIONS) + r")(?![\d/])"),
        lambda m: _FRACTIONS[m.group(0)],
    ),
    # Abbreviations. Titles first: "Dr. Johnson" never ends a sentence at "Dr."
    (re.compile(r"\b(Mr|Mrs|Ms|Dr)\.(?=\s)"), _title),  # "Mr. and Mrs. Smith"
    (re.compile(rf"\b({'|'.join(_TITLES)})\.(?=\s+[A-Z])"), _title),
    (re.compile(r"\bSt\.(?=\s|$)"), _saint_or_street),
    (re.compile(r"(?<=[A-Za-z]),?\s+Jr\.?(?=\W|$)"), lambda m: " Junior"),
    (re.compile(r"\bNo\.\s*(?=\d)"), lambda m: "number "),
    (re.compile(r"\bNos\.\s*(?=\d)"), lambda m: "numbers "),
    (re.compile(r"#(?=\d)"), lambda m: "number "),
    (
        re.compile(r"(?<!\w)(?:etc\.|e\.g\.|i\.e\.|vs\.?|approx\.|viz\.|cf\.)(?!\w)", re.I),
        _phrase,
    ),
    # Regnal and series numerals: "Louis XIV", "Henry VIII's", "World War II".
    (
        re.compile(
            rf"\b(?P<name>{_NAME})\s+(?P<numeral>(?=[MDCLXVI])(?:{_ROMAN}))(?P<rest>'s)?\b"
            r"(?![-'\u2019]?\w)"
        ),
        _regnal,
    ),
    # Eras: "c. 1500", "44 BC", "AD 79", the decades and year ranges.
    (re.compile(r"\b(?:c|ca)\.\s*(?=\d)"), lambda m: "circa "),
    (re.compile(rf"\b({_NUM})\s*({_ERA})"), _era_after),
    (re.compile(rf"\b(A\.D\.|AD)\s*({_NUM})\b"), _era_before),
    (re.compile(rf"\b(centur(?:y|ies)|millenni(?:um|a))\s+({_ERA})"), _era_word),
    (re.compile(r"(?<![\w'])(\d{1,3}0|'\d0)'?s\b"), _decade),
    (re.compile(r"\b(1\d{3}|20\d{2})\s*[-\u2013\u2014]\s*(1\d{3}|20\d{2})\b"), _year_range),
    (
        re.compile(r"\b(1\d{3}|20\d{2})\s*[-\u2013]\s*(\d{2})\b(?!\d)"),
        lambda m: f"{year(int(m.group(1)))} to {year(int(m.group(1)[:2] + m.group(2)))}",
    ),
    # Dates and ordinals: "14 July", "July 14", "5th century", "19th-century", "21st".
    (re.compile(rf"\b([12]?\d|3[01])(?:st|nd|rd|th)?\s+({_MONTH})\b"), _day_month),
    (re.compile(rf"\b({_MONTH})\s+([12]?\d|3[01])(?:st|nd|rd|th)?\b(?!\d|,\d)"), _month_day),
    (re.compile(rf"\b({_NUM})(?:st|nd|rd|th)\b"), _ordinal),
    # Money, percentages, times.
    (
        re.compile(rf"([$£€])\s?({_NUM})(?:\.(\d{{1,2}}))?(?:\s+({_SCALES})\b)?"),
        _money,
    ),
    (re.compile(rf"\b((?:{_NUM})(?:\.\d+)?)\s*(?:%|per\s?cent\b)"), _percent),
    (re.compile(r"\b(\d{1,2}):(\d{2})\s*(a\.m\.|p\.m\.|am\b|pm\b)?", re.I), _time),
    (
        re.compile(r"\b(\d{1,2})\s*(a\.m\.|p\.m\.)", re.I),
        lambda m: f"{cardinal(int(m.group(1)))} {_spell_era(m.group(2))}{_stop_kept(m)}",
    ),
    # Whatever numbers are left: decimals, thousands, years.
    (re.compile(rf"(?<![\w.])(?:{_NUM})(?:\.\d+)?(?![\w])"), _number),
]


def spoken(text: str, lexicon: Lexicon | None = None, *, phonemes: bool = False) -> str:
    """The words a voice should say for `text`.

    `lexicon` respells words last, on the normalized text (so "Louis XIV" is first "Louis the
    Fourteenth", then "Loo-ee the Fourteenth"). With `phonemes` (eSpeak only), entries that
    give IPA are sent as eSpeak phoneme input `[[...]]` instead of their respelling.
    """
    if phonemes:
        # Only the lexicon may send eSpeak phonemes: "[[" in a script is text, not phonemes.
        text = text.replace("[[", "[ [").replace("]]", "] ]")
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    if lexicon is not None:
        text = lexicon.apply(text, phonemes=phonemes)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def spoken_words(text: str, lexicon: Lexicon | None = None) -> int:
    """Words the voice says for `text` ("1066" is three): what duration estimates count."""
    return len(_WORD.findall(spoken(text, lexicon)))


# The same words as `formats.base.count_words`.
_WORD = re.compile(r"[\w'\u2019-]+")


def _num2words() -> Any:
    # Imported on first use, not with the module: every run worker imports this module at
    # start, and num2words' language tables cost ~0.3 s there.
    from num2words import num2words

    return num2words
