"""OpenAIWriter and OpenAIVoice against a real HTTP server, through the real openai client."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from epochpod_assets.providers.base import ProviderError, Usage, WritingTask
from epochpod_assets.providers.openai_voice import OpenAIVoice, split_for_speech
from epochpod_assets.providers.openai_writer import OpenAIWriter
from epochpod_assets.providers.pricing import load_prices
from epochpod_assets_tests.support.fake_openai import (
    REFUSAL_TEXT,
    FakeOpenAI,
    Stats,
    default_responder,
    speech_samples,
)

KEY = "sk-live-do-not-leak-8f2c91d4"
PRICES = load_prices(None)


class Line(BaseModel):
    speaker: Literal["host", "guest"]
    text: str = Field(min_length=3)


class Section(BaseModel):
    heading: str
    lines: list[Line] = Field(min_length=2)


class Script(BaseModel):
    title: str
    year: int | None
    sections: list[Section] = Field(min_length=2)


def script_task(check: Any = None) -> WritingTask[Script]:
    return WritingTask(
        name="interview script",
        schema=Script,
        instructions="You write history podcast interviews.",
        prompt="Interview Hypatia of Alexandria about her last lecture.",
        template=lambda: Script(title="offline", year=None, sections=[]),
        check=check,
    )


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def make_writer(server: FakeOpenAI, **options: Any) -> OpenAIWriter:
    settings: dict[str, Any] = {"timeout": 5.0, "max_retries": 3, "max_reasks": 2, **options}
    return OpenAIWriter(
        api_key=settings.pop("api_key", KEY),
        model="gpt-4o-mini",
        base_url=server.base_url,
        prices=PRICES,
        **settings,
    )


def make_voice(server: FakeOpenAI, model: str = "tts-1", **options: Any) -> OpenAIVoice:
    settings: dict[str, Any] = {"timeout": 5.0, "max_retries": 3, **options}
    return OpenAIVoice(
        api_key=settings.pop("api_key", KEY),
        model=model,
        base_url=server.base_url,
        prices=PRICES,
        **settings,
    )


def assert_ledgers_match(usage: Usage, stats: Stats) -> None:
    """The writer's ledger is exactly what the server billed."""
    assert usage.llm_calls == stats.chat_billed
    assert usage.prompt_tokens == stats.prompt_tokens
    assert usage.completion_tokens == stats.completion_tokens
    assert usage.tts_calls == stats.speech_billed
    assert usage.tts_characters == stats.tts_characters
    expected_usd = PRICES.llm_usd("gpt-4o-mini", stats.prompt_tokens, stats.completion_tokens)
    expected_usd += PRICES.tts_usd("tts-1", stats.tts_characters)
    assert usage.usd == pytest.approx(expected_usd, rel=1e-12)


# -- writer: the happy path ------------------------------------------------------------------


def test_writes_a_nested_schema_and_bills_what_the_server_counted(server: FakeOpenAI) -> None:
    usage = Usage()

    script = make_writer(server).write(script_task(), usage)

    assert isinstance(script, Script)
    assert len(script.sections) == 2
    assert all(isinstance(line, Line) for line in script.sections[0].lines)
    request = server.requests[0].body
    assert request["model"] == "gpt-4o-mini"
    assert request["response_format"]["json_schema"]["name"] == "Script"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert usage.llm_calls == 1
    assert usage.usd > 0
    assert_ledgers_match(usage, server.stats())


# -- writer: transient errors are retried by the client --------------------------------------


@pytest.mark.parametrize("fault", ["429", "500", "503", "drop"])
def test_transient_failures_are_retried(server: FakeOpenAI, fault: str) -> None:
    server.script(fault, fault, "ok")
    usage = Usage()

    make_writer(server).write(script_task(), usage)

    stats = server.stats()
    assert stats.calls == {"chat": 3}
    assert stats.faults == {fault: 2}
    assert usage.llm_calls == 1
    assert_ledgers_match(usage, stats)


def test_retry_waits_as_long_as_retry_after_says(server: FakeOpenAI) -> None:
    # The client's own backoff before a first retry is at most 0.5 s; waiting at least 0.8 s
    # proves the Retry-After header was honoured.
    server.set_faults(retry_after=0.8)
    server.script("429", "ok")

    started = time.monotonic()
    make_writer(server).write(script_task(), Usage())

    assert time.monotonic() - started >= 0.8
    assert server.stats().calls == {"chat": 2}


def test_a_hung_call_times_out_and_is_retried(server: FakeOpenAI) -> None:
    server.set_faults(hang_seconds=10)
    server.script("hang", "ok")
    usage = Usage()

    make_writer(server, timeout=0.3).write(script_task(), usage)

    stats = server.stats()
    assert stats.calls == {"chat": 2}
    assert stats.faults == {"hang": 1}
    assert_ledgers_match(usage, stats)


def test_retries_run_out_into_a_provider_error(server: FakeOpenAI) -> None:
    server.script("503", "503", "503")

    with pytest.raises(ProviderError, match="HTTP 503 while writing interview script"):
        make_writer(server, max_retries=2).write(script_task(), Usage())

    assert server.stats().calls == {"chat": 3}


# -- writer: permanent errors fail at once ---------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("400", "HTTP 400 while writing interview script"),
        ("403", "HTTP 403"),
        ("content_policy", "rejected as a result of our safety system"),
    ],
)
def test_permanent_errors_fail_at_once(server: FakeOpenAI, fault: str, message: str) -> None:
    server.script(fault)

    with pytest.raises(ProviderError, match=message):
        make_writer(server).write(script_task(), Usage())

    assert server.stats().calls == {"chat": 1}


def test_a_wrong_key_fails_at_once_without_revealing_it(server: FakeOpenAI) -> None:
    wrong_key = "sk-wrong-but-still-secret-77aa"

    with pytest.raises(ProviderError, match="HTTP 401") as failure:
        make_writer(server, api_key=wrong_key).write(script_task(), Usage())

    assert server.stats().calls == {"chat": 1}
    # The fake echoes the presented key in its 401 message; the writer must scrub it.
    assert wrong_key not in str(failure.value)
    assert "[redacted]" in str(failure.value)
    assert wrong_key not in "".join(traceback.format_exception(failure.value))


# -- writer: bad answers are re-asked --------------------------------------------------------


def test_malformed_json_is_re_asked_and_both_calls_billed(server: FakeOpenAI) -> None:
    server.script("malformed", "ok")
    usage = Usage()

    script = make_writer(server).write(script_task(), usage)

    assert isinstance(script, Script)
    stats = server.stats()
    assert stats.calls == {"chat": 2}
    assert usage.llm_calls == 2
    assert_ledgers_match(usage, stats)
    reask = server.requests[1].body["messages"]
    assert [m["role"] for m in reask] == ["system", "user", "assistant", "user"]
    assert "Invalid JSON" in reask[-1]["content"]


def test_malformed_every_time_gives_up_with_the_validation_error(server: FakeOpenAI) -> None:
    server.set_faults(malformed_rate=1.0)
    usage = Usage()

    with pytest.raises(ProviderError) as failure:
        make_writer(server, max_reasks=2).write(script_task(), usage)

    message = str(failure.value)
    assert "interview script" in message
    assert "3 attempts" in message
    assert "Invalid JSON" in message
    stats = server.stats()
    assert stats.calls == {"chat": 3}
    assert usage.llm_calls == 3
    assert_ledgers_match(usage, stats)


def test_schema_mismatch_is_re_asked_with_the_field_that_failed(server: FakeOpenAI) -> None:
    answers = iter(['{"title": "Hypatia", "year": 415, "sections": []}'])
    server.responder = lambda body: next(answers, None) or default_responder(body)

    script = make_writer(server).write(script_task(), Usage())

    assert isinstance(script, Script)
    assert "sections: List should have at least 2 items" in _last_prompt(server)


def test_a_failed_check_is_re_asked_with_its_message(server: FakeOpenAI) -> None:
    complaints = iter(["speaker 'narrator' is not in this episode"])

    def check(script: Script) -> None:
        complaint = next(complaints, None)
        if complaint:
            raise ValueError(complaint)

    usage = Usage()
    make_writer(server).write(script_task(check), usage)

    assert "speaker 'narrator' is not in this episode" in _last_prompt(server)
    assert usage.llm_calls == 2
    assert_ledgers_match(usage, server.stats())


def test_a_check_that_never_passes_names_it_in_the_error(server: FakeOpenAI) -> None:
    def check(script: Script) -> None:
        raise ValueError("the script runs 900 words over budget")

    with pytest.raises(ProviderError, match="900 words over budget"):
        make_writer(server, max_reasks=1).write(script_task(check), Usage())

    assert server.stats().calls == {"chat": 2}


def test_a_refusal_is_reported_and_billed(server: FakeOpenAI) -> None:
    server.script("refusal")
    usage = Usage()

    with pytest.raises(ProviderError) as failure:
        make_writer(server).write(script_task(), usage)

    assert str(failure.value) == f"the model refused to write interview script: {REFUSAL_TEXT}"
    assert server.stats().calls == {"chat": 1}
    assert_ledgers_match(usage, server.stats())


# -- secrets ---------------------------------------------------------------------------------


def test_the_key_never_reaches_the_logs(
    server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    server.script("429", "malformed", "ok", "ok", "ok")

    make_writer(server).write(script_task(), Usage())
    make_voice(server).synthesize("Salve.", "alloy", Usage())
    with pytest.raises(ProviderError) as failure:
        make_writer(server, api_key=KEY + "-revoked").write(script_task(), Usage())

    assert any(record.name.startswith("openai") for record in caplog.records)
    assert any("Retrying request" in record.getMessage() for record in caplog.records)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert KEY not in logged
    assert KEY not in str(failure.value)


# -- voice -----------------------------------------------------------------------------------


def test_speech_is_24khz_pcm_of_the_servers_length(server: FakeOpenAI) -> None:
    text = "Carthago delenda est."
    usage = Usage()

    speech = make_voice(server).synthesize(text, "onyx", usage)

    assert speech.sample_rate == 24_000
    assert len(speech.pcm) == 2 * speech_samples(text)
    request = server.requests[0].body
    assert (request["response_format"], request["voice"], request["input"]) == ("pcm", "onyx", text)
    assert "instructions" not in request
    assert (usage.tts_calls, usage.tts_characters) == (1, len(text))
    assert_ledgers_match(usage, server.stats())


def test_long_text_is_split_at_sentences_and_every_character_billed(server: FakeOpenAI) -> None:
    sentence = "The library burned, and the scrolls were lost to the ages. "
    text = sentence * 150  # 8,850 characters: three requests
    usage = Usage()

    speech = make_voice(server).synthesize(text, "fable", usage)

    inputs = [request.body["input"] for request in server.requests]
    assert len(inputs) == 3
    assert "".join(inputs) == text
    assert all(len(chunk) <= 4_096 and chunk.endswith(". ") for chunk in inputs)
    assert len(speech.pcm) == 2 * speech_samples(text)
    assert usage.tts_characters == len(text)
    assert usage.tts_calls == 3
    assert_ledgers_match(usage, server.stats())


def test_split_falls_back_to_words_then_to_hard_cuts() -> None:
    endless_sentence = "word " * 1_000  # 5,000 characters, no sentence end
    one_huge_word = "x" * 5_000

    by_words = split_for_speech(endless_sentence)
    by_force = split_for_speech(one_huge_word)

    assert "".join(by_words) == endless_sentence
    assert [len(chunk) for chunk in by_words] == [4_095, 905]
    assert all(chunk.endswith(" ") for chunk in by_words)
    assert [len(chunk) for chunk in by_force] == [4_096, 904]


def test_speech_retries_transient_errors(server: FakeOpenAI) -> None:
    server.script("500", "drop", "ok")
    usage = Usage()

    make_voice(server).synthesize("Alea iacta est.", "nova", usage)

    stats = server.stats()
    assert stats.calls == {"speech": 3}
    assert_ledgers_match(usage, stats)


def test_speech_fails_at_once_on_a_bad_request(server: FakeOpenAI) -> None:
    server.script("400")

    with pytest.raises(ProviderError, match="HTTP 400 while speaking"):
        make_voice(server).synthesize("Alea iacta est.", "nova", Usage())

    assert server.stats().calls == {"speech": 1}


def test_instructions_go_only_to_gpt_4o_mini_tts(server: FakeOpenAI) -> None:
    make_voice(server, model="tts-1-hd").synthesize("Hi.", "sage", Usage(), "Gravely.")
    make_voice(server, model="gpt-4o-mini-tts").synthesize("Hi.", "cedar", Usage(), "Gravely.")

    first, second = (request.body for request in server.requests)
    assert (first["model"], "instructions" in first) == ("tts-1-hd", False)
    assert (second["model"], second["instructions"]) == ("gpt-4o-mini-tts", "Gravely.")


def test_a_voice_the_model_lacks_fails_before_any_call(server: FakeOpenAI) -> None:
    with pytest.raises(ProviderError, match="tts-1 has no voice 'cedar'"):
        make_voice(server).synthesize("Hi.", "cedar", Usage())

    assert server.stats().total_calls == 0


# -- prices ----------------------------------------------------------------------------------


def test_prices_come_from_the_dated_table() -> None:
    assert PRICES.llm_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert PRICES.llm_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert PRICES.tts_usd("tts-1", 1_000_000) == pytest.approx(15.0)
    assert PRICES.tts_usd("tts-1-hd", 2_000) == pytest.approx(0.06)


def test_unknown_models_cost_the_fallback_and_never_crash() -> None:
    assert PRICES.llm_usd("llama3.1:8b", 1_000_000, 0) == PRICES.fallback_llm.input
    # "gpt-4o-mini-tts" is not a dated snapshot of the chat model gpt-4o-mini.
    assert PRICES.llm_usd("gpt-4o-mini-tts", 0, 1_000_000) == PRICES.fallback_llm.output
    assert PRICES.tts_usd("some-new-tts", 1_000_000) == PRICES.fallback_tts


def test_prices_are_overridden_by_a_json_string_or_file(tmp_path: Path) -> None:
    table = '{"llm": {"llama3.1:8b": {"input": 0, "output": 0}}, "fallback_tts": 1.5}'
    price_file = tmp_path / "prices.json"
    price_file.write_text(table)

    for prices in (load_prices(table), load_prices(str(price_file))):
        assert prices.llm_usd("llama3.1:8b", 10**6, 10**6) == 0
        assert prices.tts_usd("some-new-tts", 10**6) == 1.5
        assert prices.tts_usd("tts-1", 10**6) == 15.0  # the rest of the table stays


@pytest.mark.parametrize(
    "override", ["{not json", '{"llm": {"m": {"input": -1, "output": 0}}}', '{"lm": {}}', "/nope"]
)
def test_a_broken_price_override_is_refused(override: str) -> None:
    with pytest.raises(ValueError, match="price"):
        load_prices(override)


# -- helpers ---------------------------------------------------------------------------------


def _last_prompt(server: FakeOpenAI) -> str:
    content = server.requests[-1].body["messages"][-1]["content"]
    assert isinstance(content, str)
    return content
