"""Through a model that follows only the JSON schema (support/schema_only.py: random valid
values, the prompt never read), every format publishes with no structural re-ask, on length,
and the catalog's ledger equals the server's counts. The same through servers that refuse
`json_schema` or `response_format` (the writer's fallbacks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.intake import open_catalog
from epochpod_assets_tests.scenarios.test_openai_pipeline import (
    KEY,
    REQUESTS,
    assert_catalog_matches_server,
    catalog_ledger,
    materialize,
    use_openai,
)
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.schema_only import SchemaOnly

Refuse = Literal["json_schema", "response_format"] | None
STAGES = ("episode_outline", "episode_script")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def publish(
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    request: dict[str, Any],
    refuse: Refuse,
    seed: int,
) -> dict[str, Any]:
    with FakeOpenAI(api_key=KEY, responder=SchemaOnly(seed), refuse=refuse) as server:
        use_openai(monkeypatch, server.base_url, KEY)
        # Random words state nothing the fact sheet supports, and the integrity gate rightly
        # says so; what is tested here is structure and length, so unsupported claims do not
        # block (anachronisms and contradicted claims still would).
        monkeypatch.setenv("EPOCHPOD_MAX_UNSUPPORTED_SHARE", "1")
        db = open_catalog()
        episode_id = enqueue(request, db)
        result = materialize(instance, episode_id)
        stats = server.stats()
    row = db.get(episode_id)
    assert row is not None
    assert result.success, row["generation_error"]
    assert row["generation_status"] == "COMPLETED"
    metadata = {
        e.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    assert_catalog_matches_server(catalog_ledger(db, [episode_id]), stats)
    return {"row": row, "metadata": metadata, "stats": stats}


@pytest.mark.parametrize(
    ("kind", "minutes", "refuse", "mode"),
    [
        ("interview", 3, None, "json_schema"),
        ("debate", 3, None, "json_schema"),
        ("adventure", 3, None, "json_schema"),
        ("documentary", 3, None, "json_schema"),
        ("interview", 3, "json_schema", "json_object"),
        ("debate", 3, "response_format", "text"),
    ],
)
def test_a_schema_only_model_publishes_on_length_without_structural_re_asks(
    kind: str,
    minutes: int,
    refuse: Refuse,
    mode: str,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = dict(REQUESTS[kind], target_minutes=minutes)
    episode = publish(instance, monkeypatch, request, refuse, seed=minutes)
    for stage in STAGES:
        meta = episode["metadata"][stage]
        assert meta["reasks_structure"] == 0, (stage, meta)
        assert meta["structured_output"] == mode
    # Probed once, then remembered: one refusal per rung stepped down, not one per call.
    refusals = {None: 0, "json_schema": 1, "response_format": 2}[refuse]
    assert episode["stats"].statuses.get(400, 0) == refusals
    seconds = episode["row"]["duration_seconds"]
    assert abs(seconds / (minutes * 60) - 1) <= 0.10, seconds


def test_a_long_interview_written_in_parts_publishes_on_length(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = dict(REQUESTS["interview"], target_minutes=10)
    episode = publish(instance, monkeypatch, request, None, seed=10)
    script = episode["metadata"]["episode_script"]
    assert script["reasks_structure"] == 0 and script["reasks_continuity"] == 0
    assert script["lines_spoken_ahead"] > 0  # written in parts and spoken as it was written
    seconds = episode["row"]["duration_seconds"]
    assert abs(seconds / 600 - 1) <= 0.10, seconds
