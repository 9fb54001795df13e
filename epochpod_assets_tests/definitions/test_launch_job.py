"""UI launches: the request_episode job orders an episode from the launchpad with the command
line's validation, and materializing an existing partition regenerates that episode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from epochpod_assets.catalog.store import Catalog
from epochpod_assets.definitions import defs
from epochpod_assets.intake import open_catalog
from epochpod_assets.run_tags import EPISODE_TAG, FORMAT_TAG, TITLE_TAG
from epochpod_assets.status import Stage
from epochpod_assets.worker import work_queue
from epochpod_assets_tests.scenarios.test_backfill import stage_counts


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def launch(instance: dg.DagsterInstance, config: dict[str, Any]) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("request_episode").execute_in_process(
        run_config={"ops": {"order_episode": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def rows(db: Catalog) -> list[dict[str, Any]]:
    return db.list(100)


def test_launchpad_orders_an_episode_with_format_and_fields(
    instance: dg.DagsterInstance,
) -> None:
    db = open_catalog()
    result = launch(
        instance,
        {
            "format": "debate",
            "fields": {
                "topic": "canals or railways",
                "participants": [
                    {"name": "James Brindley", "position": "canals carry more"},
                    {"name": "George Stephenson", "position": "railways go anywhere"},
                ],
                "rounds": 1,
                "target_minutes": 1,
            },
        },
    )
    assert result.success
    episode_id = result.output_for_node("order_episode")
    row = db.get(episode_id)
    assert row is not None and row["type"] == "DEBATE"
    assert row["generation_status"] == Stage.PENDING, "the queue sensor takes it from here"
    tags = result.dagster_run.tags
    assert (tags[EPISODE_TAG], tags[FORMAT_TAG]) == (episode_id, "DEBATE")


def test_launchpad_orders_an_episode_from_json(instance: dg.DagsterInstance) -> None:
    request = {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines"}
    result = launch(instance, {"request_json": json.dumps(request)})
    assert result.success
    row = open_catalog().get(result.output_for_node("order_episode"))
    assert row is not None and row["type"] == "INTERVIEW"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"format": "interview", "fields": {"topic": "engines"}}, "guest_name"),
        ({"format": "opera", "fields": {}}, "format"),
        ({"request_json": "{not json"}, "request: is not valid JSON"),
        ({}, "format: required"),
        ({"format": "interview", "request_json": "{}"}, "request_json: give either"),
    ],
)
def test_a_bad_order_fails_the_run_naming_the_field_and_writes_nothing(
    instance: dg.DagsterInstance, config: dict[str, Any], problem: str
) -> None:
    db = open_catalog()
    result = launch(instance, config)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None and problem in error.message
    assert rows(db) == []


@pytest.mark.slow
def test_materializing_a_partition_again_regenerates_the_episode(
    instance: dg.DagsterInstance,
) -> None:
    db = open_catalog()
    result = launch(
        instance,
        {
            "format": "interview",
            "fields": {"guest_name": "Ada", "topic": "engines", "target_minutes": 1},
        },
    )
    episode_id = result.output_for_node("order_episode")
    work_queue(defs, instance)
    first = db.get(episode_id)
    assert first is not None and first["generation_status"] == Stage.COMPLETED

    # What the UI's "Materialize" on one partition does: the whole group, that partition.
    again = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        partition_key=episode_id, instance=instance
    )
    assert again.success
    second = db.get(episode_id)
    assert second is not None and second["generation_status"] == Stage.COMPLETED
    assert second["id"] == first["id"] and second["audio_url"] == first["audio_url"]
    assert second["generation_job_id"] == again.run_id
    # Regeneration keeps the first publication (the feed's order) and records itself.
    assert second["published_at"] == first["published_at"]
    assert first["regenerated_at"] is None
    assert second["regenerated_at"] > first["published_at"]
    # A new attempt: started anew, not left at the first run's start.
    assert second["generation_started_at"] > first["generation_completed_at"]
    # The UI's run had only its partition tag; its first stage named the episode.
    run = instance.get_run_by_id(again.run_id)
    assert run is not None
    assert run.tags[EPISODE_TAG] == episode_id
    assert run.tags[FORMAT_TAG] == "INTERVIEW"
    assert run.tags[TITLE_TAG] == second["title"]
    # In process, like the sensor's runs: no step ran in a process of its own.
    events = instance.all_logs(again.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING)
    assert events == []
    assert stage_counts(db, [episode_id])[episode_id] == {
        "outline": 2,
        "script": 2,
        "audio": 2,
        "publish": 2,
    }
