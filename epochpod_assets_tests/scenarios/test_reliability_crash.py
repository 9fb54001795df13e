"""Invariants 2 and 3 under a real crash: a run's process group is SIGKILLed while it voices an
episode through the OpenAI providers (FakeOpenAI in this process counts every call); the run
is re-executed from failure through the same persistent Dagster instance; the episode publishes,
the resume asks the LLM nothing, and it synthesizes exactly the segments that were not cached
before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.intake import open_catalog
from epochpod_assets_tests.support.fake_openai import FakeOpenAI, Faults
from epochpod_assets_tests.support.reliability import (
    KEY,
    REQUESTS,
    openai_environ,
    template_responder,
)

pytestmark = pytest.mark.reliability

# Kill once this many of the episode's segments are in the cache: mid-way through the audio
# step. (Counting the server's speech calls alone is not enough: the script step speaks a
# calibration passage per new voice to measure its pace.)
KILL_AFTER_SEGMENTS = 3


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    # Latency slows each call enough that the kill lands while segments are still in flight.
    with FakeOpenAI(api_key=KEY, responder=template_responder, faults=Faults(latency=0.15)) as s:
        yield s


def start_run(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "epochpod_assets_tests.support.run_episode", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes its step workers too
    )


def cached_segments(media: Path) -> set[str]:
    return {p.name for p in (media / "cache" / "tts").glob("*/*.wav")}


def audio_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        if materialization and materialization.asset_key == dg.AssetKey("episode_audio"):
            return {k: v.value for k, v in materialization.metadata.items()}
    raise AssertionError(f"run {run_id} did not materialize episode_audio")


def test_a_run_killed_during_synthesis_resumes_without_paying_twice(
    server: FakeOpenAI, epochpod_home: Path
) -> None:
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        **openai_environ(server.base_url),
        "EPOCHPOD_TTS_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    db = open_catalog()
    episode_id = enqueue({**REQUESTS["interview"], "topic": "the analytical engine, crashed"}, db)

    # -- the first run, killed mid-synthesis ---------------------------------------------------
    first = start_run(env, episode_id)
    deadline = time.monotonic() + 180
    media = epochpod_home / "media"
    while len(cached_segments(media)) < KILL_AFTER_SEGMENTS:
        if first.poll() is not None or time.monotonic() > deadline:
            out, err = first.communicate()
            raise AssertionError(f"the run ended before the kill:\n{err.decode()[-4000:]}")
        time.sleep(0.01)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    time.sleep(0.5)  # let answers already on the wire land (they are billed, not cached)

    before = server.stats()
    assert before.chat_billed == 3, "research, outline and script were written before the kill"
    cached = cached_segments(media)
    # Whatever was billed but not yet stored when the process died is lost money; the cache
    # never holds more than was billed.
    assert KILL_AFTER_SEGMENTS <= len(cached) <= before.speech_billed

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        # Nobody was left to say the run ended. In production run monitoring notices the dead
        # worker and marks the run failed; here we do what it does.
        assert run.status == dg.DagsterRunStatus.STARTED
        row = db.get(episode_id)
        assert row is not None and row["generation_status"] == "GENERATING_AUDIO"
        instance.report_run_failed(run, message="run worker was killed (SIGKILL)")

        # -- re-execute from failure --------------------------------------------------------
        server.reset()
        server.set_faults(Faults())
        resume = start_run(env, "--from-failure", run.run_id)
        out, err = resume.communicate(timeout=300)
        assert resume.returncode == 0, err.decode()[-6000:]
        resumed_id = out.decode().split()[-1]
        resumed = instance.get_run_by_id(resumed_id)
        assert resumed is not None and resumed.parent_run_id == run.run_id
        steps = {
            r.step_key
            for r in instance.all_logs(resumed_id, of_type=dg.DagsterEventType.STEP_START)
        }
        # Audio and publication again (with the audio's checks); nothing upstream.
        assert {"episode_audio", "published_episode"} <= steps
        assert not steps & {"episode_research", "episode_outline", "episode_script"}
        meta = audio_metadata(instance, resumed_id)

    after = server.stats()
    assert after.calls.get("chat", 0) == 0, "the resume asked the LLM nothing"
    segments = int(meta["segments"])  # type: ignore[call-overload]
    assert segments > len(cached) >= KILL_AFTER_SEGMENTS
    assert meta["cache_hits"] == len(cached)
    assert after.speech_billed == segments - len(cached) == meta["cache_misses"]
    assert len(cached_segments(epochpod_home / "media")) == segments
    row = db.get(episode_id)
    assert row is not None
    assert (row["status"], row["generation_status"], row["generation_progress"]) == (
        "PUBLISHED",
        "COMPLETED",
        100,
    )
    print(
        f"\ncrash/resume: {segments} segments; before the kill {before.speech_billed} billed, "
        f"{len(cached)} cached; the resume billed {after.speech_billed} speech and "
        f"{after.calls.get('chat', 0)} chat calls"
    )
