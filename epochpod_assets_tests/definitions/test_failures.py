"""Failure handling like the original's onFailure: failed, timed-out and cancelled runs leave
their episode FAILED or CANCELLED with a readable reason, the webhook hears about failures, and
the sweeper leaves nothing in GENERATING_* after its run ended."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.tags import PARTITION_NAME_TAG, RUN_KEY_TAG

from epochpod_assets import enqueue, lifecycle
from epochpod_assets.cancel import NotCancellable, cancel_episode
from epochpod_assets.catalog.schema import episodes
from epochpod_assets.catalog.store import utcnow
from epochpod_assets.cli import main
from epochpod_assets.defs import sensors
from epochpod_assets.defs.notifications import FailureWebhookResource, redact
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.intake import open_catalog
from epochpod_assets.run_tags import EPISODE_TAG
from epochpod_assets.status import Stage

REQUEST = {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines"}
noop_job = dg.GraphDefinition(name="generate_episode", node_defs=[]).to_job()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP server that records the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/epochpod?token=hunter2", received
    finally:
        server.shutdown()
        server.server_close()


def episode_run(
    instance: dg.DagsterInstance, episode_id: str, attempt: int | None = 0
) -> dg.DagsterRun:
    """A started run of `episode_id`, tagged as the queue sensor tags its runs."""
    tags = {EPISODE_TAG: episode_id, PARTITION_NAME_TAG: episode_id}
    if attempt is not None:
        tags[RUN_KEY_TAG] = sensors.run_key(episode_id, attempt)
    run = instance.create_run_for_job(
        noop_job, run_config={}, tags=tags, status=dg.DagsterRunStatus.STARTED
    )
    return run


def failure_context(
    instance: dg.DagsterInstance, run: dg.DagsterRun, webhook_url: str | None
) -> dg.RunFailureSensorContext:
    (failure,) = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    assert failure.event_log_entry.dagster_event is not None
    return dg.build_run_status_sensor_context(
        sensor_name="episode_run_failures",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id) or run,
        dagster_event=failure.event_log_entry.dagster_event,
        resources={
            "catalog": CatalogResource(),
            "failure_webhook": FailureWebhookResource(url=webhook_url),
        },
    ).for_run_failure()


def sweep(instance: dg.DagsterInstance, cursor: str | None = None) -> str | None:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"catalog": CatalogResource()}
    )
    sensors.episode_run_sweeper(context)
    return context.cursor


def test_failed_run_marks_failed_and_posts_the_webhook_without_secrets(
    instance: dg.DagsterInstance,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = webhook
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    run = episode_run(instance, episode_id)
    db.set_stage(episode_id, Stage.GENERATING_SCRIPT, run_id=run.run_id)
    instance.report_run_failed(run, "worker died: OOM while using sk-very-secret-key")

    sensors.episode_run_failures(failure_context(instance, run, url))

    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.FAILED
    assert "worker died: OOM" in row["generation_error"]
    (notice,) = received
    assert notice["event"] == "episode.failed"
    assert notice["episode_id"] == episode_id and notice["run_id"] == run.run_id
    assert notice["generation_status"] == "FAILED"
    text = json.dumps(notice)
    assert "sk-very-secret-key" not in text and "hunter2" not in text
    assert "***" in notice["generation_error"]


def test_a_stage_reason_is_kept_and_still_notified(
    instance: dg.DagsterInstance, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    run = episode_run(instance, episode_id)
    db.set_stage(episode_id, Stage.GENERATING_AUDIO, run_id=run.run_id)
    db.fail(episode_id, "audio failed: the voice refused")
    instance.report_run_failed(run, "Steps failed: ['episode_audio'].")
    sensors.episode_run_failures(failure_context(instance, run, url))
    row = db.get(episode_id)
    assert row is not None and row["generation_error"] == "audio failed: the voice refused"
    assert [n["generation_error"] for n in received] == ["audio failed: the voice refused"]


def test_a_run_that_will_be_retried_leaves_its_episode_to_the_retry(
    instance: dg.DagsterInstance, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    from dagster._core.storage.tags import WILL_RETRY_TAG

    url, received = webhook
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    run = episode_run(instance, episode_id)
    db.set_stage(episode_id, Stage.GENERATING_OUTLINE, run_id=run.run_id)
    instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "true"})
    instance.report_run_failed(run, "code server timed out launching the run")
    sensors.episode_run_failures(failure_context(instance, run, url))
    sweep(instance)
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.GENERATING_OUTLINE
    assert received == []


def test_no_webhook_configured_sends_nothing(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    run = episode_run(instance, episode_id)
    instance.report_run_failed(run, "could not start")
    sensors.episode_run_failures(failure_context(instance, run, None))
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.FAILED


def test_an_unreachable_webhook_does_not_stop_settling(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    run = episode_run(instance, episode_id)
    instance.report_run_failed(run, "could not start")
    sensors.episode_run_failures(failure_context(instance, run, "http://127.0.0.1:9/nothing"))
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.FAILED


def test_sweeper_reconciles_rows_with_ended_runs(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    # A run cancelled in the middle of the script.
    cancelled_id = enqueue(REQUEST, db)
    cancelled = episode_run(instance, cancelled_id)
    db.set_stage(cancelled_id, Stage.GENERATING_SCRIPT, run_id=cancelled.run_id)
    instance.report_run_canceled(cancelled)
    # A run stopped by run monitoring; the interrupted stage could only say "interrupted".
    timed_out_id = enqueue(REQUEST, db)
    timed_out = episode_run(instance, timed_out_id)
    db.set_stage(timed_out_id, Stage.GENERATING_AUDIO, run_id=timed_out.run_id)
    lifecycle.interrupted(db, timed_out_id, "audio")  # what the stage writes
    instance.report_run_canceling(
        timed_out, message="Canceling due to exceeding maximum runtime of 3 seconds."
    )
    instance.report_run_failed(timed_out, "Exceeded maximum runtime of 3 seconds.")
    # PENDING behind a run that died before any asset started.
    dead_id = enqueue(REQUEST, db)
    db.mark_queued([dead_id])
    instance.report_run_failed(episode_run(instance, dead_id), "run worker never came up")
    # A stale attempt: the episode was queued again since; its old run must not touch it.
    requeued_id = enqueue(REQUEST, db)
    old = episode_run(instance, requeued_id, attempt=0)
    db.requeue(requeued_id)
    instance.report_run_failed(old, "old failure")
    # A regeneration that stopped short of publishing an already published episode.
    published_id = enqueue(REQUEST, db)
    with db.engine.begin() as conn:
        conn.execute(
            episodes.update()
            .where(episodes.c.id == published_id)
            .values(status="PUBLISHED", published_at=utcnow(), audio_url="file:///a.mp3")
        )
    partial = episode_run(instance, published_id, attempt=None)
    db.set_stage(published_id, Stage.GENERATING_SCRIPT, run_id=partial.run_id)
    instance.report_dagster_event(
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=partial.job_name
        ),
        run_id=partial.run_id,
    )
    # Still running: left alone.
    running_id = enqueue(REQUEST, db)
    running = episode_run(instance, running_id)
    db.set_stage(running_id, Stage.GENERATING_OUTLINE, run_id=running.run_id)

    cursor = sweep(instance)
    assert cursor

    def row(episode_id: str) -> dict[str, Any]:
        found = db.get(episode_id)
        assert found is not None
        return found

    assert row(cancelled_id)["generation_status"] == Stage.CANCELLED
    assert "was cancelled" in row(cancelled_id)["generation_error"]
    assert row(timed_out_id)["generation_status"] == Stage.FAILED
    assert row(timed_out_id)["generation_error"].startswith("timed out after 3 seconds")
    assert row(dead_id)["generation_status"] == Stage.FAILED
    assert "run worker never came up" in row(dead_id)["generation_error"]
    assert row(requeued_id)["generation_status"] == Stage.PENDING
    assert row(published_id)["generation_status"] == Stage.COMPLETED
    assert row(running_id)["generation_status"] == Stage.GENERATING_OUTLINE

    # The cursor moves on; a later run ending is picked up on the next tick.
    instance.report_run_failed(running, "lost node")
    assert sweep(instance, cursor) != cursor
    assert row(running_id)["generation_status"] == Stage.FAILED


def test_cancel_stops_a_run_not_yet_launched_and_marks_cancelled(
    instance: dg.DagsterInstance,
) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    db.mark_queued([episode_id])
    run = instance.create_run_for_job(
        noop_job,
        run_config={},
        tags={EPISODE_TAG: episode_id, RUN_KEY_TAG: sensors.run_key(episode_id, 0)},
    )

    stopped = cancel_episode(db, instance, episode_id, wait_seconds=5)

    assert stopped == [run.run_id]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED  # type: ignore[union-attr]
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.CANCELLED
    with pytest.raises(NotCancellable, match="already CANCELLED"):
        cancel_episode(db, instance, episode_id)


def test_cancel_and_retry_commands(capsys: pytest.CaptureFixture[str], epochpod_home: Path) -> None:
    db = open_catalog()
    episode_id = enqueue(REQUEST, db)
    assert main(["cancel", episode_id, "--wait-seconds", "1"]) == 0
    assert f"{episode_id} cancelled" in capsys.readouterr().out
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.CANCELLED
    assert main(["cancel", episode_id]) == 1
    assert "already CANCELLED" in capsys.readouterr().err
    assert main(["cancel", "ep-nope"]) == 1
    assert main(["retry", episode_id]) == 0
    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == Stage.PENDING
    assert row["generation_attempt"] == 1


def test_redact_scrubs_secret_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "pg-pass-123")
    assert (
        redact("connect failed for postgres:pg-pass-123@db") == "connect failed for postgres:***@db"
    )
