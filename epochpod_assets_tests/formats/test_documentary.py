"""The documentary: one narrator, the figures' own passages, a chapter per part. What the
registry-wide tests (test_registry.py, the pipeline and OpenAI scenarios, the demo) cannot
know about this one format."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from typing import Any

import pytest

from epochpod_assets import enqueue
from epochpod_assets.formats import registry
from epochpod_assets.formats.documentary import MAX_PASSAGE_WORDS, DocumentaryFormat
from epochpod_assets.formats.documentary.request import DocumentaryRequest
from epochpod_assets.formats.schemas import strict_problems
from epochpod_assets.intake import open_catalog
from epochpod_assets.requests import RequestError, parse_request

FMT = registry.by_name("documentary")
BASE: dict[str, Any] = {
    "format": "documentary",
    "subject": "the siege of Vienna, 1683",
    "figures": [
        {"name": "Jan Sobieski", "role": "King of Poland"},
        {"name": "Kara Mustafa", "role": "Grand Vizier"},
        {"name": "Ernst Rüdiger von Starhemberg", "role": "the city's commander"},
    ],
    "target_minutes": 15,
}


def _request(**changes: Any) -> DocumentaryRequest:
    request = parse_request({**BASE, **changes})
    assert isinstance(request, DocumentaryRequest)
    return request


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epochpod_assets.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_registered_under_its_own_name() -> None:
    assert isinstance(FMT, DocumentaryFormat)
    assert registry.format_for("DOCUMENTARY") is FMT


def test_enqueue_documentary_from_the_command_line() -> None:
    done = _cli(
        "enqueue", "documentary",
        "--subject", "the Panama Canal",
        "--figure", "Theodore Roosevelt=President",
        "--figure", "George Goethals=chief engineer=nova",
        "--parts", "2",
        "--target-minutes", "4",
        "--as-of", "1914",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert (row["type"], row["generation_status"], row["topic"]) == (
        "DOCUMENTARY",
        "PENDING",
        "the Panama Canal",
    )
    assert row["title"] == "Generating documentary on the Panama Canal..."
    figures = row["request"]["figures"]
    assert [(f["name"], f.get("role"), f["voice"]) for f in figures] == [
        ("Theodore Roosevelt", "President", "onyx"),
        ("George Goethals", "chief engineer", "nova"),
    ]
    assert row["request"]["parts"] == 2 and row["request"]["narrator_voice"] == "fable"


def test_cli_flags_are_the_packages_own() -> None:
    done = _cli("enqueue", "documentary", "--help")
    assert done.returncode == 0
    for flag in ("--subject", "--figure", "--narrator-voice", "--parts", "--as-of"):
        assert flag in done.stdout


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"figures": []}, "figures: List should have at least 1 item after validation, not 0"),
        (
            {"narrator_name": "Jan Sobieski"},
            "request: figures and narrator must all have different names",
        ),
        (
            {"target_minutes": 2, "parts": 4},
            "parts: 4 parts do not fit in 2 minutes; use at most 3 parts, or more minutes",
        ),
        ({"parts": 13}, "parts: Input should be less than or equal to 12"),
        ({"subject": "  "}, "subject: Value error, must not be blank"),
    ],
    ids=["no figures", "narrator is a figure", "parts too many", "parts over 12", "blank"],
)
def test_a_bad_documentary_names_the_field_and_writes_nothing(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(RequestError) as error:
        enqueue({**BASE, **changes})
    assert [p.replace("Value error, ", "") for p in error.value.problems] == [
        problem.replace("Value error, ", "")
    ]
    assert open_catalog().list() == []


def test_figures_without_a_voice_get_distinct_ones() -> None:
    request = _request(narrator_voice="onyx")
    voices = [request.narrator_voice] + [f.voice for f in request.figures]
    assert len(set(voices)) == len(voices) and None not in voices


def test_parts_default_to_one_per_five_minutes_and_each_is_a_chapter() -> None:
    assert [_request(target_minutes=m).part_count for m in (1, 5, 15, 30, 60)] == [1, 1, 3, 6, 12]
    request = _request()
    outline = FMT.outline_task(request).template()
    script = FMT.script_task(request, outline).template()
    (track,) = FMT.tracks(request, outline, script)
    assert [s.title for s in track.sections] == [p.title for p in outline.parts]
    assert len(track.sections) == 3
    # The narrator opens and closes, and introduces every passage.
    lines = [line for s in script.sections for line in s.lines]
    assert lines[0].speaker == lines[-1].speaker == request.narrator_name
    for before, line in itertools.pairwise(lines):
        if line.speaker != request.narrator_name:
            assert before.speaker == request.narrator_name
            assert before.text.endswith(f"{line.speaker} wrote:") or before.text.endswith(
                f"{line.speaker} said:"
            )


def test_every_figure_reads_even_with_fewer_parts_than_figures() -> None:
    request = _request(target_minutes=3, parts=1)
    outline = FMT.outline_task(request).template()
    readers = {p.figure for part in outline.parts for p in part.passages}
    assert readers == {f.name for f in request.figures}


def test_the_script_check_refuses_a_long_passage_a_missing_part_and_an_absent_figure() -> None:
    request = _request()
    outline = FMT.outline_task(request).template()
    budget = FMT.word_budget(request)
    script = FMT.script_task(request, outline, budget).template()
    FMT.check_script(request, outline, script, budget)

    long = script.model_copy(deep=True)
    passage = next(line for line in long.sections[1].lines if line.speaker != "The Narrator")
    passage.text = " ".join(["word"] * (MAX_PASSAGE_WORDS + 1))
    with pytest.raises(ValueError, match=f"a passage has at most {MAX_PASSAGE_WORDS}"):
        FMT.check_script(request, outline, long, budget)

    short = script.model_copy(update={"sections": script.sections[:-1]}, deep=True)
    with pytest.raises(ValueError, match=r"must be the outline's parts|the script has"):
        FMT.check_script(request, outline, short, budget)

    silent = outline.model_copy(deep=True)
    for part in silent.parts:
        for p in part.passages:
            p.figure = "Jan Sobieski"
    with pytest.raises(ValueError, match="figures with no passage"):
        task = FMT.outline_task(request)
        assert task.check is not None
        task.check(silent)


def test_prompts_name_the_task_and_carry_the_request() -> None:
    request = _request()
    outline = FMT.outline_task(request).template()
    prompt = FMT.script_task(request, outline).prompt
    assert prompt.startswith("Task: documentary.script\n")
    assert "Word budget: 2250" in prompt and f"Request JSON: {request.model_dump_json()}" in prompt
    assert "passages" in FMT.script_task(request, outline).instructions
    schema = FMT.script_task(request, outline).response_schema()
    # The per-request schema: one fixed property per outline part, valid in strict mode.
    parts = [f"part_{n}" for n in range(1, len(outline.parts) + 1)]
    assert schema["additionalProperties"] is False and schema["required"] == parts
    assert strict_problems(schema) == []


def test_detail_is_kept_as_json_with_no_table_of_its_own() -> None:
    assert FMT.detail_table is None
    request = _request(target_minutes=3, parts=2)
    outline = FMT.outline_task(request).template()
    script = FMT.script_task(request, outline).template()
    detail = FMT.detail(request, outline, script, [])
    assert [p["title"] for p in detail["parts"]] == [p.title for p in outline.parts]
    assert {f["name"] for f in detail["figures"]} == {f.name for f in request.figures}
    db = open_catalog()
    episode_id = db.enqueue(request)
    db.publish(episode_id, {"title": "T"}, detail)
    assert db.detail(episode_id) == {"episode_id": episode_id, **json.loads(json.dumps(detail))}
