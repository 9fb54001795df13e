"""Sensors: pick requests up from the queue, settle episodes whose runs failed, timed out or
were cancelled, and sweep up any episode row its run left behind."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG, WILL_RETRY_TAG

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.editorial import write_episode
from epochpod_assets.defs.jobs import generate_episode
from epochpod_assets.defs.notifications import FailureWebhookResource
from epochpod_assets.defs.partitions import episodes_partitions
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.editorial.actions import needs_review
from epochpod_assets.editorial.revise import EDIT_TAG, REVIEW_TAG, STOP
from epochpod_assets.formats import registry
from epochpod_assets.reasons import run_error_reason, step_failure_reason
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.run_tags import episode_of_tags, episode_run_tags
from epochpod_assets.status import RESTING, TERMINAL, Stage

# The schedule of the sensors is fixed when they are defined, so it is read at import; a bad
# value stops the code location from loading, with the variable named.
_settings = settings.load()
# How many requests one tick takes. Bounded so a tick stays short however long the queue is.
BATCH_SIZE = _settings.sensor_batch
# A request the sensor asked a run for comes back to the queue if no run has picked it up in
# this time (the tick died after marking it, or the run could not start). The run key keeps
# the second request from launching a second run if the first did start.
LEASE = dt.timedelta(seconds=_settings.sensor_lease_seconds)
# How often the daemon asks the queue for new requests; the floor on enqueue -> start latency.
INTERVAL_SECONDS = _settings.sensor_interval_seconds
# How often the sweeper reconciles episode rows with ended runs.
SWEEP_INTERVAL_SECONDS = _settings.sweeper_interval_seconds
# What the stages write when their process is interrupted; they cannot know whether by a
# timeout or a cancel, so settling a run may overwrite it with the real reason.
_INTERRUPTED = " was interrupted"
_RUNTIME = re.compile(r"maximum runtime of (\d+) seconds")


def run_key(episode_id: str, attempt: int) -> str:
    return f"{episode_id}:{attempt}"


@dg.sensor(
    jobs=[generate_episode, write_episode],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def episode_requests(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SensorResult:
    """Turns PENDING episodes in the queue table into one run each, oldest first.

    At most once: each run request carries the run key `<episode id>:<attempt>`, and Dagster
    launches a run key once. Nothing lost: rows are only marked as requested after the tick
    has built its result, and a marked row whose run never starts comes back after the lease.
    """
    db = catalog.get()
    rows = db.pending(limit=BATCH_SIZE, lease=LEASE)
    run_requests: list[dg.RunRequest] = []
    for row in rows:
        try:
            request = parse_request(row["request"])
            if registry.episode_type(request.format) != row["type"]:
                raise RequestError(
                    [f"type: is {row['type']} but the request is a {request.format}"]
                )
        except RequestError as error:
            # A row the web app (or a hand-written INSERT) got wrong must not block the queue.
            db.fail(row["id"], str(error))
            context.log.warning(f"episode {row['id']} rejected: {error}")
            continue
        review = needs_review(request)
        run_requests.append(
            dg.RunRequest(
                run_key=run_key(row["id"], row["generation_attempt"]),
                partition_key=row["id"],
                job_name=(write_episode if review else generate_episode).name,
                tags=episode_run_tags(row["id"], row["type"], row["title"])
                | ({REVIEW_TAG: STOP} if review else {}),
            )
        )
    ids = [r.partition_key for r in run_requests if r.partition_key]
    db.mark_queued(ids)
    if ids:
        context.log.info(f"requesting {len(ids)} episode run(s): {', '.join(ids)}")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[episodes_partitions.build_add_request(ids)] if ids else [],
    )


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def episode_run_failures(
    context: dg.RunFailureSensorContext,
    catalog: CatalogResource,
    failure_webhook: FailureWebhookResource,
) -> None:
    """Like the original's onFailure: a run that failed (in an asset, before any, or because run
    monitoring stopped it at its maximum runtime) leaves its episode FAILED with the reason, and
    the failure webhook hears about it.

    Watches every job of this code location, so episodes regenerated from the UI or by a
    backfill are covered as well as the sensor's runs.
    """
    # Re-read: the run-retry bookkeeping may have tagged it after the event was written.
    run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
    episode_id = episode_of(run)
    if not episode_id:
        return
    db = catalog.get()
    outcome = settle_ended_run(db, context.instance, run, context.failure_event.message)
    row = db.get(episode_id)
    if row is None or outcome == Settled.STALE:
        return
    sent = failure_webhook.notify(
        {
            "event": "episode.failed",
            "episode_id": episode_id,
            "type": row["type"],
            "title": row["title"],
            "generation_status": row["generation_status"],
            "generation_error": row["generation_error"],
            "generation_attempt": row["generation_attempt"],
            "run_id": run.run_id,
            "job_name": run.job_name,
        }
    )
    if sent:
        context.log.info(f"failure of episode {episode_id} sent to the webhook")


@dg.sensor(
    minimum_interval_seconds=SWEEP_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def episode_run_sweeper(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SkipReason:
    """Reconciles episode rows with the runs that worked on them, so no episode stays in
    GENERATING_* (or PENDING behind a dead run) after its run ended.

    The run-failure sensor sees failed runs only. This also settles cancelled runs, runs that
    run monitoring stopped at their maximum runtime (they may end CANCELED), and successful
    runs that never reached published_episode. Its cursor is the update time of the last
    ended run it looked at; settling is idempotent, so looking twice does no harm.
    """
    db = catalog.get()
    since = (
        dt.datetime.fromtimestamp(float(context.cursor), dt.UTC)
        if context.cursor
        # First tick: look back far enough to cover a daemon that was down for a while.
        else dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    )
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=ENDED, updated_after=since),
        order_by="update_timestamp",
        ascending=True,
        limit=SWEEP_BATCH,
    )
    settled = 0
    for record in records:
        if episode_of(record.dagster_run) and (
            settle_ended_run(db, context.instance, record.dagster_run) == Settled.CHANGED
        ):
            settled += 1
            context.log.info(
                f"settled episode {episode_of(record.dagster_run)} after run "
                f"{record.dagster_run.run_id} ended {record.dagster_run.status.value}"
            )
    if records:
        context.update_cursor(str(records[-1].update_timestamp.timestamp()))
    return dg.SkipReason(f"looked at {len(records)} ended run(s), settled {settled} episode(s)")


ENDED = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.SUCCESS]
SWEEP_BATCH = 200


class Settled:
    """What `settle_ended_run` did: wrote the row, found it already right, or found that a
    newer attempt owns it."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True)
class RunEnd:
    stage: Stage
    reason: str
    # A timeout or cancel: the stage could only say "interrupted", so this may overwrite it.
    overrides_interrupt: bool


def episode_of(run: dg.DagsterRun) -> str | None:
    return episode_of_tags(run.tags)


def run_end(
    instance: dg.DagsterInstance, run: dg.DagsterRun, failure_message: str | None = None
) -> RunEnd:
    """Why `run` ended, in the words the web app shows."""
    messages = [failure_message] if failure_message else []
    records = instance.get_records_for_run(
        run.run_id,
        of_type={
            dg.DagsterEventType.RUN_CANCELING,
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.STEP_FAILURE,
        },
    ).records
    step_errors: list[str] = []
    run_errors: list[str] = []
    run_failures: list[str] = []
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is not None and event.is_step_failure:
            step_errors.append(step_failure_reason(event))
        text = (event.message if event is not None else None) or entry.user_message
        if event is not None and event.event_type == dg.DagsterEventType.RUN_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:  # e.g. a resource that could not start
                run_errors.append(run_error_reason(error))
            if text:
                run_failures.append(text)
        messages.append(text)
    for message in messages:
        timeout = _RUNTIME.search(message or "")
        if timeout:
            return RunEnd(
                Stage.FAILED,
                f"timed out after {timeout.group(1)} seconds (run {run.run_id} was stopped at "
                "its maximum runtime)",
                overrides_interrupt=True,
            )
    if run.status == dg.DagsterRunStatus.CANCELED:
        return RunEnd(Stage.CANCELLED, f"run {run.run_id} was cancelled", True)
    if run.status == dg.DagsterRunStatus.SUCCESS:
        # Only a run that did not select published_episode gets here with the row in flight.
        return RunEnd(
            Stage.FAILED,
            f"run {run.run_id} ended without publishing (published_episode was not selected)",
            overrides_interrupt=False,
        )
    # The real cause first: a step's own error, the run's error; Dagster's summary last.
    causes = step_errors or run_errors
    reason = (
        causes[-1]
        if causes
        else failure_message or (run_failures[-1] if run_failures else "no reason given")
    )
    return RunEnd(Stage.FAILED, f"run {run.run_id} failed: {reason}", overrides_interrupt=False)


def settle_ended_run(
    db: Catalog,
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    failure_message: str | None = None,
) -> str:
    """Bring the episode row of an ended run to a terminal state. Returns a `Settled` value.

    Never touches a row a newer attempt or a newer run owns; never overwrites a reason a stage
    wrote, except the stage's "interrupted" when the run was timed out or cancelled.
    """
    episode_id = episode_of(run)
    row = db.get(episode_id) if episode_id else None
    if row is None or episode_id is None:
        return Settled.STALE
    if run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true":
        # run_retries will re-execute it (a crashed or unlaunchable worker): the retry owns the
        # episode now, and FAILED would be a false alarm to the web app and the webhook.
        return Settled.STALE
    edit = run.tags.get(EDIT_TAG, "")
    if edit.isdigit():
        # An editorial run that ended: its edit is closed (its last asset closes it on
        # success; this covers a run that failed, was cancelled, or died between the two), so
        # the editor can ask again. The episode itself is settled below like any other.
        ok = run.status == dg.DagsterRunStatus.SUCCESS
        db.finish_edit(
            int(edit), run.run_id, None if ok else run_end(instance, run, failure_message).reason
        )
    run_key = run.tags.get(RUN_KEY_TAG, "")
    attempt = run_key.rpartition(":")[2] if run_key.startswith(f"{episode_id}:") else ""
    if attempt.isdigit() and int(attempt) != row["generation_attempt"]:
        return Settled.STALE
    status = Stage(row["generation_status"])
    owner = row["generation_job_id"]
    if status is Stage.PENDING:
        # PENDING behind a dead run: only this attempt's own run (from the sensor) can say so;
        # a UI run that died before starting leaves the request for the sensor.
        if not attempt.isdigit():
            return Settled.STALE
    elif owner and owner != run.run_id:
        return Settled.STALE
    if status is Stage.COMPLETED:
        return Settled.UNCHANGED
    if status is Stage.AWAITING_REVIEW and run.status == dg.DagsterRunStatus.SUCCESS:
        # The review gate: a run that stopped at the script for review ended as planned.
        return Settled.UNCHANGED
    end = run_end(instance, run, failure_message)
    if status in TERMINAL:
        interrupted = (row["generation_error"] or "").endswith(_INTERRUPTED)
        if not (end.overrides_interrupt and interrupted):
            return Settled.UNCHANGED
    elif run.status == dg.DagsterRunStatus.SUCCESS and row["published_at"] is not None:
        # A regeneration that stopped short of publishing: the published episode still stands.
        db.set_stage(episode_id, Stage.COMPLETED)
        return Settled.CHANGED
    db.fail(episode_id, end.reason, stage=end.stage)
    return Settled.CHANGED


def settle_failed_run(
    db: Catalog, episode_id: str, run_id: str, message: str | None, edit_id: str | None = None
) -> None:
    """Mark an episode FAILED after its run failed, unless a stage already settled it (or it
    rests awaiting review: a failed approval leaves the script waiting, its edit closed).

    For callers without a Dagster run record (the foreground worker)."""
    if edit_id and edit_id.isdigit():
        db.finish_edit(int(edit_id), run_id, f"run {run_id} failed: {message or 'no reason'}")
    row = db.get(episode_id)
    if row is None or row["generation_status"] in RESTING:
        return
    db.fail(episode_id, f"run {run_id} failed: {message or 'no reason given'}")
