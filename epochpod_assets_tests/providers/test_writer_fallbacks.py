"""OpenAIWriter against servers without structured outputs: it steps down to JSON mode, then
to plain text, once per server and model, remembers that across processes, and checks the
answers against the per-request schema itself. Re-asks are counted by reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from epochpod_assets.providers.base import (
    LengthRejected,
    ProviderError,
    Usage,
    WritingTask,
)
from epochpod_assets.providers.capabilities import StructuredOutputMemory, server_key
from epochpod_assets.providers.openai_writer import OpenAIWriter, extract_json
from epochpod_assets.providers.pricing import load_prices
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.schema_only import SchemaOnly, schema_in_prompt

KEY = "sk-fallback-test-1b2c3d"
CAST = ["Host", "Ada Lovelace"]


class Line(BaseModel):
    speaker: str
    text: str


class Part(BaseModel):
    lines: list[Line]


def part_task(check: Any = None) -> WritingTask[Part]:
    """A task whose per-request schema names the cast: the pydantic model does not."""
    line = {
        "type": "object",
        "properties": {
            "speaker": {"type": "string", "enum": CAST},
            "text": {"type": "string", "minLength": 40, "maxLength": 120},
        },
        "required": ["speaker", "text"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"lines": {"type": "array", "items": line, "minItems": 2, "maxItems": 4}},
        "required": ["lines"],
        "additionalProperties": False,
    }
    return WritingTask(
        name="interview part",
        schema=Part,
        instructions="You write history podcast interviews.",
        prompt="Part 2 of 5. The speakers are the Host and Ada Lovelace.",
        template=lambda: Part(lines=[]),
        check=check,
        json_schema=schema,
    )


def writer(server: FakeOpenAI, memory: StructuredOutputMemory, **options: Any) -> OpenAIWriter:
    return OpenAIWriter(
        api_key=KEY,
        model="local-7b",
        base_url=server.base_url,
        timeout=5.0,
        max_retries=0,
        prices=load_prices(None),
        memory=memory,
        **options,
    )


@pytest.fixture
def memory_file(tmp_path: Path) -> Path:
    return tmp_path / "providers" / "structured_outputs.json"


def serve(refuse: Literal["json_schema", "response_format"] | None) -> FakeOpenAI:
    return FakeOpenAI(api_key=KEY, responder=SchemaOnly(seed=11), refuse=refuse)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeOpenAI]:
    with serve(request.param) as fake:
        yield fake


def check_part(part: Part) -> None:
    assert {line.speaker for line in part.lines} <= set(CAST)
    assert 2 <= len(part.lines) <= 4
    assert all(40 <= len(line.text) <= 120 for line in part.lines)


@pytest.mark.parametrize(
    ("server", "mode", "refusals"),
    [(None, "json_schema", 0), ("json_schema", "json_object", 1), ("response_format", "text", 2)],
    indirect=["server"],
)
def test_steps_down_once_and_remembers_across_processes(
    server: FakeOpenAI, mode: str, refusals: int, memory_file: Path
) -> None:
    memory = StructuredOutputMemory(memory_file)
    usage = Usage()
    for _ in range(3):
        check_part(writer(server, memory).write(part_task(), usage))
    assert usage.structured_output == mode
    assert usage.reasks == {}
    stats = server.stats()
    assert stats.statuses.get(400, 0) == refusals  # probed once, not once per call
    assert stats.chat_billed == usage.llm_calls == 3
    assert (stats.prompt_tokens, stats.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    sent = [r.body for r in server.requests if r.endpoint == "chat"][-1]
    if mode == "json_schema":
        assert sent["response_format"]["json_schema"]["schema"] == part_task().response_schema()
    else:  # the schema travels in the prompt instead, titled with its name
        titled = {"title": "Part", **part_task().response_schema()}
        assert schema_in_prompt(sent["messages"][:1]) == titled
        assert ("response_format" in sent) == (mode == "json_object")
    # Another process (a fresh memory on the same file) starts where this one ended.
    server.reset()
    check_part(writer(server, StructuredOutputMemory(memory_file)).write(part_task(), Usage()))
    assert server.stats().statuses == {200: 1}
    if refusals:
        saved = json.loads(memory_file.read_text())
        assert saved[server_key(server.base_url, "local-7b")]["mode"] == mode
        assert KEY not in memory_file.read_text()


@pytest.mark.parametrize("server", ["json_schema"], indirect=True)
def test_an_answer_off_schema_in_json_mode_is_re_asked_as_structure(
    server: FakeOpenAI, memory_file: Path
) -> None:
    answers = iter(['{"lines": [{"speaker": "guest", "text": "' + "word " * 12 + '"}]}'])
    seeded = SchemaOnly(seed=2)
    server.responder = lambda body: next(answers, None) or seeded(body)
    usage = Usage()
    check_part(writer(server, StructuredOutputMemory(memory_file)).write(part_task(), usage))
    assert usage.reasks == {"structure": 1}
    reask = server.requests[-1].body["messages"][-1]["content"]
    assert "lines: needs at least 2 items, has 1" in reask or "must be one of" in reask


@pytest.mark.parametrize("server", [None], indirect=True)
def test_re_asks_are_counted_by_reason(server: FakeOpenAI, memory_file: Path) -> None:
    problems = iter([LengthRejected("part 2 has 30 words; it must have 60 to 80"), ValueError("x")])

    def check(part: Part) -> None:
        problem = next(problems, None)
        if problem is not None:
            raise problem

    usage = Usage()
    writer(server, StructuredOutputMemory(memory_file), max_reasks=2).write(part_task(check), usage)
    assert usage.reasks == {"length": 1, "structure": 1}
    assert usage.llm_calls == 3


@pytest.mark.parametrize("server", [None], indirect=True)
def test_other_bad_requests_fail_without_stepping_down(
    server: FakeOpenAI, memory_file: Path
) -> None:
    server.script("400")
    memory = StructuredOutputMemory(memory_file)
    with pytest.raises(ProviderError, match="HTTP 400"):
        writer(server, memory).write(part_task(), Usage())
    assert memory.mode(server.base_url, "local-7b") == "json_schema"
    assert not memory_file.exists()


def test_json_is_found_in_prose() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure!\n```json\n{"a": [1, 2]}\n```\nEnjoy.') == {"a": [1, 2]}
    assert extract_json('The answer is {"a": "}"} as asked.') == {"a": "}"}
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("I cannot do that.")
