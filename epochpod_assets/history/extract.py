"""Offline research: numbered facts and figure timelines pulled straight out of source texts.

No model and no network: sentences are scored and the best kept, each quoting itself with its
location, so every offline fact is a real passage of a real source. Deterministic: the same
texts give the same facts in the same order.

A sentence scores for
- mentioning a date (a full date more than a bare year; numbers that are not years do not
  count: the time guard's rules decide),
- sharing content words with the topic, and naming one of the figures,
- being a reasonable length for a fact (very short fragments and run-on paragraphs lose).
A sentence with neither a date nor a topic or figure word is not a fact about this episode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.history.factsheet import Fact, FigureTimeline, TimelineEvent
from epochpod_assets.history.sources import split_units
from epochpod_assets.history.timeguard import date_mentions, normalize

STOPWORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
        "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
        "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
        "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
        "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
        "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not",
        "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves",
        "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that",
        "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this",
        "those", "through", "to", "too", "under", "until", "up", "upon", "very", "was", "we",
        "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
        "would", "you", "your", "yours", "yourself", "yourselves", "one", "two", "three", "first",
        "many", "much", "made", "make", "later", "year", "years", "time", "said", "say", "says"
    }
)  # fmt: skip

# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "st", "sr", "jr", "prof", "gen", "col", "capt", "lt", "rev",
    "c", "ca", "vol", "no", "pp", "p", "fig", "e.g", "i.e", "etc", "vs", "cf", "b.c", "a.d",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
)  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")

MIN_WORDS = 6
MAX_WORDS = 60


def words(text: str) -> list[str]:
    """Lower-case content words, with a plain plural and possessive stripped."""
    out = []
    for word in re.findall(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]*", text):
        word = word.lower().removesuffix("'s").strip("'-")
        # A light, predictable stemmer: enough for "published" to meet "publish" and
        # "papers" to meet "paper" on both sides of a comparison.
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if len(word) > 5 and word.endswith("ed"):
            word = word[:-2]
        elif len(word) > 6 and word.endswith("ing"):
            word = word[:-3]
        if word and word not in STOPWORDS and len(word) > 1:
            out.append(word)
    return out


def sentences(paragraph: str) -> list[str]:
    """A paragraph cut into sentences, not at abbreviations ("Dr.", "c.", "44 B.C.") or
    initials ("J. J. Thomson")."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start : match.start()]
        last = re.search(r"([A-Za-z.]+)\.[\"')\]]*$", before)
        if last:
            token = last.group(1).lower()
            if token in _ABBREVIATIONS or len(token) == 1:
                continue
        pieces.append(paragraph[start : match.start()].strip())
        start = match.end()
    pieces.append(paragraph[start:].strip())
    return [piece for piece in pieces if piece]


@dataclass(frozen=True)
class Candidate:
    position: int
    location: str
    sentence: str
    score: float
    date: HistoricalDate | None
    date_text: str | None


def _surnames(figures: Sequence[str]) -> dict[str, str]:
    """Each figure's distinctive name words (lower case) -> the figure."""
    names: dict[str, str] = {}
    for figure in figures:
        for word in words(figure):
            if word not in ("king", "queen", "emperor", "saint", "sir", "lord", "lady", "pope"):
                names.setdefault(word, figure)
    return names


def _score(
    sentence: str, topic_words: set[str], names: dict[str, str], in_context: bool = False
) -> tuple[float, HistoricalDate | None, str | None]:
    tokens = words(sentence)
    if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS * 2:
        return 0.0, None, None
    mentions = date_mentions(normalize(sentence))
    date = mentions[0].point if mentions else None
    # The label keeps what was said: a range ("1914-1918") or a decade ("the 1920s").
    date_text = mentions[0].label if mentions else None
    score = 0.0
    if mentions:
        full = mentions[0].point.day is not None or mentions[0].point.month is not None
        score += 3.0 if full else 2.0
    token_set = set(tokens)
    if topic_words:
        overlap = len(token_set & topic_words) / len(topic_words)
        score += 4.0 * overlap
    named = {names[token] for token in token_set if token in names}
    score += 2.0 * len(named)
    # A sentence in a paragraph about a figure ("He ...", "Some 3000 people came to his
    # lecture") is about the figure too, a little less surely.
    if in_context and not named:
        score += 1.0
    if not mentions and not named and not in_context and not token_set & topic_words:
        return 0.0, None, None
    if len(sentence.split()) > MAX_WORDS:
        score -= 1.0
    # Prefer statements to questions and exclamations.
    if sentence.rstrip().endswith(("?", "!")):
        score -= 1.0
    return score, date, date_text


def extract_facts(
    text: str,
    *,
    topic: str,
    figures: Sequence[str] = (),
    limit: int = 20,
    source_id: int | None = None,
    first_id: int = 1,
) -> list[Fact]:
    """The `limit` best fact sentences of `text`, best first, numbered from `first_id`.

    Each fact's `quote` is the sentence exactly as it stands in the text and its `location`
    the paragraph (and page) it stands in, so the fact can be checked against its source."""
    topic_words = set(words(topic))
    names = _surnames(figures)
    candidates: list[Candidate] = []
    seen: set[str] = set()
    position = 0
    # In a text that names a figure, "He ..." and "She ..." sentences are most likely about
    # that figure even in paragraphs that do not repeat the name.
    names_figure = bool(set(words(text)) & set(names))
    for location, paragraph in split_units(text):
        # A paragraph that names a figure or shares the topic's words is about the episode:
        # its other sentences ("Around 20,000 artisans worked on it") are facts too.
        paragraph_words = set(words(paragraph))
        in_paragraph = bool(paragraph_words & set(names)) or (
            bool(topic_words) and len(paragraph_words & topic_words) * 2 >= len(topic_words)
        )
        for sentence in sentences(paragraph):
            position += 1
            # The same sentence twice (a repeated heading or caption) is one fact; sentences
            # that differ only in a date or a number are different facts.
            key = " ".join(sentence.casefold().split())
            if key in seen:
                continue
            seen.add(key)
            in_context = in_paragraph or (
                names_figure
                and re.search(r"(?:^|\s)(?:[Hh]e|[Ss]he|[Hh]is|[Hh]er)\s", sentence) is not None
            )
            score, date, date_text = _score(sentence, topic_words, names, in_context)
            if score > 0:
                candidates.append(Candidate(position, location, sentence, score, date, date_text))
    ranked = sorted(candidates, key=lambda c: (-c.score, c.position))[:limit]
    return [
        Fact(
            id=first_id + index,
            text=candidate.sentence,
            date=candidate.date_text,
            year=candidate.date.year if candidate.date else None,
            source_id=source_id,
            quote=candidate.sentence,
            location=candidate.location,
            sourced=source_id is not None,
        )
        for index, candidate in enumerate(ranked)
    ]


_LIFESPAN = re.compile(
    r"\(\s*(?:born\s+|b\.\s*)?(?P<birth>\d{3,4})(?:\s*(?P<bbc>BC|BCE))?\s*[-\u2013]\s*"
    r"(?:died\s+|d\.\s*)?(?P<death>\d{1,4})(?:\s*(?P<dbc>BC|BCE))?\s*\)",
    re.IGNORECASE,
)
_BORN = re.compile(r"\bborn\b", re.IGNORECASE)
_DIED = re.compile(r"\b(?:died|death|killed|assassinated|executed|murdered)\b", re.IGNORECASE)


def _mentions_figure(sentence: str, figure: str, names: set[str]) -> bool:
    if figure.casefold() in sentence.casefold():
        return True
    return bool(set(words(sentence)) & names)


def extract_timeline(
    texts: Sequence[str],
    figure: str,
    as_of: HistoricalDate | None = None,
    facts: Sequence[Fact] = (),
    limit: int = 12,
) -> FigureTimeline:
    """A figure's birth, death and dated events (up to `as_of`) from the texts.

    Birth and death come from a lifespan in brackets after the name ("Einstein (1879-1955)")
    or a sentence naming the figure with "born" or "died" and a year. Events are dated
    sentences about the figure, earliest first; each links to the fact quoting the same
    sentence when there is one."""
    names = set(_surnames([figure]))
    birth: int | None = None
    death: int | None = None
    events: dict[tuple[int, str], TimelineEvent] = {}
    quoted = {" ".join(words(fact.quote or fact.text)): fact.id for fact in facts}
    for text in texts:
        for _, paragraph in split_units(text):
            about = False
            for sentence in sentences(paragraph):
                # "He" and "She" after a sentence naming the figure in the same paragraph are
                # taken to mean the figure: a plain, predictable rule for short sources.
                if _mentions_figure(sentence, figure, names):
                    about = True
                elif not (about and re.match(r"(?:He|She|His|Her)\b", sentence)):
                    about = False
                    continue
                if len(sentence.split()) < MIN_WORDS:
                    continue
                lifespan = _LIFESPAN.search(sentence)
                if lifespan and (birth is None or death is None):
                    born = int(lifespan.group("birth")) * (-1 if lifespan.group("bbc") else 1)
                    died = int(lifespan.group("death")) * (
                        -1 if lifespan.group("dbc") or lifespan.group("bbc") else 1
                    )
                    if len(lifespan.group("death")) == 2 and not lifespan.group("dbc"):
                        died = born // 100 * 100 + died
                    birth = birth if birth is not None else born
                    death = death if death is not None else died
                mentions = date_mentions(normalize(sentence))
                if not mentions:
                    continue
                year = mentions[0].point.year
                if birth is None and _BORN.search(sentence):
                    birth = year
                elif death is None and _DIED.search(sentence) and not _BORN.search(sentence):
                    death = year
                if as_of is not None and not as_of.covers(mentions[0].point):
                    continue  # the figure speaks before this happened
                key = (year, " ".join(words(sentence)))
                if key not in events:
                    events[key] = TimelineEvent(
                        year=year, text=sentence, fact_id=quoted.get(key[1])
                    )
    ordered = sorted(events.values(), key=lambda event: event.year)
    # Birth and death are kept even past `as_of`: the host may say them; the time guard
    # keeps the figure from saying them.
    return FigureTimeline(
        name=figure,
        as_of=as_of.display() if as_of else None,
        birth=birth,
        death=death,
        events=ordered[:limit],
    )
