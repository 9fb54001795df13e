"""What every episode format provides. The engine (assets, checks, catalog, command line, jobs,
feed, budget, demo) only talks to this interface, so adding a format means adding one package
next to this module and one line to `formats/registry.py`."""

from __future__ import annotations

import argparse
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.providers.base import (
    CastRejected,
    LengthRejected,
    StructureRejected,
    WritingTask,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

    from epochpod_assets.scripting.scriptfile import ScriptFile

WORDS_PER_MINUTE = 150
# How far a script's length may stray from its word budget before it is sent back.
WORD_BUDGET_TOLERANCE = 0.2


class CastMismatch(ValueError):
    """A producer's script file that does not fit a format; `problems` names each misfit."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def cast_mismatch(script: ScriptFile, rule: str) -> CastMismatch:
    """The file's speakers against the format's `rule`, each with the line it first speaks."""
    first: dict[str, int] = {}
    for line in script.spoken_lines():
        first.setdefault(line.speaker, line.line)
    shown = ", ".join(f"{name} (line {number})" for name, number in first.items())
    return CastMismatch([f"cast: {rule}; the file has {len(first)}: {shown}"])


def minutes_for_words(words: int) -> float:
    """The `target_minutes` of a script of `words` spoken words, within 1 to 60."""
    return min(60.0, max(1.0, round(words / WORDS_PER_MINUTE, 1)))


def voice_fields(fields: Mapping[str, str], voice_of: Mapping[str, str]) -> dict[str, str]:
    """Request field -> voice, for the speakers (field -> name) a voice was given for."""
    return {field: voice_of[name] for field, name in fields.items() if name in voice_of}


class Line(BaseModel):
    """One turn: who speaks and what they say."""

    speaker: str = Field(description="exactly one of the cast names")
    text: str = Field(description="what the speaker says, as spoken prose without stage directions")
    # Ids of the fact sheet's facts the line rests on (history/): what the claim check starts
    # from and what the show notes cite. Empty for a line that claims nothing.
    facts: list[int] = Field(
        default_factory=list,
        description="ids of the fact sheet's facts this line rests on; empty if it states none",
    )


class Section(BaseModel):
    """A run of turns that becomes one chapter of the audio."""

    title: str
    lines: list[Line]


@dataclass(frozen=True)
class TrackPlan:
    """One audio file to render: the whole episode, or one adventure node."""

    key: str  # safe object-key component, never user text
    title: str
    sections: list[Section]


@dataclass(frozen=True)
class RenderedTrackInfo:
    key: str
    url: str
    bytes: int
    duration_seconds: float
    captions_url: str | None = None


@dataclass(frozen=True)
class Publication:
    """The episode fields the web app shows once an episode is published."""

    title: str
    subtitle: str
    description: str
    topic: str
    era: str | None
    sources: list[str]


Role = Literal["opening", "body", "closing"]


class SectionBrief(BaseModel):
    """What the writer of one part of a section-parallel script is given besides the outline:
    its place, its budget, what came before (a running summary and the hand-off line it picks
    up from) and what comes after (so it neither pre-empts nor repeats its neighbours)."""

    index: int
    count: int
    role: Role
    chapter: str  # the section (chapter) of the joined script this part belongs to
    words: int
    covers: str
    questions: list[str] = Field(default_factory=list)
    so_far: str = ""
    previous_hand_off: str | None = None
    next_hand_off: str | None = None


class SectionScript(BaseModel):
    """One part of a section-parallel script."""

    lines: list[Line]


def count_words(text: str) -> int:
    return len(re.findall(r"[\w'\u2019-]+", text))


def section_words(sections: Iterable[Section]) -> int:
    return sum(count_words(line.text) for s in sections for line in s.lines)


def reject_unknown_speakers(spoken: Iterable[str], cast: Iterable[str]) -> None:
    """StructureRejected naming any speaker outside the cast."""
    if unknown := set(spoken) - set(cast):
        raise StructureRejected(
            f"unknown speakers {sorted(unknown)}; the cast is {sorted(set(cast))}"
        )


def check_lines(sections: Sequence[Section], cast: Iterable[str], budget: int) -> None:
    """Reject a script that an audio render would get wrong: unknown speakers, a silent cast
    member, or a length far from the budget. Raises ValueError naming the problem."""
    cast = set(cast)
    spoken = {line.speaker for s in sections for line in s.lines}
    reject_unknown_speakers(spoken, cast)
    if silent := cast - spoken:
        raise CastRejected(f"cast members who never speak: {sorted(silent)}")
    if any(not line.text.strip() for s in sections for line in s.lines):
        raise StructureRejected("a line has no text")
    words = section_words(sections)
    low, high = budget * (1 - WORD_BUDGET_TOLERANCE), budget * (1 + WORD_BUDGET_TOLERANCE)
    if not low <= words <= high:
        raise LengthRejected(
            f"the script has {words} words; it must have {int(low)} to {int(high)} "
            f"({budget} words is the budget for the requested length)"
        )


def chapters_from_parts(
    briefs: Sequence[SectionBrief], parts: Sequence[SectionScript]
) -> list[Section]:
    """Join section-parallel parts in order: consecutive parts of one chapter become one
    section, so a long chapter written as several parts is still one chapter of the audio."""
    sections: list[Section] = []
    for brief, part in zip(briefs, parts, strict=True):
        if sections and sections[-1].title == brief.chapter:
            sections[-1].lines.extend(part.lines)
        else:
            sections.append(Section(title=brief.chapter, lines=list(part.lines)))
    return sections


def transcript(sections: Iterable[Section]) -> str:
    """`Speaker: text` paragraphs, as the original web app stored transcripts."""
    return "\n\n".join(f"{line.speaker}: {line.text}" for s in sections for line in s.lines)


@dataclass(frozen=True)
class Verdict:
    """A check's answer: passed or not, a sentence a producer reads, and numbers for the UI."""

    passed: bool
    reason: str  # why it passed or failed, in a sentence the web app can show
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptCheck:
    """A blocking check of an episode's script that only some formats need (a debate's
    balance). The engine makes one Dagster asset check of each; for an episode of another
    format it passes, saying so."""

    name: str
    description: str
    judge: Callable[[Any, Sequence[TrackPlan]], Verdict]  # (request, tracks) -> verdict


@dataclass(frozen=True)
class FeedEntry:
    """How a published episode appears in the podcast feed: its description and which of its
    tracks is the enclosure (None: the first)."""

    description: str
    track_key: str | None = None


RequestT = TypeVar("RequestT", bound=BaseModel)
OutlineT = TypeVar("OutlineT", bound=BaseModel)
ScriptT = TypeVar("ScriptT", bound=BaseModel)


class EpisodeFormat(ABC, Generic[RequestT, OutlineT, ScriptT]):
    """One kind of episode: its request, schemas, prompts, offline templates, tracks, catalog
    detail, command-line flags, demo request, cost shape and feed entry."""

    name: ClassVar[str]  # the request's `format` and the command `epochpod enqueue <name>`
    episode_type: ClassVar[str]  # the catalog's `type`: the name in capitals
    summary: ClassVar[str]  # one line for `--help` and the launchpad
    request_model: type[RequestT]
    outline_model: type[OutlineT]
    script_model: type[ScriptT]
    # The web app's own table for this format's detail, if it has one; every format's detail is
    # also kept as JSON in the catalog's `episode_details`, which needs no table per format.
    detail_table: ClassVar[sa.Table | None] = None
    # Checks of the script that only this format needs (see `ScriptCheck`).
    script_checks: ClassVar[tuple[ScriptCheck, ...]] = ()

    # --- the request ------------------------------------------------------------------------

    @abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The flags of `epochpod enqueue <name>`, each named after a request field (dashes
        for underscores) unless `request_fields` maps it."""

    def request_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The request's fields from the parsed flags that were given (None values dropped)."""
        return dict(values)

    @abstractmethod
    def demo_request(self) -> dict[str, Any]:
        """A short, valid request that shows the format off: what `epochpod demo` makes."""

    def placeholder_title(self, request: RequestT) -> str:
        """The title the catalog shows while the episode is being made."""
        return f"Generating {self.name}..."

    def catalog_topic(self, request: RequestT) -> str | None:
        """The catalog row's `topic` before the outline exists."""
        topic = getattr(request, "topic", None)
        return str(topic) if topic is not None else None

    @abstractmethod
    def cast(self, request: RequestT) -> dict[str, str]:
        """Speaker name -> voice name."""

    @abstractmethod
    def outline_task(self, request: RequestT) -> WritingTask[OutlineT]: ...

    @abstractmethod
    def script_task(
        self, request: RequestT, outline: OutlineT, budget: int | None = None
    ) -> WritingTask[ScriptT]:
        """The whole script in one call. `budget` is the words of one listen (default: the
        target minutes at 150 words per minute; `pacing.plan_words` gives a measured one)."""

    # Section-parallel writing (see `formats/longform.py`). A format that can split its script
    # into independently written parts overrides these three; the default is one call.

    def section_briefs(
        self, request: RequestT, outline: OutlineT, budget: int
    ) -> list[SectionBrief] | None:
        """The parts to write concurrently, or None to write the script in one call."""
        return None

    def section_task(
        self, request: RequestT, outline: OutlineT, brief: SectionBrief
    ) -> WritingTask[SectionScript]:
        raise NotImplementedError(f"{type(self).__name__} is written in one call")

    def join_sections(
        self,
        request: RequestT,
        outline: OutlineT,
        briefs: Sequence[SectionBrief],
        parts: Sequence[SectionScript],
    ) -> ScriptT:
        raise NotImplementedError(f"{type(self).__name__} is written in one call")

    def check_script(
        self, request: RequestT, outline: OutlineT, script: ScriptT, budget: int
    ) -> None:
        """Raise ValueError if a joined script breaks the format's rules (default: the
        whole-script task's own check)."""
        check = self.script_task(request, outline, budget).check
        if check is not None:
            check(script)

    # Typical words per turn and sections per episode: the planner turns them into the
    # pauses the renderer adds between turns and sections (time in which no word is spoken).
    words_per_turn: ClassVar[float] = 40.0

    def expected_sections(self, request: RequestT) -> int:
        return 1

    def fixed_turns(self, request: RequestT) -> int | None:
        """Turns in one listen when the format fixes them; None when they grow with length."""
        return None

    # Who speaks from the past (history/): the time guard holds each of these speakers to a
    # date, and research settles the dates not given. Speakers left out (a host, a moderator)
    # speak from today and may look back.

    def figures(self, request: RequestT) -> dict[str, HistoricalDate | None]:
        """Speaker -> the date they speak from as requested (None: research settles it)."""
        return {}

    def meeting_date(self, request: RequestT) -> HistoricalDate | None:
        """One date for every figure without their own (a debate's meeting), or None."""
        return None

    @abstractmethod
    def tracks(self, request: RequestT, outline: OutlineT, script: ScriptT) -> list[TrackPlan]: ...

    @abstractmethod
    def publication(self, request: RequestT, outline: OutlineT) -> Publication: ...

    @abstractmethod
    def detail(
        self,
        request: RequestT,
        outline: OutlineT,
        script: ScriptT,
        tracks: Sequence[RenderedTrackInfo],
    ) -> dict[str, Any]:
        """Values for the format's detail table."""

    @abstractmethod
    def outline_preview(self, outline: OutlineT) -> str:
        """Markdown the Dagster UI shows for the outline."""

    def spoken_words(self, request: RequestT) -> int:
        """Words that will be voiced (what speech costs): one listen's budget unless the format
        voices more than one listen (branches nobody hears on one path)."""
        return self.word_budget(request)

    def words_per_listen(self, request: RequestT, track_words: Sequence[int]) -> int:
        """Words a listener hears in one listen, from each track's words."""
        return sum(track_words)

    def feed_entry(self, description: str, detail: Mapping[str, Any]) -> FeedEntry:
        """The feed item's description and enclosure, from the published detail."""
        return FeedEntry(description)

    def listening_seconds(self, request: RequestT, tracks: Sequence[RenderedTrackInfo]) -> float:
        """How long one listen takes: for a linear episode, its one track."""
        return sum(t.duration_seconds for t in tracks)

    def word_budget(self, request: RequestT) -> int:
        return round(float(getattr(request, "target_minutes", 5)) * WORDS_PER_MINUTE)

    def own_script_fields(
        self, script: ScriptFile, title: str, voice_of: Mapping[str, str]
    ) -> dict[str, Any]:
        """The request fields that voice a producer's own script file in this format: the cast
        from the file's speakers (in the order they first speak) with the voices `voice_of`
        gives, the title, and the shape. `target_minutes` may be left to the caller (the
        file's words at 150 a minute). Raises CastMismatch naming what does not fit."""
        raise CastMismatch([f"format: a {self.name} cannot be voiced from a script file"])

    def script_preview(self, request: RequestT, outline: OutlineT, script: ScriptT) -> str:
        """Markdown preview of the script: the first turns of each track."""
        parts = []
        for track in self.tracks(request, outline, script)[:4]:
            lines = [line for s in track.sections for line in s.lines][:6]
            # A paragraph per turn: lines joined by one newline run together in Markdown.
            body = "\n\n".join(f"**{line.speaker}:** {line.text}" for line in lines)
            parts.append(f"### {track.title}\n\n{body}")
        return "\n\n".join(parts)
