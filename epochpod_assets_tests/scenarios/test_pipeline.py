"""The whole graph, for each format, with the offline providers: statuses, progress, the
published row, the media it wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from mutagen.id3 import ID3

from epochpod_assets import enqueue
from epochpod_assets.audio.espeak import EspeakVoice
from epochpod_assets.audio.ffmpeg import measure_loudness
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.formats import formats
from epochpod_assets.formats.base import WORDS_PER_MINUTE, count_words
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.base import ProviderError
from epochpod_assets.serve import local_path

ASSETS = [episode_research, episode_outline, episode_script, episode_audio, published_episode]

# One-minute cases for the first formats; every other registered format runs its own demo
# request, so a new format is covered by this scenario as soon as it is registered.
SHORT_REQUESTS: dict[str, dict[str, Any]] = {
    "interview": {
        "format": "interview",
        "guest_name": "Marie Curie",
        "topic": "radioactivity",
        "target_minutes": 1,
    },
    "debate": {
        "format": "debate",
        "topic": "the steam engine",
        "participants": [
            {"name": "James Watt", "position": "steam freed us from muscle"},
            {"name": "William Blake", "position": "the mills are dark and satanic"},
        ],
        "rounds": 1,
        "target_minutes": 1,
    },
    "adventure": {
        "format": "adventure",
        "setting": "Paris, 1789",
        "depth": 2,
        "choices": 2,
        "target_minutes": 1,
    },
}
REQUESTS = {fmt.name: SHORT_REQUESTS.get(fmt.name) or fmt.demo_request() for fmt in formats()}


def _record_status_history(db: Catalog) -> None:
    """A trigger keeps every (status, progress) the episode passes through, as the web app
    polling the row would see it."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE status_history (id TEXT, status TEXT, progress INT)"))
        conn.execute(
            sa.text(
                "CREATE TRIGGER keep_status AFTER UPDATE ON episodes BEGIN "
                "INSERT INTO status_history VALUES "
                "(NEW.id, NEW.generation_status, NEW.generation_progress); END"
            )
        )


def _history(db: Catalog, episode_id: str) -> list[tuple[str, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, progress FROM status_history WHERE id = :id ORDER BY rowid"),
            {"id": episode_id},
        )
        changes: list[tuple[str, int]] = []
        for status, progress in rows:
            if not changes or changes[-1] != (status, progress):
                changes.append((status, progress))
        return changes


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _materialize(instance: dg.DagsterInstance, episode_id: str) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("episodes", [episode_id])
    return dg.materialize(
        ASSETS,
        partition_key=episode_id,
        instance=instance,
        resources=resources_from_env(),
        raise_on_error=False,
    )


def _path(url: str) -> Path:
    # Local media are linked through `epochpod serve` (http://127.0.0.1:8765/<key>).
    path = local_path(url)
    assert path is not None, url
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(REQUESTS))
def test_offline_episode_is_published_with_status_sequence(
    kind: str, instance: dg.DagsterInstance
) -> None:
    db = open_catalog()
    _record_status_history(db)
    episode_id = enqueue(REQUESTS[kind], db)

    result = _materialize(instance, episode_id)
    assert result.success

    history = _history(db, episode_id)
    stages = [status for status, _ in history]
    assert stages[0] == "RESEARCHING" and stages[-1] == "COMPLETED"
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "RESEARCHING",
        "GENERATING_OUTLINE",
        "GENERATING_SCRIPT",
        "GENERATING_AUDIO",
        "UPLOADING",
        "COMPLETED",
    ]
    progress = [p for _, p in history]
    assert progress == sorted(progress), "progress never goes backwards"
    assert {
        ("RESEARCHING", 5),
        ("GENERATING_OUTLINE", 10),
        ("GENERATING_SCRIPT", 40),
        ("GENERATING_AUDIO", 70),
        ("UPLOADING", 90),
        ("COMPLETED", 100),
    } <= set(history)
    audio_steps = [p for s, p in history if s == "GENERATING_AUDIO"]
    assert len(audio_steps) > 2 and max(audio_steps) <= 89, "audio progress rises per segment"

    row = db.get(episode_id)
    assert row is not None
    assert row["status"] == "PUBLISHED" and row["published_at"] is not None
    assert row["generation_job_id"] == result.run_id
    assert row["generation_error"] is None
    assert not row["title"].startswith("Generating")
    assert row["description"] and row["topic"]
    paragraphs = row["transcript"].split("\n\n")
    assert all(": " in p for p in paragraphs)
    mp3 = _path(row["audio_url"])
    assert mp3.stat().st_size == row["audio_bytes"] > 10_000
    captions = _path(row["captions_url"]).read_text()
    assert captions.startswith("WEBVTT")
    first_speaker = paragraphs[0].split(": ", 1)[0]
    assert f"<v {first_speaker}>" in captions

    detail = db.detail(episode_id, row["type"])
    assert detail is not None
    with db.engine.connect() as conn:
        metrics = conn.execute(
            sa.text("SELECT stage, tts_characters FROM generation_metrics WHERE episode_id = :id"),
            {"id": episode_id},
        ).all()
    assert {m.stage for m in metrics} == {"research", "outline", "script", "audio", "publish"}
    assert sum(m.tts_characters for m in metrics) > 0

    # Real speech, at the requested length (one listen: for an adventure, start to ending).
    loudness = measure_loudness(mp3.read_bytes())
    assert -17.0 <= loudness.integrated_lufs <= -15.0
    spoken_words = count_words(row["transcript"]) - sum(
        count_words(p.split(": ", 1)[0]) for p in paragraphs
    )
    if kind == "adventure":
        story = detail["story_map"]
        assert set(story) == {"n1", "n2", "n3"}
        assert all(
            _path(node["audio_url"]).exists() and node["duration_seconds"] > 5
            for node in story.values()
        )
        assert [c["next"] for c in story["n1"]["choices"]] == ["n2", "n3"]
        spoken_words = spoken_words * 2 // 3  # one path visits two of the three nodes
    expected = spoken_words / WORDS_PER_MINUTE * 60
    assert abs(row["duration_seconds"] - expected) <= 0.25 * expected

    tags = ID3(mp3)
    assert tags.getall("CHAP"), "chapters are written into the MP3"


@pytest.mark.slow
def test_unchanged_script_rerenders_from_the_segment_cache(instance: dg.DagsterInstance) -> None:
    episode_id = enqueue(REQUESTS["interview"])
    assert _materialize(instance, episode_id).success
    again = dg.materialize(
        [episode_audio, published_episode],
        partition_key=episode_id,
        instance=instance,
        resources=resources_from_env(),
    )
    audio = again.asset_materializations_for_node("episode_audio")[0].metadata
    assert audio["cache_misses"].value == 0
    assert audio["cache_hits"].value == audio["segments"].value > 0
    assert audio["tts_characters"].value == 0


def test_failure_leaves_the_episode_failed_with_a_reason(instance: dg.DagsterInstance) -> None:
    episode_id = enqueue(REQUESTS["interview"])
    db = open_catalog()
    # The outline never ran, so the script has nothing to work from.
    instance.add_dynamic_partitions("episodes", [episode_id])
    result = dg.materialize(
        [episode_script],
        partition_key=episode_id,
        instance=instance,
        resources=resources_from_env(),
        raise_on_error=False,
    )
    assert not result.success
    row = db.get(episode_id)
    assert row is not None
    assert row["generation_status"] == "FAILED"
    assert row["generation_error"].startswith("script failed:")
    assert "outline.json" in row["generation_error"]


def test_malformed_row_fails_at_the_first_stage(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    broken: dict[str, Any] = dict(REQUESTS["interview"], host_voice="nobody")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE episodes SET request = :r WHERE id = :id"),
            {"r": json.dumps(broken), "id": episode_id},
        )
    assert not _materialize(instance, episode_id).success
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert "host_voice: unknown voice 'nobody'" in row["generation_error"]


@pytest.mark.slow
@pytest.mark.parametrize("transient", [True, False], ids=["transient", "permanent"])
def test_provider_errors_retry_only_when_transient(
    transient: bool, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_catalog()
    _record_status_history(db)
    episode_id = enqueue(REQUESTS["interview"], db)
    speak = EspeakVoice.synthesize
    calls = 0

    def flaky(self: EspeakVoice, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ProviderError("the speech service is overloaded", transient=transient)
        return speak(self, *args, **kwargs)

    monkeypatch.setattr(EspeakVoice, "synthesize", flaky)
    result = _materialize(instance, episode_id)
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    row = db.get(episode_id)
    assert row is not None
    if transient:
        assert result.success and len(retried) == 1
        assert "FAILED" not in [status for status, _ in _history(db, episode_id)]
        assert row["generation_status"] == "COMPLETED"
    else:
        assert not result.success and retried == []
        assert row["generation_status"] == "FAILED"
        assert row["generation_error"] == "audio failed: the speech service is overloaded"
