"""What every registered format must do, checked for each one the registry lists: a format
added to `formats/registry.py` is covered here (and by the pipeline and demo scenarios) with
no test written for it."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from epochpod_assets.formats import registry
from epochpod_assets.formats.base import WORD_BUDGET_TOLERANCE, RenderedTrackInfo, section_words
from epochpod_assets.requests import RequestError, parse_request

NAMES = registry.names()


def _fmt(name: str) -> registry.AnyFormat:
    return registry.by_name(name)


@pytest.mark.parametrize("name", NAMES)
def test_a_format_is_found_by_its_name_and_its_episode_type(name: str) -> None:
    fmt = _fmt(name)
    assert fmt.episode_type == name.upper()
    assert registry.format_for(fmt.episode_type) is fmt
    assert registry.episode_type(name) == fmt.episode_type
    assert fmt.request_model.model_fields["format"].default == name
    assert fmt.summary


def test_an_unknown_format_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(RequestError) as error:
        parse_request({"format": "radio-play"})
    assert error.value.problems == [f"format: must be one of {', '.join(NAMES)} (got 'radio-play')"]


@pytest.mark.parametrize("name", NAMES)
def test_the_demo_request_is_valid_and_the_catalog_can_show_it(name: str) -> None:
    fmt = _fmt(name)
    request = parse_request(fmt.demo_request())
    assert request.format == name
    assert fmt.placeholder_title(request).startswith("Generating")
    assert fmt.catalog_topic(request)


@pytest.mark.parametrize("name", NAMES)
def test_the_flags_are_named_after_request_fields(name: str) -> None:
    fmt = _fmt(name)
    parser = argparse.ArgumentParser()
    fmt.add_arguments(parser)
    fields = set(fmt.request_model.model_fields)
    dests = {a.dest for a in parser._actions if a.dest != "help"}
    # A flag is a field, or one that `request_fields` turns into a field (--participant).
    values = dict.fromkeys(dests, None)
    mapped = set(fmt.request_fields({k: v for k, v in values.items() if v is not None}))
    assert mapped <= fields
    singular = {d for d in dests if d not in fields}
    assert all(f"{d}s" in fields for d in singular), singular


def _at(name: str, minutes: float) -> Any:
    raw = {**_fmt(name).demo_request(), "target_minutes": minutes}
    return parse_request(raw)


@pytest.mark.parametrize("minutes", [3, 12, 30])
@pytest.mark.parametrize("name", NAMES)
def test_offline_templates_pass_the_formats_own_checks_at_length(name: str, minutes: int) -> None:
    fmt = _fmt(name)
    request = _at(name, minutes)
    outline_task = fmt.outline_task(request)
    outline = outline_task.template()
    if outline_task.check is not None:
        outline_task.check(outline)
    budget = fmt.word_budget(request)
    script = fmt.script_task(request, outline, budget).template()
    fmt.check_script(request, outline, script, budget)

    tracks = fmt.tracks(request, outline, script)
    assert tracks and all(track.sections for track in tracks)
    spoken = {line.speaker for t in tracks for s in t.sections for line in s.lines}
    assert spoken == set(fmt.cast(request)), "every cast member speaks, no one else"
    heard = fmt.words_per_listen(request, [section_words(t.sections) for t in tracks])
    assert abs(heard - budget) <= WORD_BUDGET_TOLERANCE * budget
    assert fmt.spoken_words(request) >= budget

    publication = fmt.publication(request, outline)
    assert publication.title and publication.description
    # The detail is stored as JSON: it must survive the round trip unchanged.
    rendered = [RenderedTrackInfo(t.key, f"file:///{t.key}.mp3", 1000, 60.0) for t in tracks]
    detail = fmt.detail(request, outline, script, rendered)
    assert json.loads(json.dumps(detail)) == detail
    assert fmt.outline_preview(outline) and fmt.script_preview(request, outline, script)


@pytest.mark.parametrize("name", NAMES)
def test_a_long_episode_is_written_in_parts_that_join_into_a_valid_script(name: str) -> None:
    fmt = _fmt(name)
    request = _at(name, 30)
    outline = fmt.outline_task(request).template()
    budget = fmt.word_budget(request)
    briefs = fmt.section_briefs(request, outline, budget)
    if briefs is None:
        pytest.skip(f"{name} is written in one call")
    parts = []
    for brief in briefs:
        task = fmt.section_task(request, outline, brief)
        part = task.template()
        if task.check is not None:
            task.check(part)
        parts.append(part)
    joined = fmt.join_sections(request, outline, briefs, parts)
    fmt.check_script(request, outline, joined, budget)
