"""Asset checks, run by Dagster on real episodes made by the offline providers; failing cases
tamper with what the assets stored, as a bad writer or a broken render would leave it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.audio.ffmpeg import run_ffmpeg
from epochpod_assets.defs import checks
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.checks import episode_checks
from epochpod_assets.defs.resources import MediaResource, resources_from_env
from epochpod_assets.formats.debate import format as debate_format
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import episode_key

ASSETS = [episode_research, episode_outline, episode_script, episode_audio, published_episode]

DEBATE = {
    "format": "debate",
    "topic": "the steam engine",
    "participants": [
        {"name": "James Watt", "position": "steam freed us from muscle"},
        {"name": "William Blake", "position": "the mills are dark and satanic"},
    ],
    "rounds": 1,
    "target_minutes": 1,
}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _run(
    instance: dg.DagsterInstance, episode_id: str, assets: list[Any] = ASSETS
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("episodes", [episode_id])
    return dg.materialize(
        [*assets, *episode_checks],
        partition_key=episode_id,
        instance=instance,
        resources=resources_from_env(),
        raise_on_error=False,
    )


def _verdicts(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def _stored(episode_id: str) -> checks.Stored:
    return checks._stored(open_catalog(), MediaResource().get(), episode_id)


@pytest.mark.slow
def test_a_good_debate_passes_every_check_and_publishes(instance: dg.DagsterInstance) -> None:
    episode_id = enqueue(DEBATE, open_catalog())

    result = _run(instance, episode_id)

    assert result.success
    verdicts = _verdicts(result)
    # Every check passed, ours among them (assets may carry checks of their own too).
    assert all(verdicts.values()) and {spec.name for spec in _all_checks()} <= set(verdicts)
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "COMPLETED"

    # The same stored episode, broken after the fact, fails the audio checks.
    store = MediaResource().get()
    manifest_key = episode_key(episode_id, "audio.json")
    manifest = json.loads(store.get(manifest_key))
    manifest[0]["integrated_lufs"] = -20.5
    manifest[0]["duration_seconds"] *= 2
    store.put(manifest_key, json.dumps(manifest).encode(), "application/json")
    store.put(
        episode_key(episode_id, f"audio/{manifest[0]['key']}.mp3"),
        _tone_with_a_gap(gap_seconds=6.0),
        "audio/mpeg",
    )
    stored = _stored(episode_id)
    loudness = checks.judge_loudness(stored)
    assert not loudness.passed and "-20.5 LUFS" in loudness.reason
    assert not checks.judge_duration(stored).passed
    silence = checks.judge_silence(stored)
    assert not silence.passed and "for 6.0 s" in silence.reason


def _all_checks() -> list[Any]:
    return [spec for check in episode_checks for spec in check.check_specs]


def _tone_with_a_gap(gap_seconds: float) -> bytes:
    """An MP3: 2 s of tone, `gap_seconds` of digital silence, 2 s of tone."""
    return run_ffmpeg(
        [
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=2"),
            *("-f", "lavfi", "-i", f"anullsrc=r=24000:cl=mono:d={gap_seconds}"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=2"),
            "-filter_complex",
            "[0:a]aresample=24000[a];[2:a]aresample=24000[c];[a][1:a][c]concat=n=3:v=0:a=1",
            *("-c:a", "libmp3lame", "-f", "mp3", "pipe:1"),
        ]
    )


@pytest.mark.slow
def test_a_failed_blocking_check_stops_publication_and_fails_the_episode(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two debaters at ~50% each fail a 30% cap: a real check failing in a real run.
    monkeypatch.setattr(debate_format, "MAX_DEBATE_SHARE", 0.30)
    episode_id = enqueue(DEBATE, open_catalog())

    result = _run(instance, episode_id)

    assert not result.success
    assert _verdicts(result)["debate_is_balanced"] is False
    materialized = {
        event.asset_key.path[-1]
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key
    }
    # Blocked before any audio was paid for, and never published.
    assert materialized == {"episode_research", "episode_outline", "episode_script"}
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert row["generation_error"].startswith("check debate_is_balanced failed: ")
    assert "of the debaters' words (at most 30% allowed)" in row["generation_error"]


def test_script_checks_catch_a_silent_speaker_an_imbalance_and_a_blown_budget(
    instance: dg.DagsterInstance,
) -> None:
    episode_id = enqueue(DEBATE, open_catalog())
    result = _run(instance, episode_id, [episode_research, episode_outline, episode_script])
    assert result.success and all(_verdicts(result).values())

    store = MediaResource().get()
    key = episode_key(episode_id, "script.json")
    script = json.loads(store.get(key))
    # Blake's lines go to Watt, three times over: Blake is silent, Watt holds every word,
    # and the script is three times its budget.
    for section in script["sections"]:
        for line in section["lines"]:
            if line["speaker"] == "William Blake":
                line["speaker"] = "James Watt"
            line["text"] = " ".join([line["text"]] * 3)
    store.put(key, json.dumps(script).encode(), "application/json")

    stored = _stored(episode_id)
    cast = checks.judge_cast_speaks(stored)
    assert not cast.passed and cast.reason == "never speak: William Blake"
    balance = debate_format.judge_balance(stored.episode.request, stored.plans)
    assert not balance.passed and balance.reason.startswith("James Watt has 100%")
    budget = checks.judge_word_budget(stored)
    assert not budget.passed and "for a budget of 150" in budget.reason
