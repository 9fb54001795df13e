"""Sensors: pick requests up from the queue, settle episodes whose runs failed, timed out or
were cancelled, and sweep up any episode row its run left behind."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from epochpod_assets import lifecycle, settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.editorial import write_episode
from epochpod_assets.defs.jobs import generate_episode
from epochpod_assets.defs.notifications import FailureWebhookResource
from epochpod_assets.defs.partitions import episodes_partitions
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.editorial.actions import needs_review
from epochpod_assets.editorial.revise import REVIEW_TAG, STOP
from epochpod_assets.formats import registry
from epochpod_assets.lifecycle import Settled, episode_of, settle_ended_run
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.run_tags import episode_run_tags

# The schedule of the sensors is fixed when they are defined, so it is read at import; a bad
# value stops the code location from loading, with the variable named.
_settings = settings.load()
# How many requests one tick takes. Bounded so a tick stays short however long the queue is.
BATCH_SIZE = _settings.sensor_batch
# A request the sensor asked a run for comes back to the queue if no run has picked it up in
# this time (the tick died after marking it, or the run could not start). The run key keeps
# the second request from launching a second run if the first did start.
LEASE = dt.timedelta(seconds=_settings.sensor_lease_seconds)
# How often the daemon asks the queue for new requests.
INTERVAL_SECONDS = _settings.sensor_interval_seconds
# How long a tick that finds no request listens for one (catalog.listening_for_requests).
WAIT_SECONDS = _settings.sensor_wait_seconds
# How often the sweeper reconciles episode rows with ended runs.
SWEEP_INTERVAL_SECONDS = _settings.sweeper_interval_seconds


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

    Dagster's sensor daemon passes every 5 s, so a request would wait 2.5 s on average for
    the next tick; a tick that finds the queue empty listens for EPOCHPOD_SENSOR_WAIT_SECONDS
    instead (PostgreSQL NOTIFY from the queue's trigger) and takes a request the moment it is
    written.
    """
    return take_requests(context, catalog.get(), WAIT_SECONDS)


def take_requests(
    context: dg.SensorEvaluationContext, db: Catalog, wait_seconds: float
) -> dg.SensorResult:
    """One tick of `episode_requests`: the queue's requests, or the first one to arrive within
    `wait_seconds` (the foreground worker ticks again by itself and passes 0)."""
    with db.listening_for_requests() as wait:
        rows = db.pending(limit=BATCH_SIZE, lease=LEASE)
        if not rows and wait(wait_seconds):
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
            lifecycle.fail(db, row["id"], str(error))
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
