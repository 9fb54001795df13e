"""Documentary: one narrator tells a piece of history in parts; the figures involved read short
passages of their own letters, speeches and diaries in character. A chapter per part."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.formats import prose, schemas
from epochpod_assets.formats.base import (
    CastMismatch,
    EpisodeFormat,
    Line,
    Publication,
    RenderedTrackInfo,
    Section,
    SectionBrief,
    SectionScript,
    TrackPlan,
    cast_mismatch,
    chapters_from_parts,
    check_lines,
    count_words,
    voice_fields,
)
from epochpod_assets.formats.documentary.request import MIN_WORDS_PER_PART, DocumentaryRequest
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.providers.base import WritingTask
from epochpod_assets.providers.voices import VOICE_HELP
from epochpod_assets.scripting import longform
from epochpod_assets.scripting.scriptfile import ScriptFile

# A passage read in character is a quotation's length, not a speech's: the narrator carries
# the documentary, the figures colour it.
MAX_PASSAGE_WORDS = 120
PASSAGE_KINDS = ("letter", "speech", "diary entry", "dispatch", "memoir")


class FigureNote(BaseModel):
    name: str
    role: str = Field(description="who they were, in a few words")
    era: str = Field(description="when they lived, in words")


class Passage(BaseModel):
    figure: str = Field(description="exactly one of the figures' names")
    kind: str = Field(description="a letter, a speech, a diary entry, a dispatch, a memoir")
    gist: str = Field(description="what the passage says, in a sentence")


class PartPlan(BaseModel):
    title: str = Field(description="the part's (chapter's) title")
    summary: str = Field(description="what this part of the story covers")
    passages: list[Passage] = Field(min_length=1, max_length=4)


class DocumentaryOutline(BaseModel):
    title: str
    subject: str
    era: str = Field(description="the period, in words")
    figures: list[FigureNote]
    parts: list[PartPlan] = Field(min_length=1, max_length=12)
    sources: list[str] = Field(description="books or archives a listener could read next")


class DocumentaryScript(BaseModel):
    sections: list[Section] = Field(description="one section per outline part, in order")


SYSTEM = (
    "You write Epoch Pod documentaries: one narrator tells a piece of history in parts, in "
    "vivid, careful spoken English. Between the narration, the historical figures involved "
    "read short passages in character, from their letters, speeches and diaries. Quote a real "
    "document only when you are sure of its words; otherwise write the passage as a faithful "
    "dramatization of what the figure wrote or said, never as an invented quotation. The "
    "narrator introduces each passage. Answer only with JSON that fits the schema."
)


class DocumentaryFormat(EpisodeFormat[DocumentaryRequest, DocumentaryOutline, DocumentaryScript]):
    name = "documentary"
    episode_type = "DOCUMENTARY"
    summary = "a narrated documentary with passages read by the figures involved"
    request_model = DocumentaryRequest
    outline_model = DocumentaryOutline
    script_model = DocumentaryScript

    # --- the request ------------------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--subject", help="the piece of history told (required)")
        parser.add_argument(
            "--figure",
            action="append",
            metavar="NAME[=ROLE[=VOICE]]",
            help="a figure whose letters, speeches or diaries are read; repeat for each (1 to 4)",
        )
        parser.add_argument("--angle", help="an angle or question the documentary pursues")
        parser.add_argument("--narrator-name", help="the narrator's name (default The Narrator)")
        parser.add_argument("--narrator-voice", help=f"the narrator's voice: {VOICE_HELP}")
        parser.add_argument(
            "--parts", type=int, help="parts (chapters), 1 to 12 (default: one per 5 minutes)"
        )

    def request_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in values.items() if k != "figure"}
        if values.get("figure"):
            fields["figures"] = [_figure(spec) for spec in values["figure"]]
        return fields

    def demo_request(self) -> dict[str, Any]:
        return {
            "format": "documentary",
            "subject": "the building of the Panama Canal",
            "figures": [
                {"name": "Theodore Roosevelt", "role": "President of the United States"},
                {"name": "George Washington Goethals", "role": "the canal's chief engineer"},
            ],
            "target_minutes": 3,
        }

    def placeholder_title(self, request: DocumentaryRequest) -> str:
        return f"Generating documentary on {request.subject}..."

    def catalog_topic(self, request: DocumentaryRequest) -> str | None:
        return request.subject

    # --- shape --------------------------------------------------------------------------------

    def own_script_fields(
        self, script: ScriptFile, title: str, voice_of: Mapping[str, str]
    ) -> dict[str, Any]:
        speakers = script.speakers()
        if not 2 <= len(speakers) <= 5:
            raise cast_mismatch(script, "a documentary has a narrator, then one to four figures")
        narrator, *figures = speakers
        parts = len(script.sections)
        words = sum(count_words(line.text) for line in script.spoken_lines())
        if words < parts * MIN_WORDS_PER_PART:
            raise CastMismatch(
                [
                    f"script: a documentary part needs {MIN_WORDS_PER_PART} spoken words; "
                    f"the file's {parts} parts have {words} in all (join parts, or write more)"
                ]
            )
        return {
            "subject": title,
            "narrator_name": narrator,
            "figures": [
                {"name": f} | ({"voice": voice_of[f]} if f in voice_of else {}) for f in figures
            ],
            "parts": parts,  # the file's sections are the parts
        } | voice_fields({"narrator_voice": narrator}, voice_of)

    def cast(self, request: DocumentaryRequest) -> dict[str, str]:
        cast = {request.narrator_name: request.narrator_voice}
        cast.update({f.name: f.voice or "" for f in request.figures})
        return cast

    def figures(self, request: DocumentaryRequest) -> dict[str, HistoricalDate | None]:
        # The narrator speaks from today; each figure from their own date, or the documentary's.
        return {f.name: f.as_of for f in request.figures}

    def meeting_date(self, request: DocumentaryRequest) -> HistoricalDate | None:
        return request.as_of

    # Measured on the offline scripts: narration paragraphs of ~70 words between passages of
    # ~40 to 100; 65 words a turn from 5 minutes up.
    words_per_turn = 65.0

    def expected_sections(self, request: DocumentaryRequest) -> int:
        return request.part_count

    # --- writing in one call ------------------------------------------------------------------

    def outline_task(self, request: DocumentaryRequest) -> WritingTask[DocumentaryOutline]:
        names = ", ".join(f.name for f in request.figures)
        prompt = (
            "Task: documentary.outline\n"
            f"Plan a {request.target_minutes:g}-minute narrated documentary on "
            f"{request.subject}"
            + (f", from this angle: {request.angle}" if request.angle else "")
            + f". Use exactly {request.part_count} parts, each with a title, a summary and 1 to "
            f"3 short passages read in character by these figures: {names}. Every figure "
            "reads at least once.\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="documentary outline",
            schema=DocumentaryOutline,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_outline(request),
            check=lambda outline: _check_outline(outline, request),
            json_schema=_outline_schema(request),
            decode=_decode_outline,
            encode=_encode_outline,
        )

    def script_task(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, budget: int | None = None
    ) -> WritingTask[DocumentaryScript]:
        budget = budget or self.word_budget(request)
        figures = ", ".join(repr(f.name) for f in request.figures)
        prompt = (
            "Task: documentary.script\n"
            f"Word budget: {budget}\n"
            f"Write the full documentary: one section per outline part, with the part's title. "
            f"{request.narrator_name!r} narrates: opens the first part by welcoming listeners "
            f"to Epoch Pod, introduces every passage (whose words, what kind of document, "
            f"when), and signs off at the end of the last part. The figures ({figures}) speak "
            f"only their passages, in the first person, at most {MAX_PASSAGE_WORDS} words each. "
            f"About {budget} words in all, for {request.target_minutes:g} minutes.\n"
            f"Outline JSON: {outline.model_dump_json()}\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="documentary script",
            schema=DocumentaryScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_script(request, outline, budget),
            check=lambda script: self._check_script(request, outline, script, budget),
            json_schema=_script_schema(request, outline, budget),
            decode=lambda answer: _decode_script(answer, outline),
            encode=lambda script: _encode_script(script, request.narrator_name),
        )

    def check_script(
        self,
        request: DocumentaryRequest,
        outline: DocumentaryOutline,
        script: DocumentaryScript,
        budget: int,
    ) -> None:
        self._check_script(request, outline, script, budget)

    def _check_script(
        self,
        request: DocumentaryRequest,
        outline: DocumentaryOutline,
        script: DocumentaryScript,
        budget: int,
    ) -> None:
        check_lines(script.sections, self.cast(request), budget)
        titles = [s.title for s in script.sections]
        wanted = [p.title for p in outline.parts]
        if titles != wanted:
            raise ValueError(f"the sections must be the outline's parts {wanted}, got {titles}")
        narrator = request.narrator_name
        for section in script.sections:
            if not any(line.speaker == narrator for line in section.lines):
                raise ValueError(f"{narrator} never speaks in the part {section.title!r}")
            for line in section.lines:
                words = count_words(line.text)
                if line.speaker != narrator and words > MAX_PASSAGE_WORDS:
                    raise ValueError(
                        f"{line.speaker}'s passage in {section.title!r} has {words} words; a "
                        f"passage has at most {MAX_PASSAGE_WORDS}"
                    )

    # --- section-parallel writing (long episodes) ----------------------------------------------

    def section_briefs(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, budget: int
    ) -> list[SectionBrief]:
        narrator = request.narrator_name
        first, last = outline.parts[0].title, outline.parts[-1].title
        fixed = {"opening": _OPENING_WORDS, "closing": _CLOSING_WORDS}
        body_words = budget - sum(fixed.values())
        plan: list[longform.PlannedPart] = [
            ("opening", first, fixed["opening"], [],
             f"{narrator} welcomes listeners to Epoch Pod and sets out the story of "
             f"{outline.subject}."),
        ]  # fmt: skip
        for part, words in zip(
            outline.parts, longform.split_words(body_words, len(outline.parts)), strict=True
        ):
            count = longform.part_count(words)
            cues = [_cue(p) for p in part.passages]
            sizes = longform.split_words(len(cues), count)
            starts = [sum(sizes[:i]) for i in range(count)]
            for number, part_words in enumerate(longform.split_words(words, count)):
                passages = cues[starts[number] : starts[number] + sizes[number]]
                covers = part.summary + (f" (section {number + 1} of {count})" if count > 1 else "")
                plan.append(("body", part.title, part_words, passages, covers))
        plan.append(
            ("closing", last, fixed["closing"], [],
             f"{narrator} draws the story of {outline.subject} to its end and signs off.")
        )  # fmt: skip
        return longform.briefs_from_plan(plan)

    def section_task(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, brief: SectionBrief
    ) -> WritingTask[SectionScript]:
        prompt = (
            "Task: documentary.section\n"
            f"{longform.brief_prompt(brief)}\n"
            f"{request.narrator_name!r} narrates and introduces each passage; the figures "
            f"({', '.join(repr(f.name) for f in request.figures)}) speak only the passages "
            f"listed above, in the first person, at most {MAX_PASSAGE_WORDS} words each.\n"
            f"Brief JSON: {brief.model_dump_json()}\n"
            f"Outline JSON: {outline.model_dump_json()}\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name=f"documentary part {brief.index + 1} of {brief.count}",
            schema=SectionScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_part(request, outline, brief),
            check=lambda part: longform.check_part_lines(
                part.lines, set(self.cast(request)), brief
            ),
            json_schema=_section_schema(request, outline, brief),
            decode=_decode_lines,
            encode=lambda part: _part_wire(
                [x.model_dump(mode="json") for x in part.lines], request.narrator_name
            ),
        )

    def join_sections(
        self,
        request: DocumentaryRequest,
        outline: DocumentaryOutline,
        briefs: Sequence[SectionBrief],
        parts: Sequence[SectionScript],
    ) -> DocumentaryScript:
        return DocumentaryScript(sections=chapters_from_parts(briefs, parts))

    # --- what is published ----------------------------------------------------------------------

    def tracks(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, script: DocumentaryScript
    ) -> list[TrackPlan]:
        return [TrackPlan(key="episode", title=outline.title, sections=script.sections)]

    def publication(self, request: DocumentaryRequest, outline: DocumentaryOutline) -> Publication:
        names = [f.name for f in outline.figures]
        voices = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return Publication(
            title=f"Documentary: {outline.title}",
            subtitle=request.angle or outline.subject,
            description=(
                f"{request.narrator_name} tells the story of {outline.subject} in "
                f"{len(outline.parts)} parts, with the words of {voices} read in their own "
                "voices."
            ),
            topic=outline.subject,
            era=outline.era,
            sources=outline.sources,
        )

    def detail(
        self,
        request: DocumentaryRequest,
        outline: DocumentaryOutline,
        script: DocumentaryScript,
        tracks: Sequence[RenderedTrackInfo],
    ) -> dict[str, Any]:
        voices = {f.name: f.voice for f in request.figures}
        return {
            "narrator_name": request.narrator_name,
            "narrator_voice": request.narrator_voice,
            "subject": outline.subject,
            "figures": [
                {"name": f.name, "role": f.role, "era": f.era, "voice": voices.get(f.name)}
                for f in outline.figures
            ],
            "parts": [
                {
                    "title": section.title,
                    "summary": plan.summary,
                    "passages": [
                        {"speaker": line.speaker, "text": line.text}
                        for line in section.lines
                        if line.speaker != request.narrator_name
                    ],
                }
                for section, plan in zip(script.sections, outline.parts, strict=True)
            ],
        }

    def outline_preview(self, outline: DocumentaryOutline) -> str:
        figures = "\n".join(f"- **{f.name}**, {f.role} ({f.era})" for f in outline.figures)
        parts = "\n".join(
            f"{number}. **{part.title}**: {part.summary}\n"
            + "\n".join(f"   - {p.figure}, {p.kind}: {p.gist}" for p in part.passages)
            for number, part in enumerate(outline.parts, 1)
        )
        return f"## {outline.title}\n{figures}\n\n{parts}"

    # --- offline templates -------------------------------------------------------------------

    def _offline_outline(self, request: DocumentaryRequest) -> DocumentaryOutline:
        rng = prose.seeded("documentary.outline", request.model_dump_json())
        figures = []
        for figure in request.figures:
            role, era = prose.figure_facts(figure.name)
            figures.append(FigureNote(name=figure.name, role=figure.role or role, era=era))
        titles = list(_PART_TITLES)
        kinds = list(PASSAGE_KINDS)
        rng.shuffle(kinds)
        count = request.part_count
        focus = request.angle or request.subject
        # About one passage per 250 words of a part (1 to 3), and every figure reads: the
        # passages go round the figures in turn, and the last part takes whoever is left.
        per_part = max(1, min(3, round(request.target_minutes * 150 / count / 250)))
        names = [f.name for f in request.figures]
        turn = 0
        parts = []
        for index in range(count):
            readers = [names[(turn + k) % len(names)] for k in range(per_part)]
            turn += per_part
            if index == count - 1:
                readers += [n for n in names[turn:] if n not in readers]
            parts.append(
                PartPlan(
                    title=titles[index % len(titles)]
                    + (f" ({index // len(titles) + 1})" if index >= len(titles) else ""),
                    summary=f"{request.subject}: {focus}, part {index + 1} of {count}.",
                    passages=[
                        Passage(
                            figure=name,
                            kind=kinds[(index + k) % len(kinds)],
                            gist=f"{name} on {request.subject}, as it looked at the time.",
                        )
                        for k, name in enumerate(readers[:4])
                    ],
                )
            )
        era = figures[0].era if len({f.era for f in figures}) == 1 else "across the years"
        return DocumentaryOutline(
            title=request.subject[:1].upper() + request.subject[1:],
            subject=request.subject,
            era=era,
            figures=figures,
            parts=parts,
            sources=[],
        )

    def _offline_script(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, budget: int
    ) -> DocumentaryScript:
        rng = prose.seeded("documentary.script", request.model_dump_json())
        narrator = request.narrator_name
        opening = _opening(narrator, outline)
        closing = _closing(narrator, outline)
        fixed = sum(count_words(line.text) for line in (*opening, *closing))
        remaining = budget - fixed
        sections = []
        for index, part in enumerate(outline.parts):
            # Share what is left among the parts still to write, so the script lands on
            # length whatever each part's passages turn out to be.
            target = remaining // (len(outline.parts) - index)
            lines = _narrated_part(rng, narrator, outline, part.passages, target)
            remaining -= sum(count_words(line.text) for line in lines)
            if index == 0:
                lines = opening + lines
            if index == len(outline.parts) - 1:
                lines = lines + closing
            sections.append(Section(title=part.title, lines=lines))
        return DocumentaryScript(sections=sections)

    def _offline_part(
        self, request: DocumentaryRequest, outline: DocumentaryOutline, brief: SectionBrief
    ) -> SectionScript:
        rng = prose.seeded("documentary.part", request.model_dump_json(), brief.index)
        narrator = request.narrator_name
        if brief.role == "opening":
            return SectionScript(lines=_opening(narrator, outline))
        if brief.role == "closing":
            return SectionScript(lines=_closing(narrator, outline))
        passages = [
            p for part in outline.parts for p in part.passages if _cue(p) in brief.questions
        ]
        return SectionScript(lines=_narrated_part(rng, narrator, outline, passages, brief.words))


# The offline opening and closing are fixed lines of about this many words.
_OPENING_WORDS = 40
_CLOSING_WORDS = 25

_PART_TITLES = (
    "The world before",
    "The turning point",
    "Into the storm",
    "What it cost",
    "Aftermath",
    "Legacy",
)

NARRATION = (
    "To understand {subject}, we have to begin with the people who lived through it.",
    "Nothing about {subject} looked certain to those who were there.",
    "Those were years of ambition, fear and very long letters.",
    "Plans were drawn, abandoned and drawn again, and every delay had a price.",
    "Newspapers of the day told one story; private papers tell another.",
    "Behind every decision stood people who could not know how it would end.",
    "Money, pride and disease shaped {subject} as much as any plan did.",
    "Historians still argue about what mattered most, and the sources pull both ways.",
    "For ordinary people, {subject} meant long days, hard choices and uncertain pay.",
    "The record is patchy, but the voices that survive are vivid.",
    "Each setback was reported as temporary, and some of them even were.",
    "By now the stakes were clear to everyone involved.",
)
PASSAGES = (
    "I write to you in haste, for the work does not wait and neither do the rumours.",
    "We have made more progress than the papers allow, and less than I had promised.",
    "There are days when the whole enterprise seems to rest on the weather and on nerve.",
    "I have seen men give everything to this task, and I will not pretend it is easy.",
    "Let no one say we did not know the risks of {subject}; we knew them, and we went on.",
    "Tonight I am tired, but I am certain that what we began will outlast us.",
    "The critics are loud, yet the work itself answers them better than I can.",
    "I confess my doubts to this page and to no one else.",
)


def _cue(passage: Passage) -> str:
    """A passage as a brief's line: who reads what."""
    return f"{passage.figure} reads from a {passage.kind}: {passage.gist}"


def _figure(spec: str) -> dict[str, str]:
    """`NAME[=ROLE[=VOICE]]`, as `--figure` takes it."""
    name, _, rest = spec.partition("=")
    role, _, voice = rest.partition("=")
    figure = {"name": name}
    if role:
        figure["role"] = role
    if voice:
        figure["voice"] = voice
    return figure


def _check_outline(outline: DocumentaryOutline, request: DocumentaryRequest) -> None:
    if len(outline.parts) != request.part_count:
        raise ValueError(
            f"the outline must have {request.part_count} parts, not {len(outline.parts)}"
        )
    names = {f.name for f in request.figures}
    readers = {p.figure for part in outline.parts for p in part.passages}
    if unknown := readers - names:
        raise ValueError(
            f"passages by {sorted(unknown)}, who are not among the figures {sorted(names)}"
        )
    if silent := names - readers:
        raise ValueError(f"figures with no passage: {sorted(silent)}")


def _opening(narrator: str, outline: DocumentaryOutline) -> list[Line]:
    return [
        Line(
            speaker=narrator,
            text=f"Welcome to Epoch Pod. I'm {narrator}, and this is the story of "
            f"{outline.subject}, told in {len(outline.parts)} parts and in the words of the "
            "people who were there.",
        )
    ]


def _closing(narrator: str, outline: DocumentaryOutline) -> list[Line]:
    return [
        Line(
            speaker=narrator,
            text=f"That was the story of {outline.subject}. Thank you for listening to Epoch Pod.",
        )
    ]


def _narrated_part(
    rng: random.Random,
    narrator: str,
    outline: DocumentaryOutline,
    passages: Sequence[Passage],
    words: int,
) -> list[Line]:
    """Narration and the part's passages, each introduced by the narrator, within `words`."""
    slots = {"subject": outline.subject}
    lines: list[Line] = []
    used = 0
    for number, passage in enumerate(passages):
        share = (words - used) // (len(passages) - number)
        # A passage takes about a third of its share; the narration before it the rest.
        passage_words = max(12, min(MAX_PASSAGE_WORDS - 20, share // 3))
        verb = "said" if passage.kind == "speech" else "wrote"
        cue = f"In a {passage.kind} of the time, {passage.figure} {verb}:"
        narration = _paragraphs(
            rng, narrator, max(12, share - passage_words - count_words(cue)), slots
        )
        narration[-1] = Line(speaker=narrator, text=f"{narration[-1].text} {cue}")
        text = prose.speech_until(rng, PASSAGES, passage_words, **slots)
        lines += [*narration, Line(speaker=passage.figure, text=text)]
        used += sum(count_words(line.text) for line in narration) + count_words(text)
    if words - used >= 12 or not lines:
        lines += _paragraphs(rng, narrator, max(words - used, 8), slots)
    return lines


def _paragraphs(rng: random.Random, narrator: str, words: int, slots: dict[str, str]) -> list[Line]:
    """Narration of about `words` words, a paragraph (one line) per ~70 words."""
    count = max(1, round(words / _PARAGRAPH_WORDS))
    return [
        Line(speaker=narrator, text=prose.speech_until(rng, NARRATION, max(share, 8), **slots))
        for share in longform.split_words(words, count)
    ]


_PARAGRAPH_WORDS = 70


# --- per-request schemas (formats/schemas.py): what a model that follows only the schema needs --
# Parts are fixed properties with the outline's titles; who reads in which part is planned
# (every figure at least once, round the parts); a part is its passages, each a run of narration
# by the narrator and then the figure's passage (speaker const, at most MAX_PASSAGE_WORDS), so
# the narrator speaks in every part and every figure reads, whatever the words.


def _readers(request: DocumentaryRequest) -> list[list[str]]:
    """Which figures read in each part: every figure once, round the parts; a part no figure
    falls to hears the figure whose turn it would be."""
    names = [f.name for f in request.figures]
    parts = request.part_count
    readers = [[n for i, n in enumerate(names) if i % parts == p] for p in range(parts)]
    return [found or [names[p % len(names)]] for p, found in enumerate(readers)]


def _outline_schema(request: DocumentaryRequest) -> schemas.Schema:
    def passage(figure: str) -> schemas.Schema:
        return schemas.obj(
            {
                "figure": schemas.const(figure),
                "kind": schemas.one_of(PASSAGE_KINDS, "what kind of document it is"),
                "gist": schemas.text("what the passage says, in a sentence", max_words=30),
            }
        )

    return schemas.obj(
        {
            "title": schemas.text("the documentary's title", max_words=14),
            "subject": schemas.const(request.subject),
            "era": schemas.text("the period, in words", max_words=10),
            "figures": schemas.obj(
                {
                    f"figure_{i}": schemas.obj(
                        {
                            "name": schemas.const(f.name),
                            "role": schemas.text("who they were, in a few words", max_words=14),
                            "era": schemas.text("when they lived, in words", max_words=10),
                        }
                    )
                    for i, f in enumerate(request.figures, 1)
                }
            ),
            "parts": schemas.obj(
                {
                    f"part_{p}": schemas.obj(
                        {
                            "title": schemas.text("the part's (chapter's) title", max_words=10),
                            "summary": schemas.text("what this part covers", max_words=50),
                            "passages": schemas.obj(
                                {f"passage_{i}": passage(n) for i, n in enumerate(readers, 1)}
                            ),
                        }
                    )
                    for p, readers in enumerate(_readers(request), 1)
                }
            ),
            "sources": schemas.array(
                schemas.text("a book or archive a listener could read next", max_words=30),
                (0, 6),
            ),
        }
    )


def _decode_outline(answer: Any) -> dict[str, Any]:
    parts = [
        {**part, "passages": list(part["passages"].values())} for part in answer["parts"].values()
    ]
    return {**answer, "figures": list(answer["figures"].values()), "parts": parts}


def _encode_outline(outline: DocumentaryOutline) -> dict[str, Any]:
    data = outline.model_dump(mode="json")
    parts = {
        f"part_{p}": {
            **part,
            "passages": {f"passage_{i}": x for i, x in enumerate(part["passages"], 1)},
        }
        for p, part in enumerate(data["parts"], 1)
    }
    figures = {f"figure_{i}": f for i, f in enumerate(data["figures"], 1)}
    return {**data, "figures": figures, "parts": parts}


def _part_schema(
    narrator: str,
    readers: Sequence[str],
    words: float,
    spread: float,
    *,
    opening: int = 0,
    ending: int = 0,
) -> schemas.Schema:
    """A part as its passages: each a run of narration, then the passage; `opening` words of
    welcome go before the first, `ending` words of narration after the last (or, with no
    passages, the part is narration only)."""
    properties: dict[str, schemas.Schema] = {}
    share = words / max(1, len(readers))
    passage_words = max(12.0, min(MAX_PASSAGE_WORDS * 0.8, share / 3))

    def narration(narrated: float) -> schemas.Schema:
        return schemas.lines([narrator], narrated, _PARAGRAPH_WORDS, spread=spread)

    for number, figure in enumerate(readers, 1):
        properties[f"segment_{number}"] = schemas.obj(
            {
                "narration": narration(share - passage_words + (opening if number == 1 else 0)),
                "passage": schemas.line([figure], passage_words, spread),
            },
            f"the narrator leads in to {figure}'s passage, then {figure} reads it",
        )
    if ending or not readers:
        properties["ending"] = schemas.obj({"narration": narration(ending or words)})
    return schemas.obj(properties)


def _section_schema(
    request: DocumentaryRequest, outline: DocumentaryOutline, brief: SectionBrief
) -> schemas.Schema:
    readers = [
        p.figure for part in outline.parts for p in part.passages if _cue(p) in brief.questions
    ]
    narrator = request.narrator_name
    lines = schemas.line_count(brief.words, _PARAGRAPH_WORDS) + len(readers)
    return _part_schema(narrator, readers, brief.words, schemas.spread_for(lines))


def _script_schema(
    request: DocumentaryRequest, outline: DocumentaryOutline, budget: int
) -> schemas.Schema:
    narrator = request.narrator_name
    shares = longform.split_words(
        max(len(outline.parts), budget - _OPENING_WORDS - _CLOSING_WORDS), len(outline.parts)
    )
    fields = sum(schemas.line_count(w, _PARAGRAPH_WORDS) for w in shares)
    fields += sum(len(p.passages) for p in outline.parts)
    spread = schemas.spread_for(fields)
    last = len(outline.parts) - 1
    return schemas.obj(
        {
            f"part_{number}": _part_schema(
                narrator,
                [p.figure for p in part.passages],
                words,
                spread,
                opening=_OPENING_WORDS if index == 0 else 0,
                ending=_CLOSING_WORDS if index == last else 0,
            )
            for index, (number, part, words) in enumerate(
                zip(range(1, len(shares) + 1), outline.parts, shares, strict=True)
            )
        }
    )


def _decode_lines(answer: Any) -> dict[str, Any]:
    """A part's wire shape as a `SectionScript`'s input: its lines in order."""
    lines: list[Any] = []
    for key, segment in answer.items():
        lines += segment["narration"]
        if key != "ending":
            lines.append(segment["passage"])
    return {"lines": lines}


def _decode_script(answer: Any, outline: DocumentaryOutline) -> dict[str, Any]:
    return {
        "sections": [
            {"title": part.title, **_decode_lines(answer[f"part_{number}"])}
            for number, part in enumerate(outline.parts, 1)
        ]
    }


def _part_wire(lines: Sequence[dict[str, Any]], narrator: str) -> dict[str, Any]:
    """Lines in order as a part's wire shape: narration up to each passage, then the rest."""
    wire: dict[str, Any] = {}
    narrated: list[dict[str, Any]] = []
    for line in lines:
        if line["speaker"] == narrator:
            narrated.append(line)
            continue
        wire[f"segment_{len(wire) + 1}"] = {"narration": narrated, "passage": line}
        narrated = []
    if narrated:
        wire["ending"] = {"narration": narrated}
    return wire


def _encode_script(script: DocumentaryScript, narrator: str) -> dict[str, Any]:
    return {
        f"part_{number}": _part_wire(
            [line.model_dump(mode="json") for line in section.lines], narrator
        )
        for number, section in enumerate(script.sections, 1)
    }
