"""End to end under the real daemon: PostgreSQL for Dagster and the catalog, media in (moto's)
S3, five requests of mixed formats published with no manual step and listed in the podcast
feed the daemon rebuilds; then a regeneration backfill launched through the same daemon. And
the two ways a run ends badly under the daemon, a failure and a timeout, each leave their
episode FAILED with a reason the web app can show."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import feedparser
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.assets.feed import FEED_KEY
from epochpod_assets.run_tags import EPISODE_TAG, MAX_RUNTIME_TAG
from epochpod_assets.status import Stage
from epochpod_assets_tests.support.daemon import (
    daemon_environment,
    episode_timing,
    extra_database,
    running_daemon,
    timing_table,
    wait_for,
)
from epochpod_assets_tests.support.fake_openai import FakeOpenAI
from epochpod_assets_tests.support.s3 import S3Endpoint, s3_media
from epochpod_assets_tests.support.template_model import template_responder

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
        env = daemon_environment(home, postgres_url, catalog_url, monkeypatch)
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
                # COMPLETED is written inside published_episode; the timings below need the
                # runs' own end as well.
                ended = done and all(run_finished(instance, r["generation_job_id"]) for r in rows)
                return [r for r in rows if r] if ended else None

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

            # The publication_reports sensor rebuilds the feed by itself; wait for the rebuild
            # that saw all five, then read what subscribers read.
            def feed_lists_all() -> bool:
                return feed_episode_count(instance) == len(ids)

            wait_for(feed_lists_all, 600, "the feed to list all 5 episodes", daemon, log)
            check_feed(s3_media, db, rows)

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


def run_finished(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and run.is_finished


def feed_episode_count(instance: dg.DagsterInstance) -> int | None:
    """How many episodes the latest podcast_feed materialization listed (None: not built)."""
    event = instance.get_latest_materialization_event(dg.AssetKey("podcast_feed"))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata["episode_count"].value
    assert isinstance(value, int)
    return value


def check_feed(s3: S3Endpoint, db: Catalog, rows: list[dict[str, Any]]) -> None:
    """The RSS the feed asset stored lists every published episode once, by id, with its
    catalog title and its entry track (an adventure's entry node) as a playable enclosure."""
    from epochpod_assets_tests.scenarios.test_backfill import object_url

    body = s3.client().get_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{FEED_KEY}")["Body"]
    feed = feedparser.parse(body.read())
    assert not feed.bozo, feed.get("bozo_exception")
    entries = {entry.id: entry for entry in feed.entries}
    assert len(entries) == len(feed.entries), "an episode is listed twice"
    assert set(entries) == {row["id"] for row in rows}
    for row in rows:
        entry = entries[row["id"]]
        assert entry.title == row["title"]
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        # Same object as the catalog's audio_url: the episode's entry track. Each URL is
        # presigned on its own, so only the query (the signature) may differ.
        assert object_url(enclosure.href) == object_url(row["audio_url"])
        if row["type"] == "ADVENTURE":
            detail = db.detail(row["id"], "ADVENTURE")
            assert detail is not None and detail["entry_node"]
            entry_track = f"/episodes/{row['id']}/audio/{detail['entry_node']}.mp3"
            assert urlsplit(enclosure.href).path.endswith(entry_track), enclosure.href
        # A podcast app downloads the enclosure: the URL works and its length is honest.
        with urllib.request.urlopen(enclosure.href, timeout=30) as response:
            audio = response.read()
        assert len(audio) == int(enclosure.length) > 0


def launch_regeneration_backfill(instance: dg.DagsterInstance, episode_ids: list[str]) -> str:
    from epochpod_assets_tests.scenarios.test_backfill import regeneration_backfill

    backfill = regeneration_backfill(instance, episode_ids)
    instance.add_backfill(backfill)
    return backfill.backfill_id


def check_regenerated(
    db: Catalog,
    before: dict[str, dict[str, object] | None],
    stats_before: dict[str, object],
) -> None:
    from epochpod_assets_tests.scenarios.test_backfill import assert_regenerated

    assert_regenerated(db, before, stats_before)


# The two requests of the failure scenario, told apart by the fake model by their topic.
UNWRITABLE = "the engine no model can outline"
ENDLESS = "the engine whose outline never arrives"
# Long enough for the failing run to fail first however loaded the box; short enough for a test.
MAX_RUNTIME_SECONDS = 20
UNFINISHED = [status for status in dg.DagsterRunStatus if status not in FINISHED_STATUSES]


@pytest.fixture
def misbehaving_model() -> Iterator[FakeOpenAI]:
    """FakeOpenAI as a model that answers every request well except two: for UNWRITABLE it
    answers with prose instead of JSON (every time, so the writer's re-asks run out: a
    permanent failure), for ENDLESS it never answers (until the test ends)."""
    released = threading.Event()

    def respond(body: dict[str, Any]) -> str:
        prompt = json.dumps(body.get("messages"))
        if UNWRITABLE in prompt:
            return "I would rather talk about something else."
        if ENDLESS in prompt:
            released.wait(600)
        return template_responder(body)

    with FakeOpenAI(api_key="sk-test-daemon-failures", responder=respond) as server:
        try:
            yield server
        finally:
            released.set()  # lets the hung handler thread end, so stop() does not wait on it


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.daemon
@pytest.mark.timeout(900)
def test_daemon_leaves_failed_and_timed_out_runs_episodes_failed_with_a_reason(
    postgres_url: str,
    misbehaving_model: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with extra_database(postgres_url, "catalog") as catalog_url:
        home = tmp_path / "dagster_home"
        env = daemon_environment(
            home,
            postgres_url,
            catalog_url,
            monkeypatch,
            # The product's way to give episode runs their own maximum runtime: the sensor
            # tags each run with dagster/max_runtime, which run monitoring enforces.
            EPOCHPOD_RUN_MAX_RUNTIME_SECONDS=str(MAX_RUNTIME_SECONDS),
            EPOCHPOD_WRITER="openai",
            EPOCHPOD_VOICE="offline",
            OPENAI_API_KEY=misbehaving_model.api_key,
            OPENAI_BASE_URL=misbehaving_model.base_url,
            # Far past the maximum runtime: only run monitoring ends the hung call.
            EPOCHPOD_OPENAI_TIMEOUT="600",
        )
        db = Catalog(catalog_url)
        db.migrate()
        log = tmp_path / "daemon.log"
        instance = dg.DagsterInstance.get()
        with running_daemon(env, log) as daemon:
            failing = enqueue({**REQUESTS[0], "topic": UNWRITABLE}, db)
            hanging = enqueue({**REQUESTS[0], "topic": ENDLESS}, db)

            def both_settled() -> dict[str, dict[str, Any]] | None:
                rows = {i: db.get(i) for i in (failing, hanging)}
                for row in rows.values():
                    assert row is not None
                    assert row["generation_status"] != Stage.COMPLETED, row
                timed_out = (rows[hanging] or {}).get("generation_error") or ""
                done = rows[failing]["generation_status"] == Stage.FAILED and timed_out.startswith(
                    "timed out"
                )
                # run_retries may relaunch the timed-out run (see below): wait for it too, so
                # the row read here is the last word.
                running = instance.get_runs(
                    filters=dg.RunsFilter(statuses=UNFINISHED, tags={EPISODE_TAG: hanging})
                )
                return {i: r for i, r in rows.items() if r} if done and not running else None

            rows = wait_for(both_settled, 600, "a failed and a timed-out episode", daemon, log)

        failed = rows[failing]
        assert failed["generation_status"] == Stage.FAILED
        # The writer's own words: what was wrong, not a bare "run failed". Research is the first
        # stage that asks the writer, so it is the one that fails.
        assert failed["generation_error"].startswith("research failed: "), failed
        assert "gave no acceptable research" in failed["generation_error"]
        assert "in 3 attempts" in failed["generation_error"]
        timed_out = rows[hanging]
        assert timed_out["generation_status"] == Stage.FAILED
        assert timed_out["generation_error"].startswith(
            f"timed out after {MAX_RUNTIME_SECONDS} seconds"
        ), timed_out
        runs = {
            episode_id: instance.get_runs(filters=dg.RunsFilter(tags={EPISODE_TAG: episode_id}))
            for episode_id in rows
        }
        # An asset failure is not retried (run_retries.retry_on_asset_or_op_failure: false).
        assert len(runs[failing]) == 1, runs[failing]
        # Dagster's run_retries may retry a run that run monitoring stopped at its runtime: the
        # worker's failure (a step failure, not retried) and monitoring's own (no reason, so
        # retried) race to set the run's failure reason. At most once, as configured.
        assert 1 <= len(runs[hanging]) <= 2, runs[hanging]
        for episode_id, row in rows.items():
            assert row["status"] != "PUBLISHED" and row["published_at"] is None
            for run in runs[episode_id]:
                assert run.tags[MAX_RUNTIME_TAG] == str(MAX_RUNTIME_SECONDS)
                assert run.is_finished and run.status != dg.DagsterRunStatus.SUCCESS, run.status
                # A stopped run stays stopped: its interrupted step was not started again.
                restarted = instance.get_records_for_run(
                    run.run_id, of_type=dg.DagsterEventType.STEP_RESTARTED
                ).records
                assert not restarted, f"run {run.run_id} restarted a step after it was stopped"
