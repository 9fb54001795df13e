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
    """The launchpad's config: one format with its fields, or `request_json`."""
    return defs.resolve_job_def("request_episode").execute_in_process(
        run_config=config, instance=instance, raise_on_error=False
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
            "debate": {
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
        # The launchpad's typed form: Dagster's own config check, as the operator types.
        ({"interview": {"topic": "engines"}}, 'Missing required config entry "guest_name"'),
        ({"opera": {}}, 'unexpected config entry "opera"'),
        (
            {"interview": {"guest_name": "Ada", "topic": 3}},
            "Invalid scalar at path root:interview:topic",
        ),
        ({"interview": {"guest_name": "Ada", "topic": "x", "mood": "dark"}}, '"mood"'),
        (
            # The voices are in the schema: an unknown one is flagged as the operator types.
            {"interview": {"guest_name": "Ada", "topic": "x", "host_voice": "darth"}},
            "root:interview:host_voice not in enum type Voice got darth",
        ),
        # The request model, run by the config mapping before any run exists.
        ({"interview": {"guest_name": "Ada", "topic": "  "}}, "topic: must not be blank"),
        (
            {"interview": {"guest_name": "Ada", "topic": "x", "host_voice": "echo"}},
            "guest_voice must differ from host_voice",
        ),
        ({"request_json": "{not json"}, "request: is not valid JSON"),
    ],
)
def test_the_launchpad_refuses_a_bad_order_before_any_run(
    instance: dg.DagsterInstance, config: dict[str, Any], problem: str
) -> None:
    db = open_catalog()
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        launch(instance, config)
    messages = [error.message for error in refused.value.errors]
    assert any(problem in message for message in messages), messages
    assert instance.get_runs() == [], "nothing launched"
    assert rows(db) == []


def test_the_launchpad_form_is_typed_per_format() -> None:
    """Built from each format's request model: its fields, types and required ones."""
    from epochpod_assets.defs.launchpad import order_schema, request_models

    selector = order_schema()
    assert set(selector.fields) == {*request_models(), "request_json"}
    interview = selector.fields["interview"].config_type
    assert interview.fields["guest_name"].is_required
    assert not interview.fields["angle"].is_required
    assert interview.fields["target_minutes"].config_type.given_name == "Float"
    participant = selector.fields["debate"].config_type.fields["participants"].config_type
    assert set(participant.inner_type.fields) >= {"name", "position", "voice"}
    assert "format" not in interview.fields, "the key names the format"


@pytest.mark.slow
def test_materializing_a_partition_again_regenerates_the_episode(
    instance: dg.DagsterInstance,
) -> None:
    db = open_catalog()
    result = launch(
        instance,
        {
            "interview": {"guest_name": "Ada", "topic": "engines", "target_minutes": 1},
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
        "research": 2,
        "outline": 2,
        "script": 2,
        "audio": 2,
        "publish": 2,
    }
