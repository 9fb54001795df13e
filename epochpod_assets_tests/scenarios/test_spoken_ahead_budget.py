"""Speech spoken ahead by a long-form script stage is paid for under the episode's cap, exactly
as the audio stage's speech is: it stops before the call that would cross the cap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.defs.assets.episodes import episode_outline, episode_script
from epochpod_assets.formats import format_for
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.budget import estimate_episode
from epochpod_assets.requests import parse_request
from epochpod_assets_tests.scenarios.test_openai_pipeline import (
    KEY,
    LLM_MODEL,
    PRICES,
    REQUESTS,
    TTS_MODEL,
    assert_catalog_matches_server,
    catalog_ledger,
    materialize,
    server_usd,
    use_openai,
)
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.template_model import template_responder


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def test_a_long_episode_stops_before_the_speech_that_would_cross_its_cap(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A brisk voice (20 characters a second, ~200 words a minute): the script stage plans
    # more words than the 150-a-minute estimate, so the speech costs more than estimated and
    # only the running check on each speech call can keep the episode under its cap.
    with FakeOpenAI(api_key=KEY, responder=template_responder, samples_per_char=1_200) as server:
        use_openai(monkeypatch, server.base_url, KEY)
        request = dict(REQUESTS["interview"], target_minutes=10)
        estimate = estimate_episode(
            parse_request(request),
            format_for("INTERVIEW"),
            llm_model=LLM_MODEL,
            tts_model=TTS_MODEL,
            prices=PRICES,
        )
        cap = round(estimate.usd * 1.1, 4)  # passes every stage's up-front check
        monkeypatch.setenv("EPOCHPOD_MAX_EPISODE_USD", f"{cap}")
        db = open_catalog()
        episode_id = enqueue(request, db)

        result = materialize(instance, episode_id)

        stats = server.stats()
    assert not result.success
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    error = row["generation_error"]
    # Parts are written and spoken concurrently: the call that meets the cap first is a
    # speech call, or a writer call whose budget the speech spoken ahead has used up.
    assert error.startswith(
        ("script failed: over budget: speaking ", "script failed: over budget: writing ")
    ), error
    assert "stopped before that call" in error and f"EPOCHPOD_MAX_EPISODE_USD=${cap:.4f}" in error
    # Speech was spoken ahead (the script stage spoke; the audio stage never ran) ...
    assert stats.speech_billed > 0
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "episode_outline" in done and not done & {"episode_script", "episode_audio"}
    # ... and nothing was spent past the cap: the ledger holds every billed call, and the
    # server's own counts, priced, agree with it.
    ledger = catalog_ledger(db, [episode_id])
    assert_catalog_matches_server(ledger, stats)
    assert ledger.usd == pytest.approx(server_usd(stats))
    assert server_usd(stats) <= cap
    # The speech alone would have crossed the cap: the stop was needed, not an accident.
    assert PRICES.tts_usd(TTS_MODEL, round(estimate.spoken_words * 200 / 150 * 5.5)) > cap


def test_speaking_ahead_waits_for_a_tts_pool_slot_like_the_audio_stage(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = instance.event_log_storage
    storage.set_concurrency_slots("tts", 1)
    # Another run's audio stage holds the only slot.
    assert storage.claim_concurrency_slot("tts", "another-run", "episode_audio").is_claimed
    with FakeOpenAI(api_key=KEY, responder=template_responder) as server:
        use_openai(monkeypatch, server.base_url, KEY)
        db = open_catalog()
        episode_id = enqueue(dict(REQUESTS["interview"], target_minutes=10), db)
        assert materialize(instance, episode_id, [episode_outline]).success
        results: list[dg.ExecuteInProcessResult] = []
        script = threading.Thread(
            target=lambda: results.append(materialize(instance, episode_id, [episode_script]))
        )
        script.start()
        while storage.get_concurrency_info("tts").pending_step_count == 0:
            assert script.is_alive()
            time.sleep(0.05)
        # Waiting for its slot, the long script stage has neither written nor spoken.
        assert server.stats().calls == {"chat": 1}
        storage.free_concurrency_slot_for_step("another-run", "episode_audio")
        script.join(timeout=120)
        stats = server.stats()
    assert results and results[0].success
    assert stats.speech_billed > 0
    info = storage.get_concurrency_info("tts")
    assert info.claimed_slots == [] and info.pending_step_count == 0  # nothing left held
