"""Regeneration backfills: script, audio and publication again for chosen episodes, outlines
kept; the episodes keep their id and URL, and their metrics add up."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.store import EpisodeStats
from epochpod_assets.definitions import defs
from epochpod_assets.intake import open_catalog
from epochpod_assets.status import Stage
from epochpod_assets.worker import work_queue

REPO = Path(__file__).resolve().parents[2]
# What a regeneration redoes: everything downstream of the outline.
REGENERATE = [
    dg.AssetKey("episode_script"),
    dg.AssetKey("episode_audio"),
    dg.AssetKey("published_episode"),
]
OUTLINE = dg.AssetKey("episode_outline")
REQUESTS = [
    {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines", "target_minutes": 1},
    {"format": "interview", "guest_name": "Tesla", "topic": "AC power", "target_minutes": 1},
    {"format": "interview", "guest_name": "Curie", "topic": "radium", "target_minutes": 1},
]


def regeneration_backfill(
    instance: dg.DagsterInstance, episode_ids: list[str]
) -> PartitionBackfill:
    """The backfill an operator launches from the UI: chosen partitions, outline unselected."""
    return PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=defs.resolve_asset_graph(),
        partition_names=episode_ids,
        asset_selection=REGENERATE,
        backfill_timestamp=time.time(),
        tags={"epochpod/kind": "regeneration"},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title="regenerate scripts and audio",
        description=None,
        run_config=None,
    )


def assert_regenerated(
    db: Catalog,
    before: dict[str, dict[str, Any] | None],
    stats_before: dict[str, EpisodeStats],
) -> None:
    stats_after = db.stats(list(before))
    for episode_id, old in before.items():
        assert old is not None
        new = db.get(episode_id)
        assert new is not None
        assert new["generation_status"] == Stage.COMPLETED and new["status"] == "PUBLISHED"
        # Same object, same address; a presigned S3 URL carries a fresh signature each time.
        assert object_url(new["audio_url"]) == object_url(old["audio_url"]), "keeps its URL"
        assert new["generation_completed_at"] > old["generation_completed_at"]
        # The first publication stands (the feed's order); the regeneration is recorded.
        assert new["published_at"] == old["published_at"]
        assert new["regenerated_at"] is not None and new["regenerated_at"] > old["published_at"]
        assert new["generation_started_at"] > old["generation_completed_at"], "a new attempt"
        # Metrics add up: the first generation's rows are kept and the regeneration's added.
        added = added_since(db, episode_id, old["generation_completed_at"])
        old_stats, new_stats = stats_before[episode_id], stats_after[episode_id]
        assert new_stats.llm_tokens == old_stats.llm_tokens + added.llm_tokens
        assert new_stats.tts_characters == old_stats.tts_characters + added.tts_characters
        assert new_stats.estimated_usd == pytest.approx(
            old_stats.estimated_usd + added.estimated_usd
        )
        assert added.wall_seconds > 0
    stages = stage_counts(db, list(before))
    for episode_id in before:
        assert stages[episode_id] == {
            "research": 1,
            "outline": 1,
            "script": 2,
            "audio": 2,
            "publish": 2,
        }


def object_url(url: str) -> str:
    return urlsplit(url)._replace(query="").geturl()


def added_since(db: Catalog, episode_id: str, since: Any) -> EpisodeStats:
    import sqlalchemy as sa

    from epochpod_assets.catalog.schema import generation_metrics as m

    query = sa.select(
        sa.func.coalesce(sa.func.sum(m.c.llm_tokens), 0),
        sa.func.coalesce(sa.func.sum(m.c.tts_characters), 0),
        sa.func.coalesce(sa.func.sum(m.c.estimated_usd), 0.0),
        sa.func.coalesce(sa.func.sum(m.c.wall_seconds), 0.0),
    ).where(m.c.episode_id == episode_id, m.c.created_at > since)
    with db.engine.connect() as conn:
        row = conn.execute(query).one()
    return EpisodeStats(int(row[0]), int(row[1]), float(row[2]), float(row[3]))


def stage_counts(db: Catalog, episode_ids: list[str]) -> dict[str, dict[str, int]]:
    import sqlalchemy as sa

    from epochpod_assets.catalog.schema import generation_metrics as m

    query = (
        sa.select(m.c.episode_id, m.c.stage, sa.func.count())
        .where(m.c.episode_id.in_(episode_ids))
        .group_by(m.c.episode_id, m.c.stage)
    )
    counts: dict[str, dict[str, int]] = {i: {} for i in episode_ids}
    with db.engine.connect() as conn:
        for episode_id, stage, count in conn.execute(query):
            counts[episode_id][stage] = count
    return counts


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # Runs the backfill's runs synchronously in this process: the backfill logic (which
    # partitions, which assets, one run per episode) is the daemon's own.
    with dg.instance_for_test(
        overrides={
            "run_launcher": {
                "module": "dagster._core.launcher.sync_in_memory_run_launcher",
                "class": "SyncInMemoryRunLauncher",
            },
            "run_coordinator": {
                "module": "dagster._core.run_coordinator",
                "class": "DefaultRunCoordinator",
            },
        }
    ) as instance:
        yield instance


@pytest.mark.slow
def test_backfill_regenerates_script_audio_and_publication_only(
    instance: dg.DagsterInstance,
) -> None:
    db = open_catalog()
    ids = [enqueue(request, db) for request in REQUESTS]
    report = work_queue(defs, instance)
    assert len(report.launched) == 3 and not report.failed
    chosen = ids[:2]
    before = {i: db.get(i) for i in chosen}
    untouched = db.get(ids[2])
    stats_before = db.stats(chosen)

    backfill = regeneration_backfill(instance, chosen)
    instance.add_backfill(backfill)
    target = ModuleTarget(
        module_name="epochpod_assets.definitions",
        attribute="defs",
        working_directory=str(REPO),
        location_name="epochpod",
    )
    with create_test_daemon_workspace_context(target, instance) as context:
        for _ in range(10):
            errors = [
                e
                for e in execute_backfill_iteration(context, logging.getLogger("backfill"))
                if e is not None
            ]
            assert not errors, errors
            current = instance.get_backfill(backfill.backfill_id)
            assert current is not None
            if current.status != BulkActionStatus.REQUESTED:
                break
    current = instance.get_backfill(backfill.backfill_id)
    assert current is not None and current.status == BulkActionStatus.COMPLETED_SUCCESS

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert sorted(run.tags["dagster/partition"] for run in runs) == sorted(chosen)
    for run in runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert set(run.asset_selection or ()) == set(REGENERATE), "outline not regenerated"
        # In process, like the sensor's runs (the code location's one executor).
        steps_in_processes = instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING
        )
        assert steps_in_processes == []
        assert run.tags["epochpod/format"] == "INTERVIEW"
    assert_regenerated(db, before, stats_before)
    assert db.get(ids[2]) == untouched, "an episode not chosen is left alone"
