"""Every run for an episode carries its episode id, format and title, however it was launched:
the run coordinator tags UI and backfill runs (which Dagster tags with their partition only)
before they join the queue, so the format concurrency limits count them."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.definitions import defs
from epochpod_assets.defs.sensors import episode_requests
from epochpod_assets.intake import open_catalog
from epochpod_assets.run_tags import EPISODE_TAG, FORMAT_TAG, TITLE_TAG

ADVENTURE = {"format": "adventure", "setting": "Alexandria, 48 BC", "target_minutes": 1}
COORDINATOR = {"module": "epochpod_assets.coordinator", "class": "EpisodeRunCoordinator"}
LIMITS = [{"key": FORMAT_TAG, "value": "ADVENTURE", "limit": 1}]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(
        overrides={"run_coordinator": {**COORDINATOR, "config": {"tag_concurrency_limits": LIMITS}}}
    ) as instance:
        yield instance


def backfill_style_run(instance: dg.DagsterInstance, episode_id: str) -> dg.DagsterRun:
    """A run as a backfill or the UI's Materialize creates it: asset job, partition tag only."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    job = defs.resolve_implicit_global_asset_job_def()
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="epochpod_assets.definitions"), location_name="epochpod"
    )
    return instance.create_run_for_job(
        job,
        tags={"dagster/partition": episode_id, "dagster/backfill": "abcdefgh"},
        remote_job_origin=RemoteJobOrigin(
            RemoteRepositoryOrigin(location, "__repository__"), job.name
        ),
        job_code_origin=JobPythonOrigin(
            job.name,
            RepositoryPythonOrigin(
                executable_path=sys.executable,
                code_pointer=ModuleCodePointer("epochpod_assets.definitions", "defs", None),
            ),
        ),
    )


def submit(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRun:
    return instance.submit_run(run.run_id, workspace=None)  # type: ignore[arg-type]


def test_a_backfill_run_is_tagged_before_it_is_queued(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    episode_id = enqueue(ADVENTURE, db)
    run = backfill_style_run(instance, episode_id)
    assert FORMAT_TAG not in run.tags

    queued = submit(instance, run)

    assert queued.status == dg.DagsterRunStatus.QUEUED
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None
    assert stored.tags[EPISODE_TAG] == episode_id
    assert stored.tags[FORMAT_TAG] == "ADVENTURE"
    assert stored.tags[TITLE_TAG] == "Generating adventure in Alexandria, 48 BC..."
    assert stored.tags["dagster/backfill"] == "abcdefgh", "Dagster's own tags are kept"
    # What the queue counts: the run is under the adventure limit like a sensor's run.
    limits = instance.get_concurrency_config().run_queue_config
    assert limits is not None and limits.tag_concurrency_limits == LIMITS


def test_runs_that_are_not_for_an_episode_are_queued_untouched(
    instance: dg.DagsterInstance,
) -> None:
    open_catalog()
    run = backfill_style_run(instance, "ep-not-in-the-catalog")
    submit(instance, run)
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None and stored.status == dg.DagsterRunStatus.QUEUED
    assert FORMAT_TAG not in stored.tags and EPISODE_TAG not in stored.tags


def test_the_sensor_tags_its_runs_with_the_title() -> None:
    db = open_catalog()
    episode_id = enqueue(ADVENTURE, db)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources=defs.resources) as context,
    ):
        result = episode_requests(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    assert request.tags[EPISODE_TAG] == episode_id
    assert request.tags[FORMAT_TAG] == "ADVENTURE"
    assert request.tags[TITLE_TAG] == "Generating adventure in Alexandria, 48 BC..."
