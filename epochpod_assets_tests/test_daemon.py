"""End to end under the real daemon: PostgreSQL for Dagster and the catalog, media in (moto's)
S3, five requests of mixed formats published with no manual step; then a regeneration
backfill launched through the same daemon."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.status import Stage
from epochpod_assets_tests.support.daemon import (
    episode_timing,
    extra_database,
    pg_env,
    running_daemon,
    set_pool_limits,
    timing_table,
    wait_for,
    write_test_instance,
)
from epochpod_assets_tests.support.s3 import S3Endpoint, s3_media

__all__ = ["s3_media"]  # a fixture, used by name

REQUESTS = [
    {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines", "target_minutes": 1},
    {
        "format": "debate",
        "topic": "canals or railways",
        "participants": [
            {"name": "James Brindley", "position": "canals carry more for less"},
            {"name": "George Stephenson", "position": "railways go anywhere, fast"},
        ],
        "rounds": 1,
        "target_minutes": 1,
    },
    {
        "format": "adventure",
        "setting": "Alexandria, 48 BC",
        "premise": "You must save the library's scrolls.",
        "depth": 2,
        "choices": 2,
        "target_minutes": 1,
    },
    {"format": "interview", "guest_name": "Nikola Tesla", "topic": "AC power", "target_minutes": 1},
    {
        "format": "debate",
        "topic": "the gold standard",
        "participants": [
            {"name": "William Jennings Bryan", "position": "silver for the farmers"},
            {"name": "Grover Cleveland", "position": "gold keeps money honest"},
        ],
        "rounds": 1,
        "target_minutes": 1,
    },
]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.daemon
@pytest.mark.timeout(1800)  # two phases of real runs; on a loaded CI box they take minutes
def test_daemon_publishes_five_episodes_and_backfills_two(
    postgres_url: str,
    s3_media: S3Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with extra_database(postgres_url, "catalog") as catalog_url:
        home = tmp_path / "dagster_home"
        write_test_instance(home)
        env = {
            **pg_env(postgres_url),
            "DAGSTER_HOME": str(home),
            "EPOCHPOD_DATABASE_URL": catalog_url,
            "EPOCHPOD_SENSOR_INTERVAL_SECONDS": "1",
            "EPOCHPOD_SWEEPER_INTERVAL_SECONDS": "5",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        set_pool_limits(home, env)
        db = Catalog(catalog_url)
        db.migrate()
        log = tmp_path / "daemon.log"
        instance = dg.DagsterInstance.get()
        with running_daemon(env, log) as daemon:
            ids = [enqueue(request, db) for request in REQUESTS]

            def all_published() -> list[dict[str, object]] | None:
                rows = [db.get(i) for i in ids]
                failed = [r for r in rows if r and r["generation_status"] == Stage.FAILED]
                assert not failed, f"episodes failed: {[r['generation_error'] for r in failed]}"
                done = all(r and r["generation_status"] == Stage.COMPLETED for r in rows)
                return [r for r in rows if r] if done else None

            rows = wait_for(all_published, 600, "5 episodes to be published", daemon, log)
            assert all(r["status"] == "PUBLISHED" for r in rows)
            # Media went to S3, under keys derived from the episode id.
            keys = s3_media.keys()
            for row in rows:
                assert any(k.startswith(f"media/episodes/{row['id']}/") for k in keys), keys
                assert row["audio_url"]
            timings = [episode_timing(instance, row) for row in rows]
            print("\n" + timing_table(timings))
            for timing in timings:
                assert 0 < timing.compute < timing.run_wall <= timing.enqueue_to_completed

            # A regeneration backfill through the daemon: script, audio and publication of
            # two episodes, not their outlines.
            chosen = ids[:2]
            before = {i: db.get(i) for i in chosen}
            stats_before = db.stats(chosen)
            backfill_id = launch_regeneration_backfill(instance, chosen)

            def backfill_done() -> bool:
                backfill = instance.get_backfill(backfill_id)
                assert backfill is not None
                return backfill.status != BulkActionStatus.REQUESTED

            wait_for(backfill_done, 900, "the backfill to finish", daemon, log)
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, backfill.status
            check_regenerated(db, before, stats_before)


def launch_regeneration_backfill(instance: dg.DagsterInstance, episode_ids: list[str]) -> str:
    from epochpod_assets_tests.test_backfill import regeneration_backfill

    backfill = regeneration_backfill(instance, episode_ids)
    instance.add_backfill(backfill)
    return backfill.backfill_id


def check_regenerated(
    db: Catalog,
    before: dict[str, dict[str, object] | None],
    stats_before: dict[str, object],
) -> None:
    from epochpod_assets_tests.test_backfill import assert_regenerated

    assert_regenerated(db, before, stats_before)
