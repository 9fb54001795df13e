"""The fake OpenAI server keeps its promises: schemas, billing rules, faults, counts."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import struct
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

import openai
import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from epochpod_assets_tests.support.fake_openai import (
    REFUSAL_TEXT,
    FakeOpenAI,
    Faults,
    count_tokens,
    example_for_schema,
    prompt_tokens,
    responder_by_schema,
    speech_samples,
)

KEY = "sk-fake-server-test"


class Era(StrEnum):
    ancient = "ancient"
    modern = "modern"


class Node(BaseModel):
    """Recursive, optional, constrained: the awkward corners of pydantic schemas."""

    label: str = Field(min_length=12, max_length=40)
    weight: float = Field(gt=0, le=0.5)
    depth: int = Field(ge=3)
    era: Era
    kind: Literal["choice", "ending"]
    children: list[Node] = Field(default_factory=list)
    note: str | None = None
    when: dt.date


class Story(BaseModel):
    title: str
    nodes: list[Node] = Field(min_length=3, max_length=5)
    tags: dict[str, int] = Field(default_factory=dict)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def client(server: FakeOpenAI, **options: Any) -> openai.OpenAI:
    options = {"max_retries": 0, "timeout": 5.0, **options}
    return openai.OpenAI(api_key=options.pop("api_key", KEY), base_url=server.base_url, **options)


def ask(server: FakeOpenAI, via: openai.OpenAI | None = None, **options: Any) -> Any:
    return (via or client(server, **options)).chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You write stories."},
            {"role": "user", "content": "A story, please: short!"},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "Story",
                "schema": to_strict_json_schema(Story),
                "strict": True,
            },
        },
    )


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "pydantic"])
def test_example_for_schema_fits_awkward_pydantic_schemas(strict: bool) -> None:
    schema = to_strict_json_schema(Story) if strict else Story.model_json_schema()

    story = Story.model_validate(example_for_schema(schema))

    assert len(story.nodes) == 3
    assert story.nodes[0].label == "label label label"


def test_chat_answers_the_requested_schema_and_bills_by_the_documented_rule(
    server: FakeOpenAI,
) -> None:
    completion = ask(server)

    content = completion.choices[0].message.content
    Story.model_validate_json(content)
    messages = server.requests[0].body["messages"]
    assert messages[1]["content"] == "A story, please: short!"
    # 3 + (4 + "You write stories ." = 4) + (4 + "A story , please : short !" = 7)
    assert prompt_tokens(messages) == 22
    assert completion.usage.prompt_tokens == 22
    assert completion.usage.completion_tokens == count_tokens(content)
    stats = server.stats()
    assert (stats.calls, stats.chat_billed) == ({"chat": 1}, 1)
    assert (stats.prompt_tokens, stats.completion_tokens) == (22, count_tokens(content))


def test_responder_by_schema_name_overrides_the_default(server: FakeOpenAI) -> None:
    story = Story.model_validate(example_for_schema(Story.model_json_schema()))
    story.title = "The Rubicon"
    server.responder = responder_by_schema({"Story": lambda body: story.model_dump_json()})

    completion = ask(server)

    assert Story.model_validate_json(completion.choices[0].message.content) == story


def test_wrong_key_gets_401_and_is_not_billed(server: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        ask(server, api_key="sk-wrong")

    stats = server.stats()
    assert stats.calls == {"chat": 1}
    assert stats.statuses == {401: 1}
    assert (stats.chat_billed, stats.prompt_tokens, stats.faults) == (0, 0, {})
    assert server.requests == []


def test_script_plays_faults_in_order_then_answers_normally(server: FakeOpenAI) -> None:
    server.script("429", "500", "malformed", "refusal", "ok")

    with pytest.raises(openai.RateLimitError) as rate_limited:
        ask(server)
    with pytest.raises(openai.InternalServerError):
        ask(server)
    malformed = ask(server).choices[0].message
    refused = ask(server).choices[0].message
    fine = ask(server).choices[0].message
    after_script = ask(server).choices[0].message

    assert rate_limited.value.response.headers["retry-after-ms"] == "50"
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    assert (refused.content, refused.refusal) == (None, REFUSAL_TEXT)
    Story.model_validate_json(fine.content)
    Story.model_validate_json(after_script.content)
    stats = server.stats()
    assert stats.faults == {"429": 1, "500": 1, "malformed": 1, "refusal": 1}
    assert stats.statuses == {429: 1, 500: 1, 200: 4}
    assert stats.chat_billed == 4


def test_script_rejects_unknown_faults(server: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        server.script("teapot")


def test_drop_and_hang_leave_the_client_without_an_answer(server: FakeOpenAI) -> None:
    server.set_faults(hang_seconds=5)
    server.script("drop", "hang")

    with pytest.raises(openai.APIConnectionError):
        ask(server)
    with pytest.raises(openai.APITimeoutError):
        ask(server, timeout=0.2)

    stats = server.stats()
    assert stats.faults == {"drop": 1, "hang": 1}
    assert (stats.statuses, stats.chat_billed) == ({}, 0)


def test_random_faults_are_reproducible_from_the_seed() -> None:
    def fault_sequence(seed: int) -> list[int]:
        faults = Faults(error_rate=0.5, error_statuses=(503,))
        with FakeOpenAI(api_key=KEY, faults=faults, seed=seed) as fake:
            shared = client(fake)
            statuses = []
            for _ in range(20):
                try:
                    ask(fake, via=shared)
                    statuses.append(200)
                except openai.InternalServerError:
                    statuses.append(503)
            return statuses

    first = fault_sequence(seed=7)

    assert first == fault_sequence(seed=7)
    assert first != fault_sequence(seed=8)
    assert 3 < first.count(503) < 17


def test_counts_stay_exact_under_concurrent_calls(server: FakeOpenAI) -> None:
    server.set_faults(error_rate=0.3, error_statuses=(500,))
    shared = client(server)

    def one(_: int) -> int:
        try:
            return ask(server, via=shared).usage.total_tokens  # type: ignore[no-any-return]
        except openai.InternalServerError:
            return 0

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        tokens = list(pool.map(one, range(100)))

    stats = server.stats()
    assert stats.total_calls == 100
    assert stats.chat_billed == sum(1 for t in tokens if t) == stats.statuses[200]
    assert stats.faults["500"] == stats.statuses[500] == 100 - stats.chat_billed
    assert stats.prompt_tokens + stats.completion_tokens == sum(tokens)


def test_speech_returns_pcm_by_the_documented_rule(server: FakeOpenAI) -> None:
    text = "Veni, vidi, vici."

    audio = client(server).audio.speech.create(
        model="tts-1", voice="onyx", input=text, response_format="pcm"
    )

    assert len(audio.content) == 2 * speech_samples(text) == 2 * 1_600 * len(text)
    samples = struct.unpack(f"<{len(audio.content) // 2}h", audio.content)
    assert 0 < max(samples) < 32767 // 8  # a quiet tone, not silence and not clipping
    stats = server.stats()
    assert (stats.speech_billed, stats.tts_characters) == (1, len(text))


def test_speech_wav_has_a_24khz_mono_header(server: FakeOpenAI) -> None:
    audio = client(server).audio.speech.create(
        model="gpt-4o-mini-tts",
        voice="cedar",
        input="Hi.",
        instructions="Gravely.",
        response_format="wav",
    )

    channels, rate = struct.unpack("<HI", audio.content[22:28])
    assert audio.content[:4] == b"RIFF"
    assert (channels, rate) == (1, 24_000)
    assert len(audio.content) == 44 + 2 * speech_samples("Hi.")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"input": "x" * 4_097}, "maximum is 4096"),
        ({"voice": "darth"}, "Unknown voice"),
        ({"instructions": "Whisper."}, "not supported by tts-1"),
        ({"response_format": "mp3"}, "only 'pcm' and 'wav'"),
    ],
)
def test_speech_rejects_what_openai_rejects(
    server: FakeOpenAI, changes: dict[str, Any], problem: str
) -> None:
    request: dict[str, Any] = {
        "model": "tts-1",
        "voice": "alloy",
        "input": "Hi.",
        "response_format": "pcm",
        **changes,
    }

    with pytest.raises(openai.BadRequestError, match=problem):
        client(server).audio.speech.create(**request)

    assert server.stats().speech_billed == 0
