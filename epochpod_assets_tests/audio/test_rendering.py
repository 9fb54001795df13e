"""rendering.py through the real openai client against the OpenAI-compatible test server:
the segment cache pays for each line once, re-voicing pays for exactly that speaker's lines,
progress is reported per segment, and pauses are planned where the script says."""

from __future__ import annotations

import tempfile
from pathlib import Path

from epochpod_assets.audio.rendering import (
    PAUSE_BETWEEN_SECTIONS,
    PAUSE_BETWEEN_TURNS,
    planned_pauses,
    render_tracks,
)
from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.formats.base import Line, Section, TrackPlan
from epochpod_assets.providers.base import Usage
from epochpod_assets.providers.openai_voice import OpenAIVoice
from epochpod_assets.storage import LocalMediaStore, MediaStore
from epochpod_assets_tests.support.fake_openai import FakeOpenAI


def two_speaker_script(turns: int) -> list[TrackPlan]:
    """One track of `turns` distinct lines, Host and Guest alternating, in two sections."""
    lines = [
        Line(
            speaker=("Host", "Guest")[turn % 2],
            text=f"Line {turn}: the road to Samarkand ran through the desert for weeks.",
        )
        for turn in range(turns)
    ]
    half = turns // 2
    return [
        TrackPlan(
            key="episode",
            title="Re-voicing",
            sections=[
                Section(title="One", lines=lines[:half]),
                Section(title="Two", lines=lines[half:]),
            ],
        )
    ]


def render_through(
    server: FakeOpenAI,
    store: MediaStore,
    plans: list[TrackPlan],
    cast: dict[str, str],
    progress: list[tuple[int, int]] | None = None,
) -> tuple[int, int]:
    """Renders `plans` through the real path; returns the cache's (hits, misses)."""
    seen = progress if progress is not None else []
    voice = OpenAIVoice(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    cache = SegmentCache(voice, store, Usage())
    try:
        render_tracks(
            "episode-1",
            plans,
            cast,
            album="Epoch Pod",
            description="test",
            cache=cache,
            store=store,
            concurrency=4,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    finally:
        voice.close()
    return cache.hits, cache.misses


def test_revoicing_one_speaker_synthesizes_exactly_that_speakers_lines() -> None:
    plans = two_speaker_script(12)
    with FakeOpenAI(samples_per_char=50) as server, tempfile.TemporaryDirectory() as folder:
        store = LocalMediaStore(Path(folder))
        progress: list[tuple[int, int]] = []

        assert render_through(
            server, store, plans, {"Host": "alloy", "Guest": "onyx"}, progress
        ) == (0, 12)
        assert server.stats().calls["speech"] == 12
        assert sorted(progress) == [(done, 12) for done in range(1, 13)]

        server.reset()
        assert render_through(server, store, plans, {"Host": "alloy", "Guest": "nova"}) == (6, 6)
        revoiced = server.requests
        assert len(revoiced) == 6 and {r.body["voice"] for r in revoiced} == {"nova"}

        server.reset()
        assert render_through(server, store, plans, {"Host": "alloy", "Guest": "nova"}) == (12, 0)
        assert server.stats().total_calls == 0


def test_pauses_are_longer_between_sections_and_absent_after_the_last_line() -> None:
    plan = two_speaker_script(6)[0]
    assert planned_pauses(plan) == [
        PAUSE_BETWEEN_TURNS,
        PAUSE_BETWEEN_TURNS,
        PAUSE_BETWEEN_SECTIONS,
        PAUSE_BETWEEN_TURNS,
        PAUSE_BETWEEN_TURNS,
        0.0,
    ]
