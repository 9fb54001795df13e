"""The per-request schemas: valid under OpenAI's strict mode, and enough on their own that any
answer fitting them has the planned structure (the validators' structural checks pass)."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest

from epochpod_assets.formats import format_for
from epochpod_assets.formats.schemas import strict_problems
from epochpod_assets.providers.base import LengthRejected, WritingTask
from epochpod_assets.requests import parse_request
from epochpod_assets_tests.support.schema_only import random_instance

REQUESTS: dict[str, dict[str, Any]] = {
    "interview": {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines"},
    "debate": {
        "format": "debate",
        "topic": "free trade",
        "participants": [
            {"name": "Adam Smith", "position": "markets make nations rich"},
            {"name": "Friedrich List", "position": "young industries need protection"},
            {"name": "Jean-Baptiste Colbert", "position": "the state builds industry"},
        ],
        "rounds": 3,
    },
    "adventure": {"format": "adventure", "setting": "Alexandria, 48 BC", "depth": 3, "choices": 3},
    "documentary": {
        "format": "documentary",
        "subject": "the building of the Panama Canal",
        "figures": [
            {"name": "Theodore Roosevelt"},
            {"name": "George Washington Goethals"},
            {"name": "William Gorgas"},
        ],
        "parts": 2,
    },
}


def tasks(kind: str, minutes: int) -> list[WritingTask[Any]]:
    """Every writing task of one episode, the outline written by the offline template."""
    request = parse_request(dict(REQUESTS[kind], target_minutes=minutes))
    fmt = format_for(request.format.upper())
    outline_task = fmt.outline_task(request)
    outline = outline_task.template()
    found: list[WritingTask[Any]] = [outline_task, fmt.script_task(request, outline)]
    budget = fmt.word_budget(request)
    found += [
        fmt.section_task(request, outline, b)
        for b in fmt.section_briefs(request, outline, budget) or []
    ]
    return found


@pytest.mark.parametrize("kind", sorted(REQUESTS))
@pytest.mark.parametrize("minutes", [2, 30])
def test_every_schema_is_valid_in_strict_mode(kind: str, minutes: int) -> None:
    for task in tasks(kind, minutes):
        assert strict_problems(task.response_schema()) == [], task.name


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_any_answer_that_fits_the_schema_has_the_planned_structure(kind: str) -> None:
    """Random answers (what a schema-only model sends) decode and pass the structural checks:
    the cast, the story's node ids and choice targets, the counts."""
    rng = random.Random(kind)
    request = parse_request(dict(REQUESTS[kind], target_minutes=4))
    fmt = format_for(request.format.upper())
    cast = set(fmt.cast(request))
    outline_task = fmt.outline_task(request)
    for _ in range(20):
        outline = outline_task.parse(random_instance(outline_task.response_schema(), rng))
        if outline_task.check is not None:
            outline_task.check(outline)  # the adventure's tree is exactly the planned one
        script_task = fmt.script_task(request, outline)
        script = script_task.parse(random_instance(script_task.response_schema(), rng))
        # Every check a schema can make true passes; only the length may miss.
        with contextlib.suppress(LengthRejected):
            script_task.check(script)  # type: ignore[misc]
        tracks = fmt.tracks(request, outline, script)
        speakers = {line.speaker for t in tracks for s in t.sections for line in s.lines}
        assert speakers <= cast
        if kind == "debate":
            assert [s.name for s in outline.stances] == [p.name for p in request.participants]
            assert len(outline.rounds) == request.rounds == len(script.sections) - 2
        if kind == "interview":
            assert outline.guest.name == request.guest_name
            assert len(script.sections) == len(outline.sections) + 2
        if kind == "adventure":
            assert [n.id for n in script.nodes] == [n.id for n in outline.nodes]
        if kind == "documentary":
            assert [s.title for s in script.sections] == [p.title for p in outline.parts]
