"""The cost estimate and the per-episode cap (EPOCHPOD_MAX_EPISODE_USD)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.defs.assets.episodes import episode_audio, episode_outline, episode_script
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.formats import format_for
from epochpod_assets.formats.base import section_words
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.base import Speech, Usage
from epochpod_assets.providers.budget import (
    CHARS_PER_WORD,
    Allowance,
    BudgetedVoice,
    BudgetedWriter,
    BudgetExceeded,
    _prompt_tokens,
    estimate_episode,
    max_episode_usd,
    spent_usd,
)
from epochpod_assets.providers.openai_voice import OpenAIVoice
from epochpod_assets.providers.pricing import load_prices
from epochpod_assets.requests import parse_request
from epochpod_assets.status import Stage
from epochpod_assets_tests.scenarios.test_openai_pipeline import (
    KEY,
    REQUESTS,
    catalog_ledger,
    materialize,
    template_responder,
    use_openai,
)
from epochpod_assets_tests.support.fake_openai import FakeOpenAI

PRICES = load_prices(None)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, responder=template_responder) as fake:
        use_openai(monkeypatch, fake.base_url, KEY)
        yield fake


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


# -- the estimate ----------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [1, 4, 30])
def test_words_come_from_minutes_at_150_per_minute_and_become_characters_and_dollars(
    minutes: int,
) -> None:
    request = parse_request(dict(REQUESTS["interview"], target_minutes=minutes))
    estimate = estimate_episode(
        request, format_for("INTERVIEW"), llm_model="gpt-4o-mini", tts_model="tts-1", prices=PRICES
    )
    research, outline, script, audio = estimate.stages
    assert research.stage == "research" and research.usd > 0  # no sources: one call
    assert estimate.spoken_words == 150 * minutes
    assert audio.tts_characters == math.ceil(CHARS_PER_WORD * 150 * minutes)
    assert audio.usd == PRICES.tts_usd("tts-1", audio.tts_characters)
    assert script.usd == PRICES.llm_usd(
        "gpt-4o-mini", script.prompt_tokens, script.completion_tokens
    )
    assert script.completion_tokens > 1.5 * estimate.spoken_words
    assert estimate.usd == research.usd + outline.usd + script.usd + audio.usd > 0


def test_an_adventure_pays_for_every_branch_not_one_path() -> None:
    request = parse_request(dict(REQUESTS["adventure"], target_minutes=2, depth=3, choices=2))
    estimate = estimate_episode(
        request, format_for("ADVENTURE"), llm_model=None, tts_model="tts-1", prices=PRICES
    )
    # One listen (3 nodes) is 300 words; the tree has 7 nodes of 100 words each.
    assert estimate.spoken_words == 700


def test_offline_providers_cost_nothing() -> None:
    request = parse_request(REQUESTS["debate"])
    estimate = estimate_episode(
        request, format_for("DEBATE"), llm_model=None, tts_model=None, prices=PRICES
    )
    assert estimate.usd == 0.0


@pytest.mark.parametrize("kind", list(REQUESTS))
@pytest.mark.parametrize("minutes", [1, 10])
def test_the_estimate_covers_what_a_script_of_that_length_really_speaks(
    kind: str, minutes: int
) -> None:
    """The templates are written to the same word budgets a model is held to (±20 %); the
    estimate should land on or a little above what they really voice."""
    request = parse_request(dict(REQUESTS[kind], target_minutes=minutes))
    fmt = format_for(kind.upper())
    outline = fmt.outline_task(request).template()
    script = fmt.script_task(request, outline).template()
    sections = [s for t in fmt.tracks(request, outline, script) for s in t.sections]
    characters = sum(len(line.text) for s in sections for line in s.lines)
    estimate = estimate_episode(request, fmt, llm_model=None, tts_model="tts-1", prices=PRICES)
    audio = estimate.stages[-1]
    assert 0.7 * audio.tts_characters <= characters <= 1.2 * audio.tts_characters
    assert abs(section_words(sections) - estimate.spoken_words) <= 0.25 * estimate.spoken_words


@pytest.mark.parametrize("raw", ["ten", "-1", "nan", "inf"])
def test_a_malformed_cap_is_refused(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPOCHPOD_MAX_EPISODE_USD", raw)
    with pytest.raises(ValueError, match="EPOCHPOD_MAX_EPISODE_USD"):
        max_episode_usd()


# -- the cap in the pipeline -----------------------------------------------------------------


def test_an_episode_over_its_cap_stops_before_the_first_call(
    server: FakeOpenAI, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A one-minute interview is about a cent and a half, almost all of it speech.
    monkeypatch.setenv("EPOCHPOD_MAX_EPISODE_USD", "0.005")
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)

    result = materialize(instance, episode_id)

    assert not result.success
    assert server.stats().total_calls == 0
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    error = row["generation_error"]
    assert error.startswith("research failed: over budget: this episode would cost about $0.01")
    assert "research $0.0" in error and "audio $0.0" in error and "on tts-1" in error
    assert "EPOCHPOD_MAX_EPISODE_USD=$0.0050" in error
    assert catalog_ledger(db, [episode_id]).usd == 0


@pytest.mark.slow
def test_an_episode_within_its_cap_publishes_and_spends_less_than_it(
    server: FakeOpenAI, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPOCHPOD_MAX_EPISODE_USD", "0.05")
    db = open_catalog()
    episode_id = enqueue(REQUESTS["debate"], db)

    assert materialize(instance, episode_id).success
    assert 0 < catalog_ledger(db, [episode_id]).usd <= 0.05


def test_the_audio_stops_when_what_was_spent_leaves_too_little(
    server: FakeOpenAI, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    assert materialize(
        instance, episode_id, [episode_research, episode_outline, episode_script]
    ).success
    spent = catalog_ledger(db, [episode_id]).usd
    assert spent_usd(db, episode_id) == pytest.approx(spent)
    # Room for the writing already done and a little speech, not a whole episode's worth.
    monkeypatch.setenv("EPOCHPOD_MAX_EPISODE_USD", f"{spent + 0.002:.6f}")

    result = materialize(instance, episode_id, [episode_audio])

    assert not result.success
    assert server.stats().speech_billed == 0
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert row["generation_error"].startswith("audio failed: over budget:")
    assert "spent so far" in row["generation_error"]


def test_a_regeneration_starts_a_fresh_budget(
    server: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    assert materialize(instance, episode_id, [episode_research, episode_outline]).success
    assert spent_usd(db, episode_id) > 0
    db.requeue(episode_id)
    db.set_stage(episode_id, Stage.GENERATING_OUTLINE)  # what the next outline run does first
    assert spent_usd(db, episode_id) == 0


def test_a_stage_is_stopped_before_the_segment_that_would_cross_the_cap(
    server: FakeOpenAI,
) -> None:
    """The running check: speech is billed per character, so the voice knows each segment's
    price before asking, and refuses the one that does not fit."""
    voice = BudgetedVoice(
        OpenAIVoice(api_key=KEY, base_url=server.base_url, timeout=5, prices=PRICES), PRICES
    )
    text = "The library is burning, and the scrolls will not wait for us. " * 2  # 126 chars
    per_segment = PRICES.tts_usd("tts-1", len(text))
    voice.arm(Allowance(stage="audio", usd=2.5 * per_segment, cap=1.0))
    usage = Usage()

    voice.synthesize(text, "nova", usage)
    voice.synthesize(text, "nova", usage)
    with pytest.raises(BudgetExceeded, match="stopped before that call"):
        voice.synthesize(text, "nova", usage)

    assert server.stats().speech_billed == 2
    assert usage.tts_characters == 2 * len(text)
    voice.close()


class _HeldWriter:
    """An OpenAI writer whose call stays in flight until released."""

    provider, model = "openai", "gpt-4o-mini"

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def write(self, task: Any, usage: Usage) -> Any:
        self.started.set()
        assert self.release.wait(10)
        return task.template()


class _FreeVoice:
    provider, model = "openai", "tts-1"

    def synthesize(self, text: str, voice: str, usage: Usage, instructions: Any = None) -> Any:
        return Speech(b"", 24000)


def test_a_writer_call_in_flight_holds_its_cost_against_speech_spoken_at_the_same_time() -> None:
    """A long script is spoken while it is written, under one allowance: a speech call that
    fits alone is refused while a writer call that would leave it no room is in flight."""
    task = format_for("INTERVIEW").outline_task(parse_request(REQUESTS["interview"]))
    inner = _HeldWriter()
    writer, voice = BudgetedWriter(inner, PRICES), BudgetedVoice(_FreeVoice(), PRICES)  # type: ignore[arg-type]
    text = "The library is burning, and the scrolls will not wait for us."
    speech_usd = PRICES.tts_usd("tts-1", len(text))
    tokens = _prompt_tokens(task)
    writer_usd = PRICES.llm_usd("gpt-4o-mini", tokens, tokens)
    # Room for either call alone, not for both at once.
    room = max(writer_usd, speech_usd) + min(writer_usd, speech_usd) / 2
    allowance = Allowance(stage="script", usd=room, cap=1.0)
    writer.arm(allowance)
    voice.arm(allowance)
    usage = Usage()
    writing = threading.Thread(target=writer.write, args=(task, usage))
    writing.start()
    assert inner.started.wait(10)

    with pytest.raises(BudgetExceeded, match="speaking"):
        voice.synthesize(text, "nova", usage)

    inner.release.set()
    writing.join()
    voice.synthesize(text, "nova", usage)  # the writer's hold is gone (the stub bills nothing)
