"""The fact sheet: what an episode may say, where each fact comes from, and what was found wrong.

`episode_research` writes one `FactSheet` per episode: its sources (content-addressed in media
storage), numbered facts (each with its date, source and the passage it rests on) and each
figure's timeline up to the date it speaks from. Prompts carry it (`as_prompt`), lines cite its
fact ids, and the checks report `Finding`s against it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SourceKind = Literal["txt", "md", "pdf", "html"]
FindingKind = Literal["anachronism", "unsupported", "contradicted"]
# Which check produced a finding: explicit dates and years, the dated lexicon, the offline
# claim matcher, or a model pass (labelled, because a model can be wrong in its own ways).
FindingOrigin = Literal["date", "lexicon", "claims", "model"]


class Source(BaseModel):
    """One source the episode rests on. `location` is the path or URL it came from (shown to
    people); `media_key` is where its extracted text is stored, derived from `sha256`."""

    id: int = Field(ge=1)
    title: str
    author: str | None = None
    year: int | None = None
    location: str
    media_key: str | None = None
    sha256: str | None = None
    kind: SourceKind = "txt"

    def citation(self) -> str:
        """One line for show notes: "Author, Title (year). location"."""
        parts = []
        if self.author:
            parts.append(f"{self.author}, ")
        parts.append(self.title)
        if self.year is not None:
            parts.append(f" ({self.year})")
        parts.append(f". {self.location}")
        return "".join(parts)


class Fact(BaseModel):
    """A numbered fact. A sourced fact has a source and the exact passage (`quote`) it rests on,
    found at `location` in that source ("paragraph 4", "page 2"); an unsourced one is the
    model's own knowledge and is marked so."""

    id: int = Field(ge=1)
    text: str
    date: str | None = None
    year: int | None = None
    source_id: int | None = None
    quote: str | None = None
    location: str | None = None
    sourced: bool = False


class TimelineEvent(BaseModel):
    year: int
    text: str
    fact_id: int | None = None


class FigureTimeline(BaseModel):
    """What a figure had lived through by `as_of` (the display form of the date, e.g. "44 BC")."""

    name: str
    as_of: str | None = None
    birth: int | None = None
    death: int | None = None
    events: list[TimelineEvent] = Field(default_factory=list)


class FactSheet(BaseModel):
    topic: str
    sources: list[Source] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    timelines: list[FigureTimeline] = Field(default_factory=list)

    def fact(self, fact_id: int) -> Fact:
        """The fact with this id; KeyError when there is none (a line cited a made-up id)."""
        for fact in self.facts:
            if fact.id == fact_id:
                return fact
        raise KeyError(fact_id)

    def source(self, source_id: int) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    def timeline(self, name: str) -> FigureTimeline | None:
        wanted = name.casefold().strip()
        for timeline in self.timelines:
            if timeline.name.casefold().strip() == wanted:
                return timeline
        return None

    @property
    def sourced_share(self) -> float:
        """Share of facts that rest on a quoted source passage (1.0 with no facts at all)."""
        if not self.facts:
            return 1.0
        return sum(1 for fact in self.facts if fact.sourced) / len(self.facts)

    def fact_line(self, fact: Fact) -> str:
        """`[3] (1921) Text. — source 1, paragraph 4` (or "unsourced")."""
        when = f"({fact.date}) " if fact.date else ""
        if fact.sourced and fact.source_id is not None:
            where = f"source {fact.source_id}"
            if fact.location:
                where += f", {fact.location}"
        else:
            where = "unsourced"
        return f"[{fact.id}] {when}{fact.text} — {where}"

    def as_prompt(self, max_facts: int | None = None) -> str:
        """The fact sheet as prompt text: sources, numbered facts and timelines, so a writer
        can cite fact ids and knows what each figure had lived through."""
        lines = [f"Fact sheet: {self.topic}"]
        if self.sources:
            lines.append("Sources:")
            lines.extend(f"  S{source.id}. {source.citation()}" for source in self.sources)
        facts = self.facts if max_facts is None else self.facts[:max_facts]
        if facts:
            lines.append("Facts (cite by number):")
            lines.extend(f"  {self.fact_line(fact)}" for fact in facts)
        for timeline in self.timelines:
            life = f"{_year(timeline.birth)}-{_year(timeline.death)}"
            head = f"Timeline of {timeline.name} ({life})"
            if timeline.as_of:
                head += f", speaking as of {timeline.as_of}"
            lines.append(head + ":")
            lines.extend(
                f"  {_year(event.year)}: {event.text}"
                + (f" [{event.fact_id}]" if event.fact_id else "")
                for event in timeline.events
            )
        return "\n".join(lines)

    def preview(self, count: int = 5) -> str:
        """A short readable sample for asset metadata."""
        return "\n".join(self.fact_line(fact) for fact in self.facts[:count])


def _year(year: int | None) -> str:
    if year is None:
        return "?"
    return f"{-year} BC" if year < 0 else str(year)


class Finding(BaseModel):
    """One problem with one line of a script. `line` is 1-based: the line's position in the
    script's spoken lines, or its line number in a script file."""

    line: int = Field(ge=1)
    speaker: str
    kind: FindingKind
    term: str
    evidence: str
    origin: FindingOrigin
    fact_id: int | None = None

    def describe(self) -> str:
        return f"line {self.line} ({self.speaker}): {self.kind} {self.term!r}: {self.evidence}"
