"""Interview: the Epoch host talks with one historical figure."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.catalog.schema import interview_details
from epochpod_assets.formats import prose, schemas
from epochpod_assets.formats.base import (
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
from epochpod_assets.formats.interview.request import InterviewRequest
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.providers.base import WritingTask
from epochpod_assets.providers.voices import VOICE_HELP
from epochpod_assets.scripting import longform
from epochpod_assets.scripting.scriptfile import ScriptFile


class Guest(BaseModel):
    name: str
    role: str = Field(description="who they were, in a few words")
    era: str = Field(description="when they lived, in words")


class OutlineSection(BaseModel):
    title: str
    summary: str
    questions: list[str] = Field(min_length=1)


class InterviewOutline(BaseModel):
    title: str
    angle: str
    topic: str
    guest: Guest
    sections: list[OutlineSection] = Field(min_length=2, max_length=12)
    sources: list[str] = Field(description="books or archives a listener could read next")


class InterviewScript(BaseModel):
    sections: list[Section] = Field(description="introduction, one per outline section, outro")


SYSTEM = (
    "You write Epoch Pod, a history podcast. Write historically careful, vivid, spoken English. "
    "Never invent quotations and attribute them as real; the guest speaks in the first person "
    "as a dramatization. Answer only with JSON that fits the schema."
)


class InterviewFormat(EpisodeFormat[InterviewRequest, InterviewOutline, InterviewScript]):
    name = "interview"
    episode_type = "INTERVIEW"
    summary = "an interview with one historical figure"
    request_model = InterviewRequest
    outline_model = InterviewOutline
    script_model = InterviewScript
    detail_table = interview_details

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--guest-name", "--guest", dest="guest_name", help="the historical figure (required)"
        )
        parser.add_argument("--topic", help="what the interview is about (required)")
        parser.add_argument("--angle", help="an angle or question to pursue")
        parser.add_argument("--host-name", help="the host's name (default The Epoch Host)")
        parser.add_argument("--host-voice", help=f"the host's voice: {VOICE_HELP}")
        parser.add_argument("--guest-voice", help=f"the guest's voice: {VOICE_HELP}")

    def demo_request(self) -> dict[str, Any]:
        return {
            "format": "interview",
            "guest_name": "Albert Einstein",
            "topic": "the theory of relativity",
            "angle": "how a patent clerk rethought space and time",
            "as_of": "1921",
            # A short source written for this repository (a plain summary of well-established
            # facts, in this package): research reads it and the show notes cite it.
            "sources": [
                {
                    "location": str(resources.files(__package__) / "demo_source.md"),
                    "title": "Albert Einstein up to 1921",
                    "author": "Epoch Pod",
                }
            ],
            "target_minutes": 3,
        }

    def placeholder_title(self, request: InterviewRequest) -> str:
        return f"Generating interview with {request.guest_name}..."

    def own_script_fields(
        self, script: ScriptFile, title: str, voice_of: Mapping[str, str]
    ) -> dict[str, Any]:
        speakers = script.speakers()
        if len(speakers) != 2:
            raise cast_mismatch(script, "an interview has two speakers, host then guest")
        host, guest = speakers
        return {"host_name": host, "guest_name": guest, "topic": title} | voice_fields(
            {"host_voice": host, "guest_voice": guest}, voice_of
        )

    def cast(self, request: InterviewRequest) -> dict[str, str]:
        return {request.host_name: request.host_voice, request.guest_name: request.guest_voice}

    def figures(self, request: InterviewRequest) -> dict[str, HistoricalDate | None]:
        return {request.guest_name: request.as_of}

    # Measured on the offline scripts: questions (~12 words), answers (~60), follow-ups (~20).
    words_per_turn = 36.0

    def expected_sections(self, request: InterviewRequest) -> int:
        return _outline_sections(request) + 2  # plus introduction and closing

    def outline_task(self, request: InterviewRequest) -> WritingTask[InterviewOutline]:
        sections = _outline_sections(request)
        prompt = (
            f"Task: interview.outline\n"
            f"Plan a {request.target_minutes:g}-minute interview with {request.guest_name} about "
            f"{request.topic}"
            + (f", from this angle: {request.angle}" if request.angle else "")
            + f". Use {sections} sections, each with 2 to 4 questions.\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="interview outline",
            schema=InterviewOutline,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_outline(request, sections),
            json_schema=_outline_schema(request, sections),
        )

    def script_task(
        self, request: InterviewRequest, outline: InterviewOutline, budget: int | None = None
    ) -> WritingTask[InterviewScript]:
        budget = budget or self.word_budget(request)
        prompt = (
            f"Task: interview.script\n"
            f"Word budget: {budget}\n"
            f"Write the full script: an introduction by {request.host_name}, then one section "
            f"per outline section, then a short outro. The only speakers are "
            f"{request.host_name!r} (host) and {request.guest_name!r} (guest). About {budget} "
            f"words in all, for {request.target_minutes:g} minutes.\n"
            f"Outline JSON: {outline.model_dump_json()}\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="interview script",
            schema=InterviewScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_script(request, outline, budget),
            check=lambda script: check_lines(script.sections, self.cast(request), budget),
            json_schema=_script_schema(request, outline, budget, self.words_per_turn),
            decode=lambda answer: _decode_script(answer, outline),
            encode=_encode_script,
        )

    # --- section-parallel writing (long episodes) ----------------------------------------------

    def section_briefs(
        self, request: InterviewRequest, outline: InterviewOutline, budget: int
    ) -> list[SectionBrief]:
        host, guest = request.host_name, outline.guest.name
        fixed = {"opening": _OPENING_WORDS, "closing": _CLOSING_WORDS}
        body_words = budget - sum(fixed.values())
        # Parts per outline section in proportion to its share of the budget; each section
        # gets the same share because the outline gives each the same weight.
        shares = longform.split_words(body_words, len(outline.sections))
        plan: list[longform.PlannedPart] = [
            ("opening", "Introduction", fixed["opening"], [], f"{host} welcomes listeners and "
             f"introduces {guest}, {outline.guest.role}, and the topic: {outline.topic}."),
        ]  # fmt: skip
        for section, words in zip(outline.sections, shares, strict=True):
            count = longform.part_count(words)
            # Questions in order, shared out as evenly as they go; a part with none carries on
            # the conversation its chapter started.
            sizes = longform.split_words(len(section.questions), count)
            starts = [sum(sizes[:i]) for i in range(count)]
            for number, part_words in enumerate(longform.split_words(words, count)):
                asked = section.questions[starts[number] : starts[number] + sizes[number]]
                covers = section.summary + (f" (part {number + 1} of {count})" if count > 1 else "")
                plan.append(("body", section.title, part_words, asked, covers))
        plan.append(
            ("closing", "Closing", fixed["closing"], [],
             f"{host} thanks {guest} and closes the show.")
        )  # fmt: skip
        return longform.briefs_from_plan(
            plan, lambda part, last: _hand_off(part, host, guest, last=last)
        )

    def section_task(
        self, request: InterviewRequest, outline: InterviewOutline, brief: SectionBrief
    ) -> WritingTask[SectionScript]:
        prompt = (
            f"Task: interview.section\n"
            f"{longform.brief_prompt(brief)}\n"
            f"The only speakers are {request.host_name!r} (host) and {outline.guest.name!r} "
            f"(guest).\n"
            f"Brief JSON: {brief.model_dump_json()}\n"
            f"Outline JSON: {outline.model_dump_json()}\n"
            f"Request JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name=f"interview part {brief.index + 1} of {brief.count}",
            schema=SectionScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_part(request, outline, brief),
            check=lambda part: longform.check_part_lines(
                part.lines, {request.host_name, outline.guest.name}, brief
            ),
            json_schema=schemas.obj(
                {
                    "lines": schemas.lines(
                        [request.host_name, outline.guest.name],
                        brief.words,
                        self.words_per_turn,
                        # The opening and closing need both voices: a welcome and its answer.
                        minimum=1 if brief.role == "body" else 2,
                    )
                }
            ),
        )

    def join_sections(
        self,
        request: InterviewRequest,
        outline: InterviewOutline,
        briefs: Sequence[SectionBrief],
        parts: Sequence[SectionScript],
    ) -> InterviewScript:
        return InterviewScript(sections=chapters_from_parts(briefs, parts))

    def _offline_part(
        self, request: InterviewRequest, outline: InterviewOutline, brief: SectionBrief
    ) -> SectionScript:
        rng = prose.seeded("interview.part", request.model_dump_json(), brief.index)
        host, guest = request.host_name, outline.guest.name
        if brief.role == "opening":
            return SectionScript(lines=_intro(host, guest, outline))
        if brief.role == "closing":
            return SectionScript(lines=_outro(host, guest))
        slots = {
            "topic": outline.topic,
            "focus": request.angle or outline.topic,
            "era": outline.guest.era,
        }
        lines = _questions_and_answers(rng, host, guest, brief.questions, brief.words, slots)
        used = sum(count_words(line.text) for line in lines)
        lines += prose.conversation_until(
            rng,
            brief.words - used,
            (host, prose.HOST_FOLLOW_UPS),
            (guest, prose.ANSWERS),
            turn_words=60,
            **slots,
        )
        return SectionScript(lines=lines)

    def tracks(
        self, request: InterviewRequest, outline: InterviewOutline, script: InterviewScript
    ) -> list[TrackPlan]:
        return [TrackPlan(key="episode", title=outline.title, sections=script.sections)]

    def publication(self, request: InterviewRequest, outline: InterviewOutline) -> Publication:
        return Publication(
            title=f"Interview with {outline.guest.name}: {outline.topic}",
            subtitle=outline.angle,
            description=(
                f"A fascinating conversation with {outline.guest.name}, {outline.guest.role}, "
                f"about {outline.topic}."
            ),
            topic=outline.topic,
            era=outline.guest.era,
            sources=outline.sources,
        )

    def detail(
        self,
        request: InterviewRequest,
        outline: InterviewOutline,
        script: InterviewScript,
        tracks: Sequence[RenderedTrackInfo],
    ) -> dict[str, Any]:
        return {
            "host_name": request.host_name,
            "host_voice": request.host_voice,
            "guest_name": outline.guest.name,
            "guest_role": outline.guest.role,
            "guest_era": outline.guest.era,
            "guest_voice": request.guest_voice,
            "topic": outline.topic,
            "questions": [q for s in outline.sections for q in s.questions],
            "dialogue": [line.model_dump() for s in script.sections for line in s.lines],
        }

    def outline_preview(self, outline: InterviewOutline) -> str:
        body = "\n".join(
            f"- **{s.title}**: {s.summary}\n" + "\n".join(f"  - {q}" for q in s.questions)
            for s in outline.sections
        )
        return f"## {outline.title}\n*{outline.guest.name}, {outline.guest.role}*\n\n{body}"

    # --- offline templates -------------------------------------------------------------------

    def _offline_outline(self, request: InterviewRequest, sections: int) -> InterviewOutline:
        rng = prose.seeded("interview.outline", request.model_dump_json())
        role, era = prose.figure_facts(request.guest_name)
        focus = request.angle or request.topic
        slots = {"topic": request.topic, "focus": focus, "era": era}
        questions = list(prose.QUESTIONS)
        rng.shuffle(questions)
        titles = ["Beginnings", "The work itself", "Doubts and rivals", "What changed", "Legacy"]
        return InterviewOutline(
            title=f"{request.guest_name} on {request.topic}",
            angle=request.angle or f"How {request.topic} looked from the inside",
            topic=request.topic,
            guest=Guest(name=request.guest_name, role=role, era=era),
            sections=[
                OutlineSection(
                    title=titles[i % len(titles)]
                    + (f" ({i // len(titles) + 1})" if i >= 5 else ""),
                    summary=f"{request.guest_name} on {focus}: part {i + 1}.",
                    questions=[
                        prose.fill(questions[(2 * i + k) % len(questions)], **slots)
                        for k in range(2)
                    ],
                )
                for i in range(sections)
            ],
            sources=[],
        )

    def _offline_script(
        self, request: InterviewRequest, outline: InterviewOutline, budget: int
    ) -> InterviewScript:
        rng = prose.seeded("interview.script", request.model_dump_json())
        host, guest = request.host_name, outline.guest.name
        slots = {
            "topic": outline.topic,
            "focus": request.angle or outline.topic,
            "era": outline.guest.era,
        }
        intro = Section(title="Introduction", lines=_intro(host, guest, outline))
        outro = Section(title="Closing", lines=_outro(host, guest))
        remaining = budget - sum(count_words(line.text) for s in (intro, outro) for line in s.lines)
        body = []
        for index, section in enumerate(outline.sections):
            # Share what is left of the budget among the sections still to write, so the
            # script lands on length whatever the questions' own lengths turn out to be.
            target = remaining // (len(outline.sections) - index)
            lines = _questions_and_answers(rng, host, guest, section.questions, target, slots)
            used = sum(count_words(line.text) for line in lines)
            lines += prose.conversation_until(
                rng,
                target - used,
                (host, prose.HOST_FOLLOW_UPS),
                (guest, prose.ANSWERS),
                turn_words=60,
                **slots,
            )
            remaining -= sum(count_words(line.text) for line in lines)
            body.append(Section(title=section.title, lines=lines))
        return InterviewScript(sections=[intro, *body, outro])


# The offline opening and closing are fixed lines of about this many words.
_OPENING_WORDS = 40
_CLOSING_WORDS = 16


# A chapter every ~5 minutes, as long-form podcasts are chaptered: a 30-minute interview gets
# six. More, shorter chapters would make the outline -- written before any part can start,
# and so on every episode's critical path -- longer without making the parts any better.
_MINUTES_PER_SECTION = 5.0


def _outline_sections(request: InterviewRequest) -> int:
    return max(2, min(12, round(request.target_minutes / _MINUTES_PER_SECTION)))


def _intro(host: str, guest: str, outline: InterviewOutline) -> list[Line]:
    return [
        Line(
            speaker=host,
            text=f"Welcome to Epoch Pod, where history speaks for itself. I'm {host}, and "
            f"my guest today is {guest}, {outline.guest.role}. We're talking about "
            f"{outline.topic}. Welcome.",
        ),
        Line(speaker=guest, text="Thank you. It is a pleasure to be asked."),
    ]


def _outro(host: str, guest: str) -> list[Line]:
    return [
        Line(
            speaker=host,
            text=f"{guest}, thank you for your time. You've been listening to Epoch Pod.",
        ),
        Line(speaker=guest, text="Thank you for listening."),
    ]


def _hand_off(part: longform.PlannedPart, host: str, guest: str, *, last: bool) -> str:
    """The line where a neighbouring part meets this one: what the previous part ends on, or
    what the next one opens with."""
    role, chapter, _, questions, covers = part
    if role == "opening":
        return f"{guest} thanks {host} for the welcome."
    if role == "closing":
        return f"{host} thanks {guest} and closes the show."
    if last:
        return f"{guest} answering, in {chapter!r}: {questions[-1] if questions else covers}"
    return f"{host} asking: {questions[0]}" if questions else f"{host} continuing {chapter!r}"


def _questions_and_answers(
    rng: random.Random,
    host: str,
    guest: str,
    questions: list[str],
    words: int,
    slots: dict[str, str],
) -> list[Line]:
    """The planned questions, each answered, within `words` (always at least one exchange)."""
    lines: list[Line] = []
    used = 0
    for number, question in enumerate(questions):
        left = words - used
        # Capped: a guest who answers in 250-word monologues is a lecture, not an interview;
        # the rest of the part is follow-up exchanges.
        answer_words = min(left // (len(questions) - number) - count_words(question), 90)
        if lines and answer_words < 15:
            break
        answer = prose.speech_until(rng, prose.ANSWERS, max(answer_words, 8), **slots)
        lines += [Line(speaker=host, text=question), Line(speaker=guest, text=answer)]
        used += count_words(question) + count_words(answer)
    return lines


# --- per-request schemas (formats/schemas.py): what a model that follows only the schema needs --


def _outline_schema(request: InterviewRequest, sections: int) -> schemas.Schema:
    question = schemas.text("a question the host asks", max_words=30)
    return schemas.obj(
        {
            "title": schemas.text("the episode's title", max_words=14),
            "angle": schemas.text("the angle the interview takes, in a sentence", max_words=40),
            "topic": schemas.const(request.topic),
            "guest": schemas.obj(
                {
                    "name": schemas.const(request.guest_name),
                    "role": schemas.text("who they were, in a few words", max_words=14),
                    "era": schemas.text("when they lived, in words", max_words=10),
                }
            ),
            "sections": schemas.array(
                schemas.obj(
                    {
                        "title": schemas.text("the chapter's title", max_words=10),
                        "summary": schemas.text("what the chapter covers", max_words=50),
                        "questions": schemas.array(question, (2, 4), "2 to 4 questions"),
                    }
                ),
                sections,
                f"exactly {sections} sections",
            ),
            "sources": schemas.array(
                schemas.text("a book or archive a listener could read next", max_words=30),
                (0, 6),
            ),
        }
    )


# The whole script in one call: the introduction, one chapter per outline section (by key, with
# the outline's title), the closing. Fixed properties: a chapter can be neither lost nor added.


def _chapter_keys(outline: InterviewOutline) -> list[str]:
    return [f"chapter_{number}" for number in range(1, len(outline.sections) + 1)]


def _script_schema(
    request: InterviewRequest, outline: InterviewOutline, budget: int, words_per_turn: float
) -> schemas.Schema:
    cast = [request.host_name, outline.guest.name]
    keys = _chapter_keys(outline)
    shares = longform.split_words(
        max(len(keys), budget - _OPENING_WORDS - _CLOSING_WORDS), len(keys)
    )
    turns = sum(schemas.line_count(w, words_per_turn) for w in shares) + 4
    spread = schemas.spread_for(turns)

    def part(words: int, about: str, minimum: int = 1) -> schemas.Schema:
        return schemas.obj(
            {"lines": schemas.lines(cast, words, words_per_turn, minimum=minimum, spread=spread)},
            about,
        )

    return schemas.obj(
        {
            "introduction": part(_OPENING_WORDS, "the host welcomes and introduces the guest", 2),
            **{
                key: part(words, f"the chapter {section.title!r}")
                for key, words, section in zip(keys, shares, outline.sections, strict=True)
            },
            "closing": part(_CLOSING_WORDS, "the host thanks the guest and signs off", 2),
        }
    )


def _decode_script(answer: Any, outline: InterviewOutline) -> dict[str, Any]:
    titles = ["Introduction", *(s.title for s in outline.sections), "Closing"]
    keys = ["introduction", *_chapter_keys(outline), "closing"]
    return {
        "sections": [
            {"title": title, "lines": answer[key]["lines"]}
            for key, title in zip(keys, titles, strict=True)
        ]
    }


def _encode_script(script: InterviewScript) -> dict[str, Any]:
    sections = [s.model_dump(mode="json") for s in script.sections]
    keys = ["introduction", *(f"chapter_{n}" for n in range(1, len(sections) - 1)), "closing"]
    return {key: {"lines": s["lines"]} for key, s in zip(keys, sections, strict=True)}
