"""Sensors: pick requests up from the queue, and settle episodes whose runs failed."""

import datetime as dt
import os

import dagster as dg

from epochpod_assets.catalog import Catalog
from epochpod_assets.jobs import generate_episode
from epochpod_assets.partitions import episodes_partitions
from epochpod_assets.requests import FORMAT_TYPES, RequestError, parse_request
from epochpod_assets.resources import CatalogResource
from epochpod_assets.status import TERMINAL

EPISODE_TAG = "epochpod/episode_id"
FORMAT_TAG = "epochpod/format"
# How many requests one tick takes. Bounded so a tick stays short however long the queue is.
BATCH_SIZE = int(os.environ.get("EPOCHPOD_SENSOR_BATCH", "50"))
# A request the sensor asked a run for comes back to the queue if no run has picked it up in
# this time (the tick died after marking it, or the run could not start). The run key keeps
# the second request from launching a second run if the first did start.
LEASE = dt.timedelta(seconds=int(os.environ.get("EPOCHPOD_SENSOR_LEASE_SECONDS", "600")))


def run_key(episode_id: str, attempt: int) -> str:
    return f"{episode_id}:{attempt}"


@dg.sensor(
    job=generate_episode,
    minimum_interval_seconds=10,
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
            if FORMAT_TYPES[request.format] != row["type"]:
                raise RequestError(
                    [f"type: is {row['type']} but the request is a {request.format}"]
                )
        except RequestError as error:
            # A row the web app (or a hand-written INSERT) got wrong must not block the queue.
            db.fail(row["id"], str(error))
            context.log.warning(f"episode {row['id']} rejected: {error}")
            continue
        run_requests.append(
            dg.RunRequest(
                run_key=run_key(row["id"], row["generation_attempt"]),
                partition_key=row["id"],
                tags={EPISODE_TAG: row["id"], FORMAT_TAG: row["type"]},
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


@dg.run_failure_sensor(
    monitored_jobs=[generate_episode],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def episode_run_failures(context: dg.RunFailureSensorContext, catalog: CatalogResource) -> None:
    """Like the original's onFailure: a run that failed before or outside an asset (a crash, a
    resource that would not start) still leaves its episode FAILED with the reason."""
    tags = context.dagster_run.tags
    episode_id = tags.get(EPISODE_TAG) or tags.get("dagster/partition")
    if not episode_id:
        return
    settle_failed_run(
        catalog.get(), episode_id, context.dagster_run.run_id, context.failure_event.message
    )


def settle_failed_run(db: Catalog, episode_id: str, run_id: str, message: str | None) -> None:
    """Mark an episode FAILED after its run failed, unless a stage already settled it."""
    row = db.get(episode_id)
    if row is None or row["generation_status"] in TERMINAL:
        return
    db.fail(episode_id, f"run {run_id} failed: {message or 'no reason given'}")
