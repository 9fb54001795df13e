"""Research: the episode's fact sheet, written before the outline and checked, never trusted.

The research stage reads the request's sources (files stored at enqueue, URLs fetched now) and
turns them into numbered facts through the writer, one chunk of a source per writing task, so
a long source is read in parallel and no prompt outgrows the model:

- With a model (OpenAI or compatible), each chunk's facts come back as JSON with the exact
  passage each rests on. Every quote is looked up in the chunk's own text (whitespace and
  quote marks aside); a fact whose quote is not there is dropped and counted, not kept.
  Without sources the model is asked for the figures' own well-known facts; those are kept
  but marked unsourced, so the claim check and the show notes can tell them apart.
- Offline, each chunk's "answer" is the extraction in `history.extract` (dated, on-topic
  sentences ranked): the same tasks, answered by their templates.

Then each figure's date is settled (`resolve_dates`): the date given in the request, else the
meeting's date, else the last year of their life that research found, else the latest dated
fact about them; the rule used is kept with the date and shown in the metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.history.dates import HistoricalDate, find_date
from epochpod_assets.history.extract import extract_facts, extract_timeline
from epochpod_assets.history.factsheet import Fact, FactSheet, FigureTimeline, Source, TimelineEvent
from epochpod_assets.history.fetch import FetchPolicy
from epochpod_assets.history.sources import SourceError, ingest, load_text, source_key, split_units
from epochpod_assets.providers.base import Usage, Writer, WritingTask
from epochpod_assets.storage import MediaStore

# Words of source text per research task: a few pages, well inside any model's context.
CHUNK_WORDS = 1_200
# Facts kept per episode: enough for an hour's script, few enough for every prompt to carry.
MAX_FACTS = 60
MAX_FACTS_PER_CHUNK = 12
# Research tasks written at once (the shared rate limiter sets the real pace).
PARALLEL_CHUNKS = 8

INSTRUCTIONS = (
    "You are the research desk of Epoch Pod, a history podcast. You extract facts from the "
    "source text you are given. Every fact must rest on a passage copied exactly, word for "
    "word, from the text (a sentence or a phrase of it), with the location label that "
    "precedes that passage. Give the fact's date as written (a year, '44 BC', a full date) "
    "or null. Never add facts the text does not state. Answer only with JSON that fits the "
    "schema."
)
OWN_INSTRUCTIONS = (
    "You are the research desk of Epoch Pod, a history podcast. No sources were given: list "
    "well-established facts about the figures and the topic, each with its date, and each "
    "figure's birth and death years (negative for BC; null if unknown or still alive at the "
    "date they speak from). Only facts a careful historian would accept. Answer only with "
    "JSON that fits the schema."
)


class WrittenFact(BaseModel):
    text: str = Field(description="the fact, one plain sentence")
    date: str | None = Field(description="its date as a year or full date, or null")
    quote: str = Field(description="the exact words from the text this fact rests on")
    location: str = Field(description="the location label of the quoted passage")


class ChunkFacts(BaseModel):
    facts: list[WrittenFact]


class OwnFact(BaseModel):
    text: str
    date: str | None


class Life(BaseModel):
    name: str
    birth: int | None = Field(description="birth year, negative for BC")
    death: int | None = Field(description="death year, negative for BC")


class OwnFacts(BaseModel):
    facts: list[OwnFact]
    lives: list[Life]


class Chunk(BaseModel):
    """A run of one source's paragraphs, each with its location label."""

    source_id: int
    units: list[tuple[str, str]]

    def text(self) -> str:
        return "\n".join(f"[{where}] {paragraph}" for where, paragraph in self.units)


class VoiceDate(BaseModel):
    """The date one speaker speaks from, and why that date."""

    speaker: str
    as_of: str | None  # display form ("44 BC"); None: no date could be settled
    year: int | None
    rule: str


class Research(BaseModel):
    """What `episode_research` stores (research.json)."""

    sheet: FactSheet
    voices: list[VoiceDate]
    dropped_quotes: int = 0  # facts a model wrote whose passage is not in the source
    chunks: int = 0

    def as_of(self) -> dict[str, HistoricalDate | None]:
        return {
            v.speaker: HistoricalDate.model_validate(v.as_of) if v.as_of else None
            for v in self.voices
        }


def fetch_policy() -> FetchPolicy:
    """The source caps and address rule the settings give (EPOCHPOD_SOURCES_*): private and
    loopback addresses are refused unless the deployment allows them."""
    from epochpod_assets import settings

    config = settings.load()
    return FetchPolicy(
        max_bytes=config.sources_max_bytes,
        timeout_seconds=config.sources_timeout_seconds,
        allow_private=config.sources_allow_private,
    )


def load_sources(
    specs: Sequence[Any], store: MediaStore, policy: FetchPolicy | None = None
) -> list[tuple[Source, str]]:
    """Each requested source as a fact-sheet `Source` and its text: files from the text stored
    at enqueue (checked against its hash), URLs fetched now. Raises SourceError naming it."""
    loaded = []
    for number, spec in enumerate(specs, start=1):
        if spec.sha256:
            source = Source(
                id=number,
                title=spec.title or spec.location,
                author=spec.author,
                year=spec.year,
                location=spec.location,
                media_key=source_key(spec.sha256),
                sha256=spec.sha256,
                kind=_kind(spec.location),
            )
            loaded.append((source, load_text(store, source)))
        elif spec.is_url:
            loaded.append(ingest(store, spec, number, policy or fetch_policy()))
        else:
            # A path that was never read at enqueue (a row written by hand): reading it now
            # would let a queue row make the pipeline read any file on its machine.
            raise SourceError(
                f"source {number} ({spec.location}): a file must be read when the request is "
                "accepted (epochpod enqueue --source); give a URL instead"
            )
    return loaded


def _kind(location: str) -> Any:
    suffix = location.rsplit(".", 1)[-1].lower()
    return {"md": "md", "markdown": "md", "pdf": "pdf", "html": "html", "htm": "html"}.get(
        suffix, "txt"
    )


def chunks(source: Source, text: str, words: int = CHUNK_WORDS) -> list[Chunk]:
    out: list[Chunk] = []
    current: list[tuple[str, str]] = []
    count = 0
    for where, paragraph in split_units(text):
        size = len(paragraph.split())
        if current and count + size > words:
            out.append(Chunk(source_id=source.id, units=current))
            current, count = [], 0
        current.append((where, paragraph))
        count += size
    if current:
        out.append(Chunk(source_id=source.id, units=current))
    return out


def research(
    writer: Writer,
    *,
    topic: str,
    figures: Mapping[str, HistoricalDate | None],
    meeting: HistoricalDate | None,
    sources: Sequence[tuple[Source, str]],
    usage: Usage,
    parallel: int = PARALLEL_CHUNKS,
    own_knowledge: bool = True,
) -> Research:
    """The fact sheet for an episode on `topic` with `figures` (speaker -> the date asked for,
    or None), from `sources`, written through `writer` (offline: extracted). Without sources
    the writer's own facts are asked for, unless `own_knowledge` is off (a producer's own
    script: nothing is written for it)."""
    from epochpod_assets.scripting.longform import run_parallel

    work = [chunk for source, text in sources for chunk in chunks(source, text)]
    facts: list[Fact] = []
    told: list[Life] = []
    dropped = 0
    if work:
        answers = run_parallel(
            lambda chunk: writer.write(chunk_task(topic, list(figures), chunk), usage),
            work,
            parallel,
        )
        for chunk, answer in zip(work, answers, strict=True):
            kept, lost = _checked(chunk, answer.facts[:MAX_FACTS_PER_CHUNK])
            facts += kept
            dropped += lost
    elif own_knowledge:
        own = writer.write(own_task(topic, list(figures)), usage)
        facts = [
            Fact(id=1, text=f.text, date=f.date, year=_year(f.date), sourced=False)
            for f in own.facts
        ]
        told = own.lives
    facts = _numbered(_unique(facts)[:MAX_FACTS])
    sheet = FactSheet(topic=topic, sources=[s for s, _ in sources], facts=facts)
    texts = [text for _, text in sources]
    known = lives(list(figures), texts, sheet, told)
    voices = resolve_dates(figures, meeting, sheet, known)
    sheet.timelines = [timeline(v, texts, sheet, known) for v in voices]
    return Research(sheet=sheet, voices=voices, dropped_quotes=dropped, chunks=len(work))


def chunk_task(topic: str, figures: list[str], chunk: Chunk) -> WritingTask[ChunkFacts]:
    prompt = (
        "Task: history.research\n"
        f"Topic: {topic}\n"
        f"Figures: {', '.join(figures) or 'none'}\n"
        f"List up to {MAX_FACTS_PER_CHUNK} facts from this text that matter for the topic and "
        "the figures, dated ones first.\n"
        f"Chunk JSON: {chunk.model_dump_json()}\n"
        f"Text:\n{chunk.text()}"
    )
    return WritingTask(
        name=f"research of source {chunk.source_id}",
        schema=ChunkFacts,
        instructions=INSTRUCTIONS,
        prompt=prompt,
        template=lambda: offline_chunk_facts(topic, figures, chunk),
    )


def own_task(topic: str, figures: list[str]) -> WritingTask[OwnFacts]:
    prompt = (
        "Task: history.own_facts\n"
        f"Topic: {topic}\n"
        f"Figures JSON: {json.dumps(figures)}\n"
        "List up to 20 facts about the topic and the figures, and each figure's life."
    )
    return WritingTask(
        name="research without sources",
        schema=OwnFacts,
        instructions=OWN_INSTRUCTIONS,
        prompt=prompt,
        # Offline there is no knowledge to draw on: no facts rather than invented ones.
        template=lambda: OwnFacts(facts=[], lives=[]),
    )


def offline_chunk_facts(topic: str, figures: list[str], chunk: Chunk) -> ChunkFacts:
    """What the offline writer answers for one chunk: the extraction's ranked sentences, each
    quoting itself."""
    text = "\n\n".join(paragraph for _, paragraph in chunk.units)
    found = extract_facts(text, topic=topic, figures=figures, limit=MAX_FACTS_PER_CHUNK)
    out = []
    for fact in found:
        if not fact.text.rstrip().endswith((".", "!", "?", '"', "”")):
            continue  # a heading or a caption, not a statement a speaker can make
        where = next((w for w, p in chunk.units if _norm(fact.quote or fact.text) in _norm(p)), "")
        out.append(
            WrittenFact(
                text=fact.text,
                date=fact.date,
                quote=fact.quote or fact.text,
                location=where or (chunk.units[0][0] if chunk.units else ""),
            )
        )
    return ChunkFacts(facts=out)


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _norm(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split()).casefold()


def _checked(chunk: Chunk, written: Sequence[WrittenFact]) -> tuple[list[Fact], int]:
    """The facts whose quote occurs in the chunk, located; and how many were dropped."""
    kept: list[Fact] = []
    dropped = 0
    for fact in written:
        quote = _norm(fact.quote)
        if len(quote) < 8:
            dropped += 1
            continue
        where = next(
            (w for w, p in chunk.units if w == fact.location and quote in _norm(p)), None
        ) or next((w for w, p in chunk.units if quote in _norm(p)), None)
        if where is None:
            dropped += 1
            continue
        kept.append(
            Fact(
                id=1,
                text=" ".join(fact.text.split()),
                date=fact.date,
                year=_year(fact.date) or _year(fact.quote),
                source_id=chunk.source_id,
                quote=" ".join(fact.quote.split()),
                location=where,
                sourced=True,
            )
        )
    return kept, dropped


def _year(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return find_date(text).year
    except ValueError:
        return None


def _unique(facts: list[Fact]) -> list[Fact]:
    seen: set[str] = set()
    out = []
    for fact in facts:
        key = _norm(fact.text)
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def _numbered(facts: list[Fact]) -> list[Fact]:
    return [fact.model_copy(update={"id": number}) for number, fact in enumerate(facts, 1)]


def _mentions(name: str, text: str) -> bool:
    surname = name.split()[-1] if name.split() else name
    return bool(re.search(rf"\b{re.escape(surname)}\b", text, re.IGNORECASE))


def lives(
    figures: Sequence[str], texts: Sequence[str], sheet: FactSheet, told: Sequence[Life] = ()
) -> list[Life]:
    """Each figure's birth and death years: what a model said (research without sources),
    else what the sources say (`extract.extract_timeline`: a lifespan in brackets, or a
    sentence naming them with "born" or "died")."""
    out = []
    for name in figures:
        known = next((life for life in told if life.name.casefold() == name.casefold()), None)
        if known is not None:
            out.append(Life(name=name, birth=known.birth, death=known.death))
            continue
        found = extract_timeline(texts, name, None, sheet.facts) if texts else None
        out.append(
            Life(
                name=name,
                birth=found.birth if found else None,
                death=found.death if found else None,
            )
        )
    return out


def resolve_dates(
    figures: Mapping[str, HistoricalDate | None],
    meeting: HistoricalDate | None,
    sheet: FactSheet,
    known: Sequence[Life] = (),
) -> list[VoiceDate]:
    """Each figure's date and the rule that chose it (the documented default, in order):
    the date given for the figure; the meeting's date; the last year of their life found by
    research; the latest dated fact that names them; none (the time guard then holds them
    only to the present day)."""
    voices = []
    for speaker, given in figures.items():
        death = next((life.death for life in known if life.name == speaker), None)
        if given is not None:
            voices.append(_voice(speaker, given, "given in the request"))
        elif meeting is not None:
            voices.append(_voice(speaker, meeting, "the meeting's date, given in the request"))
        elif death is not None:
            voices.append(
                _voice(speaker, HistoricalDate(year=death), "default: last year of life found")
            )
        elif years := [
            f.year for f in sheet.facts if f.year is not None and _mentions(speaker, f.text)
        ]:
            voices.append(
                _voice(
                    speaker,
                    HistoricalDate(year=max(years)),
                    "default: latest dated fact that names them",
                )
            )
        else:
            voices.append(
                VoiceDate(
                    speaker=speaker,
                    as_of=None,
                    year=None,
                    rule="default: no date found by research; only the present day bounds them",
                )
            )
    return voices


def _voice(speaker: str, date: HistoricalDate, rule: str) -> VoiceDate:
    return VoiceDate(speaker=speaker, as_of=date.display(), year=date.year, rule=rule)


def timeline(
    voice: VoiceDate, texts: Sequence[str], sheet: FactSheet, known: Sequence[Life]
) -> FigureTimeline:
    """The figure's life up to the date they speak from (`extract.extract_timeline`), with
    the birth and death years research settled."""
    as_of = HistoricalDate.model_validate(voice.as_of) if voice.as_of else None
    found = extract_timeline(texts, voice.speaker, as_of, sheet.facts)
    life = next((x for x in known if x.name == voice.speaker), None)
    if life is not None:
        found.birth = life.birth if life.birth is not None else found.birth
        found.death = life.death if life.death is not None else found.death
    if not texts:
        # Without sources the facts are the only dated record: those naming the figure.
        found.events = [
            TimelineEvent(year=f.year, text=f.text, fact_id=f.id)
            for f in sorted(sheet.facts, key=lambda f: f.year or 0)
            if f.year is not None
            and _mentions(voice.speaker, f.text)
            and (as_of is None or f.year <= as_of.year)
        ]
    return found
