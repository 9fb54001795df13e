"""The fact sheet models: lookups, the sourced share and the prompt text writers get."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from epochpod_assets.history.factsheet import (
    Fact,
    FactSheet,
    FigureTimeline,
    Finding,
    Source,
    TimelineEvent,
)


def sheet() -> FactSheet:
    return FactSheet(
        topic="Einstein in 1921",
        sources=[
            Source(
                id=1,
                title="Einstein notes",
                author="Epoch Pod",
                year=2026,
                location="notes/einstein.md",
                media_key="sources/ab/abcd.txt",
                sha256="abcd",
                kind="md",
            )
        ],
        facts=[
            Fact(
                id=1,
                text="Einstein received the 1921 Nobel Prize in Physics.",
                date="1922",
                year=1922,
                source_id=1,
                quote="received the 1921 Nobel Prize in Physics",
                location="paragraph 2",
                sourced=True,
            ),
            Fact(id=2, text="He played the violin."),
        ],
        timelines=[
            FigureTimeline(
                name="Albert Einstein",
                as_of="1921",
                birth=1879,
                death=1955,
                events=[TimelineEvent(year=1905, text="Papers on relativity", fact_id=None)],
            )
        ],
    )


def test_lookups_and_sourced_share() -> None:
    facts = sheet()
    assert facts.fact(2).text == "He played the violin."
    assert facts.source(1).title == "Einstein notes"
    timeline = facts.timeline("albert einstein ")
    assert timeline is not None and timeline.birth == 1879
    assert facts.timeline("Marie Curie") is None
    assert facts.sourced_share == 0.5
    with pytest.raises(KeyError):
        facts.fact(9)


def test_prompt_text_numbers_facts_and_says_what_is_unsourced() -> None:
    text = sheet().as_prompt()
    assert "S1. Epoch Pod, Einstein notes (2026). notes/einstein.md" in text
    assert (
        "[1] (1922) Einstein received the 1921 Nobel Prize in Physics. — source 1, paragraph 2"
        in text
    )
    assert "[2] He played the violin. — unsourced" in text
    assert "Timeline of Albert Einstein (1879-1955), speaking as of 1921:" in text
    assert "  1905: Papers on relativity" in text


def test_round_trips_as_json() -> None:
    facts = sheet()
    assert FactSheet.model_validate_json(facts.model_dump_json()) == facts


def test_finding_rejects_an_unknown_kind_and_line_zero() -> None:
    finding = Finding(
        line=3,
        speaker="Einstein",
        kind="anachronism",
        term="1945",
        evidence="after 1921",
        origin="date",
    )
    assert finding.describe() == "line 3 (Einstein): anachronism '1945': after 1921"
    with pytest.raises(ValidationError):
        Finding(line=0, speaker="x", kind="anachronism", term="t", evidence="e", origin="date")
    with pytest.raises(ValidationError):
        Finding.model_validate(
            {
                "line": 1,
                "speaker": "x",
                "kind": "wrong",
                "term": "t",
                "evidence": "e",
                "origin": "date",
            }
        )
