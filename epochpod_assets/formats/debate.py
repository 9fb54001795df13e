"""Debate: a moderator and two to four historical figures argue a question in rounds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.formats import prose
from epochpod_assets.formats.base import (
    EpisodeFormat,
    Line,
    Publication,
    RenderedTrackInfo,
    Section,
    TrackPlan,
    check_lines,
    count_words,
)
from epochpod_assets.providers.base import WritingTask
from epochpod_assets.requests import DebateRequest


class RoundPlan(BaseModel):
    title: str
    question: str


class Stance(BaseModel):
    name: str
    era: str
    position: str


class DebateOutline(BaseModel):
    title: str
    topic: str
    era: str = Field(description="the period the debate draws on, in words")
    stances: list[Stance]
    rounds: list[RoundPlan] = Field(min_length=1, max_length=6)
    sources: list[str]


class DebateScript(BaseModel):
    sections: list[Section] = Field(description="opening, one section per round, closing")


SYSTEM = (
    "You write Epoch Pod, a history podcast. Write a fair, lively, historically careful debate "
    "in spoken English; each figure argues as a dramatization of their known views. Give every "
    "participant a similar share of the words. Answer only with JSON that fits the schema."
)


class DebateFormat(EpisodeFormat[DebateRequest, DebateOutline, DebateScript]):
    episode_type = "DEBATE"
    outline_model = DebateOutline
    script_model = DebateScript

    def cast(self, request: DebateRequest) -> dict[str, str]:
        cast = {request.moderator_name: request.moderator_voice}
        cast.update({p.name: p.voice or "" for p in request.participants})
        return cast

    def expected_sections(self, request: DebateRequest) -> int:
        return request.rounds + 2  # plus opening and closing

    def fixed_turns(self, request: DebateRequest) -> int:
        # The moderator's question and one answer from everyone per round, opening, closing.
        return request.rounds * (len(request.participants) + 1) + 2

    def outline_task(self, request: DebateRequest) -> WritingTask[DebateOutline]:
        names = ", ".join(p.name for p in request.participants)
        prompt = (
            f"Task: debate.outline\n"
            f"Plan a {request.target_minutes:g}-minute debate on {request.topic} between {names}, "
            f"moderated by {request.moderator_name}, in {request.rounds} rounds, each with one "
            f"sharp question.\nRequest JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="debate outline",
            schema=DebateOutline,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_outline(request),
        )

    def script_task(
        self, request: DebateRequest, outline: DebateOutline, budget: int | None = None
    ) -> WritingTask[DebateScript]:
        budget = budget or self.word_budget(request)
        prompt = (
            f"Task: debate.script\n"
            f"Word budget: {budget}\n"
            f"Write the full debate: an opening by the moderator, one section per round in "
            f"which every participant speaks, and a closing. Speakers: "
            f"{', '.join(repr(name) for name in self.cast(request))}. About {budget} words in all "
            f"for {request.target_minutes:g} minutes.\n"
            f"Outline JSON: {outline.model_dump_json()}\nRequest JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="debate script",
            schema=DebateScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_script(request, outline, budget),
            check=lambda script: check_lines(script.sections, self.cast(request), budget),
        )

    def tracks(
        self, request: DebateRequest, outline: DebateOutline, script: DebateScript
    ) -> list[TrackPlan]:
        return [TrackPlan(key="episode", title=outline.title, sections=script.sections)]

    def publication(self, request: DebateRequest, outline: DebateOutline) -> Publication:
        names = [s.name for s in outline.stances]
        return Publication(
            title=f"Debate: {outline.topic}",
            subtitle=" vs. ".join(names),
            description=(
                f"{', '.join(names[:-1])} and {names[-1]} debate {outline.topic}, "
                f"moderated by {request.moderator_name}."
            ),
            topic=outline.topic,
            era=outline.era,
            sources=outline.sources,
        )

    def detail(
        self,
        request: DebateRequest,
        outline: DebateOutline,
        script: DebateScript,
        tracks: Sequence[RenderedTrackInfo],
    ) -> dict[str, Any]:
        return {
            "moderator_name": request.moderator_name,
            "moderator_voice": request.moderator_voice,
            "topic": outline.topic,
            "participants": [p.model_dump() for p in request.participants],
            "rounds": [s.model_dump() for s in script.sections],
        }

    def outline_preview(self, outline: DebateOutline) -> str:
        stances = "\n".join(f"- **{s.name}** ({s.era}): {s.position}" for s in outline.stances)
        rounds = "\n".join(
            f"{i}. **{r.title}**: {r.question}" for i, r in enumerate(outline.rounds, 1)
        )
        return f"## {outline.title}\n{stances}\n\n{rounds}"

    # --- offline templates -------------------------------------------------------------------

    def _offline_outline(self, request: DebateRequest) -> DebateOutline:
        eras = [prose.figure_facts(p.name)[1] for p in request.participants]
        return DebateOutline(
            title=f"{' vs. '.join(p.name for p in request.participants)}: {request.topic}",
            topic=request.topic,
            era=eras[0] if len(set(eras)) == 1 else "across the centuries",
            stances=[
                Stance(name=p.name, era=era, position=p.position)
                for p, era in zip(request.participants, eras, strict=True)
            ],
            rounds=[
                RoundPlan(title=f"Round {i + 1}", question=q.format(topic=request.topic))
                for i, q in enumerate(_ROUND_QUESTIONS[: request.rounds])
            ],
            sources=[],
        )

    def _offline_script(
        self, request: DebateRequest, outline: DebateOutline, budget: int
    ) -> DebateScript:
        rng = prose.seeded("debate.script", request.model_dump_json())
        moderator = request.moderator_name
        names = [s.name for s in outline.stances]
        opening = Section(
            title="Opening",
            lines=[
                Line(
                    speaker=moderator,
                    text=f"Welcome to Epoch Pod. Tonight: {outline.topic}. With me are "
                    f"{', '.join(names[:-1])} and {names[-1]}. Let us begin.",
                )
            ],
        )
        closing = Section(
            title="Closing",
            lines=[
                Line(
                    speaker=moderator,
                    text="That is all our time. Thank you to our guests, and thank you for "
                    "listening to Epoch Pod.",
                )
            ],
        )
        fixed = sum(count_words(line.text) for s in (opening, closing) for line in s.lines)
        per_round = max(60, (budget - fixed) // len(outline.rounds))
        rounds = []
        for plan in outline.rounds:
            lines = [Line(speaker=moderator, text=plan.question)]
            # Each participant speaks in turn, with equal budgets, so the debate stays balanced.
            per_turn = max(15, (per_round - count_words(plan.question)) // len(names))
            for stance in outline.stances:
                text = prose.speech_until(
                    rng,
                    prose.ARGUMENTS,
                    per_turn,
                    topic=outline.topic,
                    position=stance.position.rstrip("."),
                )
                lines.append(Line(speaker=stance.name, text=text))
            rounds.append(Section(title=plan.title, lines=lines))
        return DebateScript(sections=[opening, *rounds, closing])


_ROUND_QUESTIONS = (
    "What is the heart of the matter in {topic}?",
    "Where has history proved your opponents wrong about {topic}?",
    "What would you concede to the other side?",
    "What is the strongest evidence against your own view?",
    "What should our listeners take away about {topic}?",
    "If you could change one decision in this story, which would it be?",
)
