"""The whole graph on the OpenAI providers: the real `openai` client against FakeOpenAI on
loopback, through `dg.materialize`, with the resources built from the environment."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.formats import format_for, formats
from epochpod_assets.intake import open_catalog
from epochpod_assets.providers.pricing import load_prices
from epochpod_assets.requests import parse_request
from epochpod_assets_tests.support.fake_openai import FakeOpenAI, Faults, Stats
from epochpod_assets_tests.support.template_model import history_answer

ASSETS = [episode_research, episode_outline, episode_script, episode_audio, published_episode]
KEY = "sk-live-pipeline-do-not-leak-3b7e55a1"
LLM_MODEL = "gpt-4o-mini"
TTS_MODEL = "tts-1"
PRICES = load_prices(None)

# Short episodes keep the suite fast: one minute each, an adventure of three nodes. Every other
# registered format runs its own demo request, so a new format is covered once registered.
SHORT_REQUESTS: dict[str, dict[str, Any]] = {
    "interview": {
        "format": "interview",
        "guest_name": "Ada Lovelace",
        "topic": "the analytical engine",
        "target_minutes": 1,
    },
    "debate": {
        "format": "debate",
        "topic": "the printing press",
        "participants": [
            {"name": "Johannes Gutenberg", "position": "print frees knowledge"},
            {"name": "Johannes Trithemius", "position": "the scribe's hand is devotion"},
        ],
        "rounds": 1,
        "target_minutes": 1,
    },
    "adventure": {
        "format": "adventure",
        "setting": "Alexandria, 48 BC",
        "depth": 2,
        "choices": 2,
        "target_minutes": 1,
    },
}
REQUESTS = {fmt.name: SHORT_REQUESTS.get(fmt.name) or fmt.demo_request() for fmt in formats()}


# -- the model: answers with the format's own template for the task in the prompt -------------


def template_responder(body: dict[str, Any]) -> str:
    """Answer a chat request the way a good model would: the prompt says which task it is
    (`Task: <format>.<stage>`) and embeds the request and outline as JSON; rebuilding the task
    from them gives its deterministic template, which fits the schema and passes the checks.
    Research, rewrite and time-guard calls are answered as the offline writer answers them."""
    if (answer_text := history_answer(body)) is not None:
        return answer_text
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    lines = dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line)
    kind, stage = lines["Task"].split(".")
    request = parse_request(lines["Request JSON"])
    fmt = format_for(kind.upper())
    task: Any
    if stage == "outline":
        task = fmt.outline_task(request)
    else:
        outline = fmt.outline_model.model_validate_json(lines["Outline JSON"])
        task = fmt.script_task(request, outline)
    # In the task's wire shape (the per-request schema's), as a model would answer.
    return json.dumps(task.wire(task.template()))


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, responder=template_responder) as fake:
        yield fake


@pytest.fixture
def openai_env(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The environment a production deployment sets, pointed at the fake."""
    use_openai(monkeypatch, server.base_url, KEY)
    return server


def use_openai(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("EPOCHPOD_LLM_MODEL", LLM_MODEL)
    monkeypatch.setenv("EPOCHPOD_TTS_MODEL", TTS_MODEL)
    # Short enough that a hung call costs little; far longer than any loopback answer.
    monkeypatch.setenv("EPOCHPOD_OPENAI_TIMEOUT", "5")
    monkeypatch.setenv("EPOCHPOD_OPENAI_MAX_RETRIES", "3")
    for name in (
        "EPOCHPOD_WRITER",
        "EPOCHPOD_VOICE",
        "EPOCHPOD_PRICES",
        "EPOCHPOD_MAX_EPISODE_USD",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def materialize(
    instance: dg.DagsterInstance, episode_id: str, assets: Sequence[Any] = ASSETS
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("episodes", [episode_id])
    return dg.materialize(
        assets,
        partition_key=episode_id,
        instance=instance,
        resources=resources_from_env(),
        raise_on_error=False,
    )


@dataclass(frozen=True)
class Ledger:
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    tts_calls: int
    tts_characters: int
    usd: float


def catalog_ledger(db: Catalog, episode_ids: Sequence[str] | None = None) -> Ledger:
    """Totals of generation_metrics, for some episodes or all."""
    query = "SELECT sum(llm_calls), sum(prompt_tokens), sum(completion_tokens), sum(tts_calls), "
    query += "sum(tts_characters), sum(estimated_usd) FROM generation_metrics"
    params: dict[str, Any] = {}
    if episode_ids is not None:
        query += " WHERE episode_id IN :ids"
    statement = sa.text(query)
    if episode_ids is not None:
        statement = statement.bindparams(sa.bindparam("ids", expanding=True))
        params["ids"] = list(episode_ids)
    with db.engine.connect() as conn:
        row = conn.execute(statement, params).one()
    calls, prompt, completion, tts_calls, characters, usd = (v or 0 for v in row)
    return Ledger(int(calls), int(prompt), int(completion), int(tts_calls), int(characters), usd)


def server_usd(stats: Stats) -> float:
    return PRICES.llm_usd(LLM_MODEL, stats.prompt_tokens, stats.completion_tokens) + (
        PRICES.tts_usd(TTS_MODEL, stats.tts_characters)
    )


def assert_catalog_matches_server(ledger: Ledger, stats: Stats) -> None:
    assert ledger.llm_calls == stats.chat_billed
    assert ledger.prompt_tokens == stats.prompt_tokens
    assert ledger.completion_tokens == stats.completion_tokens
    assert ledger.tts_calls == stats.speech_billed
    assert ledger.tts_characters == stats.tts_characters
    # The catalog sums per-call USD, the server's total is priced at once: equal up to float
    # rounding in the last bits.
    assert ledger.usd == pytest.approx(server_usd(stats), rel=1e-9, abs=1e-12)


def metadata_totals(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    totals: dict[str, float] = {}
    for node in ("episode_research", "episode_outline", "episode_script", "episode_audio"):
        for materialization in result.asset_materializations_for_node(node):
            for name in ("llm_calls", "prompt_tokens", "completion_tokens", "tts_characters"):
                totals[name] = totals.get(name, 0) + materialization.metadata[name].value  # type: ignore[operator]
            totals["usd"] = totals.get("usd", 0) + materialization.metadata["estimated_usd"].value  # type: ignore[operator]
    return totals


def step_starts(result: dg.ExecuteInProcessResult, step: str) -> int:
    return sum(
        1
        for event in result.all_events
        if event.step_key == step and event.event_type_value in ("STEP_START", "STEP_RESTARTED")
    )


# -- the round trip --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(REQUESTS))
def test_each_format_is_written_and_voiced_by_openai_and_published(
    kind: str, openai_env: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    server = openai_env
    db = open_catalog()
    # A date for the guest: the time guard's model pass reads her lines (and is billed).
    dated = {"as_of": "1843"} if kind == "interview" else {}
    episode_id = enqueue({**REQUESTS[kind], **dated}, db)

    result = materialize(instance, episode_id)

    assert result.success
    row = db.get(episode_id)
    assert row is not None
    assert (row["status"], row["generation_status"], row["generation_progress"]) == (
        "PUBLISHED",
        "COMPLETED",
        100,
    )
    assert row["generation_error"] is None and row["audio_bytes"] > 0

    # Structured outputs: one strict json_schema per format and stage, named after the model:
    # research (no sources: the model's own facts), outline, script, and for a figure with a
    # date the time guard's model pass over the script's lines.
    chats = [r.body for r in server.requests if r.endpoint == "chat"]
    fmt = format_for(row["type"])
    judged = ["ModelAnachronisms"] if kind == "interview" else []
    assert [c["response_format"]["json_schema"]["name"] for c in chats] == [
        "OwnFacts",
        fmt.outline_model.__name__,
        fmt.script_model.__name__,
        *judged,
    ]
    assert all(c["response_format"]["json_schema"]["strict"] for c in chats)
    assert all(c["model"] == LLM_MODEL for c in chats)
    # Speech is asked for uncompressed, so the MP3 is encoded once.
    speech = [r.body for r in server.requests if r.endpoint == "speech"]
    assert speech and all(s["response_format"] == "pcm" and s["model"] == TTS_MODEL for s in speech)

    # The provider and model in use show in the metadata.
    outline_meta = result.asset_materializations_for_node("episode_outline")[0].metadata
    audio_meta = result.asset_materializations_for_node("episode_audio")[0].metadata
    assert outline_meta["writer"].value == f"openai / {LLM_MODEL}"
    assert audio_meta["voice"].value == f"openai / {TTS_MODEL}"

    # Every token and character the server billed is in the catalog and the metadata, exactly.
    stats = server.stats()
    assert stats.chat_billed == len(chats) and stats.speech_billed == len(speech)
    assert_catalog_matches_server(catalog_ledger(db, [episode_id]), stats)
    shown = metadata_totals(result)
    assert shown["llm_calls"] == stats.chat_billed
    assert shown["prompt_tokens"] == stats.prompt_tokens
    assert shown["completion_tokens"] == stats.completion_tokens
    assert shown["tts_characters"] == stats.tts_characters
    # Each stage shows USD rounded to 6 places: four stages, half a millionth each at most.
    assert shown["usd"] == pytest.approx(server_usd(stats), abs=2e-6)
    published = result.asset_materializations_for_node("published_episode")[0].metadata
    assert published["episode_llm_tokens"].value == stats.prompt_tokens + stats.completion_tokens
    assert published["episode_tts_characters"].value == stats.tts_characters


def test_transient_errors_are_retried_and_only_answers_are_billed(
    openai_env: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    server = openai_env
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    # Research answers at once; then the outline and the script each meet 2 faults.
    server.script("ok", "429", "500", "ok", "503", "drop")

    result = materialize(instance, episode_id, [episode_research, episode_outline, episode_script])

    assert result.success
    stats = server.stats()
    assert stats.faults == {"429": 1, "500": 1, "503": 1, "drop": 1}
    assert stats.total_calls == 7 and stats.chat_billed == 3
    assert step_starts(result, "episode_outline") == 1, "the client retried, not Dagster"
    assert_catalog_matches_server(catalog_ledger(db, [episode_id]), stats)


# -- failures --------------------------------------------------------------------------------


def test_malformed_json_is_re_asked_then_the_episode_fails_with_the_validation_error(
    openai_env: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    server = openai_env
    db = open_catalog()
    episode_id = enqueue(REQUESTS["debate"], db)
    # Research answers; the outline's first answer and both re-asks are malformed.
    server.script("ok", "malformed", "malformed", "malformed")

    result = materialize(instance, episode_id)

    assert not result.success
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    error = row["generation_error"]
    assert error.startswith("outline failed: ")
    assert "no acceptable debate outline in 3 attempts" in error
    assert "Invalid JSON" in error, error
    chats = [r.body for r in server.requests if r.endpoint == "chat"][1:]  # after research
    assert len(chats) == 3
    # Each re-ask carries the rejected answer and why it was rejected.
    assert [m["role"] for m in chats[2]["messages"]] == ["system", "user"] + [
        "assistant",
        "user",
    ] * 2
    assert "Invalid JSON" in chats[1]["messages"][-1]["content"]
    assert step_starts(result, "episode_outline") == 1, "bad output is not retried by Dagster"
    # Rejected answers were billed by the server, so they are in the ledger too.
    stats = server.stats()
    assert stats.chat_billed == 4 and stats.speech_billed == 0
    assert_catalog_matches_server(catalog_ledger(db, [episode_id]), stats)


def test_one_malformed_answer_is_re_asked_and_the_episode_publishes(
    openai_env: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    server = openai_env
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    server.script("ok", "ok", "malformed")  # the script's first answer is cut short

    result = materialize(instance, episode_id, [episode_research, episode_outline, episode_script])

    assert result.success
    assert server.stats().chat_billed == 4
    assert_catalog_matches_server(catalog_ledger(db, [episode_id]), server.stats())


@pytest.mark.parametrize("status", ["400", "content_policy"])
def test_a_bad_request_fails_at_once(
    status: str, openai_env: FakeOpenAI, instance: dg.DagsterInstance
) -> None:
    server = openai_env
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    server.script(status)

    started = time.monotonic()
    result = materialize(instance, episode_id)

    assert not result.success
    assert time.monotonic() - started < 5, "no backoff, no Dagster retry delay"
    assert server.stats().total_calls == 1
    assert step_starts(result, "episode_research") == 1
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert row["generation_error"].startswith("research failed: OpenAI answered HTTP 400")


def test_a_wrong_key_fails_at_once_and_is_never_shown(
    server: FakeOpenAI,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "sk-wrong-key-that-the-server-echoes-9c1d"
    use_openai(monkeypatch, server.base_url, wrong)
    db = open_catalog()
    episode_id = enqueue(REQUESTS["interview"], db)
    caplog.set_level(logging.DEBUG)

    result = materialize(instance, episode_id)

    assert not result.success
    stats = server.stats()
    assert stats.total_calls == 1 and stats.statuses == {401: 1}
    assert step_starts(result, "episode_research") == 1
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert "HTTP 401" in row["generation_error"]
    # The server echoed the whole key in its message; it went nowhere.
    assert_secret_nowhere(wrong, db, instance, result, caplog, capfd)


@pytest.mark.slow
def test_the_key_appears_in_no_log_metadata_or_catalog_column(
    openai_env: FakeOpenAI,
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    db = open_catalog()
    published = enqueue(REQUESTS["adventure"], db)
    assert materialize(instance, published).success
    # And a failure, whose error text is the likeliest place for a key to slip through.
    failed = enqueue(REQUESTS["interview"], db)
    openai_env.script("401")
    result = materialize(instance, failed)
    assert not result.success

    assert_secret_nowhere(KEY, db, instance, result, caplog, capfd)


def assert_secret_nowhere(
    secret: str,
    db: Catalog,
    instance: dg.DagsterInstance,
    result: dg.ExecuteInProcessResult,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Prove the search can find it: the key is in the environment the run used.
    assert secret in json.dumps(dict(os.environ))
    out, err = capfd.readouterr()
    # ...and that the logs searched are real: the openai client's and httpx's debug records
    # (where request headers would show) reach caplog; Dagster's own event log goes to stderr.
    assert "openai._base_client" in caplog.text and "httpcore" in caplog.text
    assert "outline failed" in err
    assert secret not in caplog.text
    assert secret not in out + err
    for run in instance.get_runs():
        assert secret not in json.dumps(run.run_config, default=str)
        for record in instance.all_logs(run.run_id):
            assert secret not in str(record)
            assert secret not in dg.serialize_value(record)
    assert result.all_events and not any(secret in str(event) for event in result.all_events)
    inspector = sa.inspect(db.engine)
    with db.engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                assert secret not in json.dumps(list(row), default=str), table


# -- the "done when": 30 % transient faults, ten episodes, exact totals ---------------

# About 30 % of calls fail transiently: rate limits and server errors (with short Retry-After
# values), dropped connections, and hung calls that time out. Latency spikes stay well under
# the client timeout: a spike past it is billed by the server although the client gave up.
FAULTS = Faults(
    error_rate=0.26,
    drop_rate=0.03,
    hang_rate=0.02,
    hang_seconds=2.0,
    spike_rate=0.05,
    spike_seconds=0.2,
    retry_after=0.02,
)
FAULT_TIMEOUT = 1.0  # seconds: a hang times out fast; no loopback answer comes near it
FAULT_MAX_RETRIES = 8  # 0.3 ** 9: a call failing for good is about a 1-in-50,000 event
MIX = ["interview", "debate", "adventure", "interview", "debate"] * 2


def distinct_request(kind: str, number: int) -> dict[str, Any]:
    """REQUESTS[kind], made unique: identical episodes would share synthesized segments
    through the content-addressed cache, and the scenario would voice almost nothing."""
    request = dict(REQUESTS[kind])
    field = "setting" if kind == "adventure" else "topic"
    request[field] = f"{request[field]}, part {number}"
    return request


@dataclass(frozen=True)
class ScenarioResult:
    episode_ids: list[str]
    published: int
    stats: Stats
    ledger: Ledger
    step_retries: int
    seconds: float


def run_fault_scenario(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance, seed: int = 7
) -> ScenarioResult:
    """Ten short episodes of mixed formats through a server that fails ~30 % of calls."""
    with FakeOpenAI(api_key=KEY, responder=template_responder, faults=FAULTS, seed=seed) as fake:
        use_openai(monkeypatch, fake.base_url, KEY)
        monkeypatch.setenv("EPOCHPOD_OPENAI_TIMEOUT", str(FAULT_TIMEOUT))
        monkeypatch.setenv("EPOCHPOD_OPENAI_MAX_RETRIES", str(FAULT_MAX_RETRIES))
        db = open_catalog()
        ids = [enqueue(distinct_request(kind, n), db) for n, kind in enumerate(MIX, 1)]
        started = time.monotonic()
        retries = 0
        for episode_id in ids:
            result = materialize(instance, episode_id)
            retries += sum(1 for e in result.all_events if e.event_type_value == "STEP_RESTARTED")
        seconds = time.monotonic() - started
        stats = fake.stats()
    published = sum(1 for i in ids if (db.get(i) or {}).get("status") == "PUBLISHED")
    return ScenarioResult(ids, published, stats, catalog_ledger(db, ids), retries, seconds)


@pytest.mark.reliability
@pytest.mark.slow
def test_ten_episodes_publish_through_thirty_percent_transient_faults_with_exact_totals(
    monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    outcome = run_fault_scenario(monkeypatch, instance)

    assert outcome.published == 10
    stats = outcome.stats
    faults = sum(stats.faults.values())
    assert 0.2 < faults / stats.total_calls < 0.4, stats.faults
    assert {"429", "500", "503", "drop", "hang"} <= set(stats.faults)
    db = open_catalog()
    voiced = [catalog_ledger(db, [i]).tts_calls for i in outcome.episode_ids]
    assert all(voiced), f"every episode voiced its own lines, none from the cache: {voiced}"
    assert_catalog_matches_server(outcome.ledger, stats)
