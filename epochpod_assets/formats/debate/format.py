"""Debate: a moderator and two to four historical figures argue a question in rounds."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.catalog.schema import debate_details
from epochpod_assets.formats import prose, schemas
from epochpod_assets.formats.base import (
    EpisodeFormat,
    Line,
    Publication,
    RenderedTrackInfo,
    ScriptCheck,
    Section,
    TrackPlan,
    Verdict,
    cast_mismatch,
    check_lines,
    count_words,
    voice_fields,
)
from epochpod_assets.formats.debate.request import DebateRequest
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.providers.base import WritingTask
from epochpod_assets.providers.voices import VOICE_HELP
from epochpod_assets.scripting.scriptfile import ScriptFile

# No debater may hold more than this share of the debaters' words (the moderator aside).
MAX_DEBATE_SHARE = 0.60


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


def judge_balance(request: DebateRequest, plans: Sequence[TrackPlan]) -> Verdict:
    """No debater speaks more than MAX_DEBATE_SHARE of the debaters' words."""
    debaters = [p.name for p in request.participants]
    words = dict.fromkeys(debaters, 0)
    for plan in plans:
        for section in plan.sections:
            for line in section.lines:
                if line.speaker in words:
                    words[line.speaker] += count_words(line.text)
    total = sum(words.values())
    shares = {name: (count / total if total else 0.0) for name, count in words.items()}
    top = max(shares, key=lambda name: shares[name])
    passed = total > 0 and shares[top] <= MAX_DEBATE_SHARE
    return Verdict(
        passed,
        f"{top} has {shares[top]:.0%} of the debaters' words (at most "
        f"{MAX_DEBATE_SHARE:.0%} allowed)",
        {"shares": {k: round(v, 3) for k, v in shares.items()}},
    )


class DebateFormat(EpisodeFormat[DebateRequest, DebateOutline, DebateScript]):
    name = "debate"
    episode_type = "DEBATE"
    summary = "a moderated debate between 2 to 4 figures"
    request_model = DebateRequest
    outline_model = DebateOutline
    script_model = DebateScript
    detail_table = debate_details
    script_checks = (
        ScriptCheck(
            name="debate_is_balanced",
            description="No debater speaks more than 60% of the debaters' words (passes for "
            "other formats).",
            judge=judge_balance,
        ),
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--topic", help="the motion debated (required)")
        parser.add_argument(
            "--participant",
            action="append",
            metavar="NAME=POSITION[=VOICE[=AS_OF]]",
            help="a participant and the position they argue; repeat for each (2 to 4); AS_OF is "
            "the date they speak from (default --as-of), e.g. 'Adam Smith=free trade==1776'",
        )
        parser.add_argument("--moderator-name", help="the moderator's name")
        parser.add_argument("--moderator-voice", help=f"the moderator's voice: {VOICE_HELP}")
        parser.add_argument("--rounds", type=int, help="rounds of questions, 1 to 6 (default 3)")

    def request_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in values.items() if k != "participant"}
        if values.get("participant"):
            fields["participants"] = [_participant(p) for p in values["participant"]]
        return fields

    def demo_request(self) -> dict[str, Any]:
        return {
            "format": "debate",
            "topic": "whether the printing press did more good than harm",
            "participants": [
                {"name": "Martin Luther", "position": "print spread truth to ordinary people"},
                {"name": "Erasmus", "position": "print spread quarrels faster than wisdom"},
            ],
            "rounds": 2,
            "as_of": "1525",
            # A short source written for this repository (a plain summary of well-established
            # facts, in this package): research reads it and the show notes cite it.
            "sources": [
                {
                    "location": str(resources.files(__package__) / "demo_source.md"),
                    "title": "Print, Luther and Erasmus, to 1525",
                    "author": "Epoch Pod",
                }
            ],
            "target_minutes": 3,
        }

    def placeholder_title(self, request: DebateRequest) -> str:
        return f"Generating debate on {request.topic}..."

    def own_script_fields(
        self, script: ScriptFile, title: str, voice_of: Mapping[str, str]
    ) -> dict[str, Any]:
        speakers = script.speakers()
        if not 3 <= len(speakers) <= 5:
            raise cast_mismatch(script, "a debate has a moderator, then two to four participants")
        moderator, *participants = speakers
        return {
            "topic": title,
            "moderator_name": moderator,
            "participants": [
                {"name": p, "position": "as argued in the script"}
                | ({"voice": voice_of[p]} if p in voice_of else {})
                for p in participants
            ],
            "rounds": 1,  # the file's sections are the rounds; this only sizes the plan
        } | voice_fields({"moderator_voice": moderator}, voice_of)

    def cast(self, request: DebateRequest) -> dict[str, str]:
        cast = {request.moderator_name: request.moderator_voice}
        cast.update({p.name: p.voice or "" for p in request.participants})
        return cast

    def figures(self, request: DebateRequest) -> dict[str, HistoricalDate | None]:
        return {p.name: p.as_of for p in request.participants}

    def meeting_date(self, request: DebateRequest) -> HistoricalDate | None:
        return request.as_of

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
            json_schema=_outline_schema(request),
            decode=_decode_outline,
            encode=_encode_outline,
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
            json_schema=_script_schema(request, outline, budget),
            decode=lambda answer: _decode_script(answer, request, outline),
            encode=_encode_script,
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


# --- per-request schemas (formats/schemas.py): what a model that follows only the schema needs --
# Participants and rounds are fixed properties in the request's order, every speaker a const:
# a stance cannot go missing, a round cannot be added, and every participant answers every
# round once, after the moderator's question (as `fixed_turns` plans it).

# The moderator's opening and closing, in words; the rounds share the rest of the budget.
_OPENING_WORDS = 30
_CLOSING_WORDS = 20


def _participant_keys(count: int) -> list[str]:
    return [f"participant_{number}" for number in range(1, count + 1)]


def _outline_schema(request: DebateRequest) -> schemas.Schema:
    keys = _participant_keys(len(request.participants))
    return schemas.obj(
        {
            "title": schemas.text("the episode's title", max_words=14),
            "topic": schemas.const(request.topic),
            "era": schemas.text("the period the debate draws on, in words", max_words=10),
            "stances": schemas.obj(
                {
                    key: schemas.obj(
                        {
                            "name": schemas.const(p.name),
                            "era": schemas.text("when they lived, in words", max_words=10),
                            "position": schemas.const(p.position),
                        }
                    )
                    for key, p in zip(keys, request.participants, strict=True)
                }
            ),
            "rounds": schemas.array(
                schemas.obj(
                    {
                        "title": schemas.text("the round's title", max_words=8),
                        "question": schemas.text("the moderator's question", max_words=30),
                    }
                ),
                request.rounds,
                f"exactly {request.rounds} rounds",
            ),
            "sources": schemas.array(
                schemas.text("a book or archive a listener could read next", max_words=30),
                (0, 6),
            ),
        }
    )


def _decode_outline(answer: Any) -> dict[str, Any]:
    return {**answer, "stances": list(answer["stances"].values())}


def _encode_outline(outline: DebateOutline) -> dict[str, Any]:
    data = outline.model_dump(mode="json")
    keys = _participant_keys(len(data["stances"]))
    return {**data, "stances": dict(zip(keys, data["stances"], strict=True))}


def _round_keys(count: int) -> list[str]:
    return [f"round_{number}" for number in range(1, count + 1)]


def _script_schema(request: DebateRequest, outline: DebateOutline, budget: int) -> schemas.Schema:
    moderator, names = request.moderator_name, [p.name for p in request.participants]
    keys = _participant_keys(len(names))
    per_round = max(60, budget - _OPENING_WORDS - _CLOSING_WORDS) / len(outline.rounds)
    # The question is about half an answer; every participant gets the same share.
    answer_words = per_round / (len(names) + 0.5)
    spread = schemas.spread_for(len(outline.rounds) * (len(names) + 1) + 2)

    def turn(speaker: str, words: float) -> schemas.Schema:
        return schemas.line([speaker], words, spread)

    def round_schema(plan: RoundPlan) -> schemas.Schema:
        return schemas.obj(
            {
                "question": turn(moderator, answer_words / 2),
                **{key: turn(name, answer_words) for key, name in zip(keys, names, strict=True)},
            },
            f"the round {plan.title!r}: the moderator asks, then each participant answers once",
        )

    return schemas.obj(
        {
            "opening": turn(moderator, _OPENING_WORDS),
            **{
                key: round_schema(plan)
                for key, plan in zip(_round_keys(len(outline.rounds)), outline.rounds, strict=True)
            },
            "closing": turn(moderator, _CLOSING_WORDS),
        }
    )


def _decode_script(answer: Any, request: DebateRequest, outline: DebateOutline) -> dict[str, Any]:
    keys = _participant_keys(len(request.participants))
    rounds = [
        {
            "title": plan.title,
            "lines": [answer[key]["question"], *(answer[key][p] for p in keys)],
        }
        for key, plan in zip(_round_keys(len(outline.rounds)), outline.rounds, strict=True)
    ]
    return {
        "sections": [
            {"title": "Opening", "lines": [answer["opening"]]},
            *rounds,
            {"title": "Closing", "lines": [answer["closing"]]},
        ]
    }


def _encode_script(script: DebateScript) -> dict[str, Any]:
    sections = [s.model_dump(mode="json") for s in script.sections]
    opening, *rounds, closing = sections
    wire: dict[str, Any] = {"opening": opening["lines"][0], "closing": closing["lines"][0]}
    for key, section in zip(_round_keys(len(rounds)), rounds, strict=True):
        question, *answers = section["lines"]
        wire[key] = {"question": question} | dict(
            zip(_participant_keys(len(answers)), answers, strict=True)
        )
    return wire


def _participant(spec: str) -> dict[str, str]:
    """`NAME=POSITION[=VOICE[=AS_OF]]`, as `--participant` takes it."""
    name, _, rest = spec.partition("=")
    position, _, rest = rest.partition("=")
    voice, _, as_of = rest.partition("=")
    participant = {"name": name, "position": position}
    if voice:
        participant["voice"] = voice
    if as_of:
        participant["as_of"] = as_of
    return participant
