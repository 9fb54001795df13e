"""Cancel an episode: stop whatever run is working on it and leave it CANCELLED."""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.storage.tags import PARTITION_NAME_TAG

from epochpod_assets import lifecycle
from epochpod_assets.catalog import Catalog
from epochpod_assets.run_tags import EPISODE_TAG
from epochpod_assets.status import TERMINAL, Stage

REASON = "cancelled by an operator"
_LIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class NotCancellable(Exception):
    pass


def live_runs(instance: dg.DagsterInstance, episode_id: str) -> list[dg.DagsterRun]:
    """Runs of this episode that have not ended: the sensor's (episode tag) and those launched
    from the UI or a backfill (partition tag)."""
    runs: dict[str, dg.DagsterRun] = {}
    for tag in (EPISODE_TAG, PARTITION_NAME_TAG):
        for run in instance.get_runs(filters=dg.RunsFilter(tags={tag: episode_id}, statuses=_LIVE)):
            runs[run.run_id] = run
    return list(runs.values())


def cancel_episode(
    db: Catalog,
    instance: dg.DagsterInstance,
    episode_id: str,
    *,
    wait_seconds: float = 60.0,
    poll_seconds: float = 0.5,
) -> list[str]:
    """Mark the episode CANCELLED and terminate its runs. Returns the ids of the runs stopped.

    The row is marked first, so the queue sensor, which takes only PENDING rows, asks for no
    new run while we stop the old ones. A stage that is interrupted writes FAILED "... was
    interrupted" on its way out; once the runs have ended we write CANCELLED again. If they take
    longer than `wait_seconds`, the sweeper sensor settles the row when the run ends CANCELED.
    """
    row = db.get(episode_id)
    if row is None:
        raise NotCancellable(f"no episode {episode_id}")
    if row["generation_status"] in TERMINAL:
        raise NotCancellable(f"episode {episode_id} is already {row['generation_status']}")
    lifecycle.fail(db, episode_id, REASON, lifecycle.Outcome.CANCELLED)
    # An approval or edit still waiting for its run is cancelled with the episode: a
    # cancelled episode must not come back to life when the edits sensor next ticks.
    db.close_open_edits(episode_id, REASON)
    runs = live_runs(instance, episode_id)
    for run in runs:
        # The coordinator knows both cases: a queued run is dropped from the queue, a started
        # one is terminated through the run launcher (the same path as the UI's Terminate).
        stopped = instance.run_coordinator.cancel_run(run.run_id)
        if not stopped and run.status == dg.DagsterRunStatus.NOT_STARTED:
            # Created (by the sensor or a backfill) but never launched: no process to kill.
            instance.report_run_canceled(run, message=f"episode {episode_id} {REASON}")
    deadline = time.monotonic() + wait_seconds
    while runs and time.monotonic() < deadline:
        statuses = [instance.get_run_by_id(run.run_id) for run in runs]
        if all(r is None or r.is_finished for r in statuses):
            break
        time.sleep(poll_seconds)
    current = db.get(episode_id)
    if current is not None and current["generation_status"] != Stage.COMPLETED:
        lifecycle.fail(db, episode_id, REASON, lifecycle.Outcome.CANCELLED)
    return [run.run_id for run in runs]
