"""Issue 15's backfill figure: a one-partition backfill's run time against a sensor run of the
same episode, side by side, through a real `dagster-daemon run` on PostgreSQL with the
production dagster.yaml (target: backfill <= 1.2x the sensor run).

    .venv/bin/python benchmarks/backfill.py [--rounds 3]

Each round enqueues a short interview and lets the episode_requests sensor's run publish it,
then backfills that one partition (every per-episode asset, as "Materialize" on the partition
or a regeneration backfill does) and waits for the backfill's run. Both runs do the same work
(the segment cache, media/cache/tts, is cleared before each, so both speak every line). Run time
is RUN_START -> RUN_SUCCESS of each run; it also says whether any step ran in a process of its
own (STEP_WORKER_STARTING events), which is what made backfills 8x slower before. Each run starts
on a quiet daemon: after the feed rebuild that the previous publication set off has finished.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg

from benchmarks._console import (
    Daemon,
    load,
    production_daemon,
    run_seconds,
    wait_run_done,
)
from epochpod_assets import enqueue
from epochpod_assets.definitions import defs
from epochpod_assets.status import Stage
from epochpod_assets_tests.support.daemon import wait_for

REQUEST = {"format": "interview", "guest_name": "Ada Lovelace", "target_minutes": 1}


def backfill_one(daemon: Daemon, episode_id: str) -> str:
    """Launch a backfill of `episode_id`'s partition, every per-episode asset; its run id."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.materializable_asset_keys if graph.get(k).group_name == "episodes"]
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=graph,
        partition_names=[episode_id],
        asset_selection=keys,
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=daemon.instance,
        all_partitions=False,
        title="benchmark regeneration",
        description=None,
        run_config=None,
    )
    daemon.instance.add_backfill(backfill)

    def its_run() -> str | None:
        runs = daemon.instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}), limit=1
        )
        return runs[0].run_id if runs else None

    return wait_for(its_run, 300, "the backfill's run", daemon.process, daemon.log)


def settle(daemon: Daemon) -> None:
    """Wait until the feed has been rebuilt after the last publication and no run is going:
    the reports run a publication sets off would otherwise share the CPU with the next run."""
    unfinished = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    published = daemon.instance.get_latest_materialization_event(dg.AssetKey("published_episode"))

    def quiet() -> bool:
        feed = daemon.instance.get_latest_materialization_event(dg.AssetKey("podcast_feed"))
        rebuilt = published is None or (feed is not None and feed.timestamp > published.timestamp)
        going = daemon.instance.get_runs(filters=dg.RunsFilter(statuses=unfinished), limit=1)
        return rebuilt and not going

    wait_for(quiet, 180, "the reports run after a publication", daemon.process, daemon.log)


def steps_in_own_process(daemon: Daemon, run_id: str) -> int:
    return len(daemon.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"before: {load()}")
    sensor_times: list[float] = []
    backfill_times: list[float] = []
    with production_daemon() as daemon:
        db = daemon.db
        media = Path(daemon.env["EPOCHPOD_HOME"]) / "media"
        print(
            f"{'episode':<27} {'sensor run':>11} {'backfill run':>13} {'ratio':>6}  "
            "own-process steps"
        )
        for i in range(args.rounds):
            settle(daemon)
            # Neither run finds speech another run made (the segment cache is by content).
            shutil.rmtree(media / "cache" / "tts", ignore_errors=True)
            episode_id = enqueue({**REQUEST, "topic": f"engines, part {i + 1}"}, db)

            def published(episode_id: str = episode_id) -> str | None:
                row = db.get(episode_id)
                if row and row["generation_status"] == Stage.FAILED:
                    raise SystemExit(f"FAILED {episode_id}: {row['generation_error']}")
                done = row and row["generation_status"] == Stage.COMPLETED
                return row["generation_job_id"] if done else None

            sensor_run = wait_for(published, 600, "the sensor's run", daemon.process, daemon.log)
            wait_run_done(daemon, sensor_run)
            settle(daemon)
            # The same work again: nothing cached from the first run's speech.
            shutil.rmtree(media / "cache" / "tts", ignore_errors=True)
            backfill_run = backfill_one(daemon, episode_id)
            run = wait_run_done(daemon, backfill_run)
            if not run.is_success:
                print(f"backfill run {backfill_run} ended {run.status.value}")
                return 1
            sensor_s = run_seconds(daemon.instance, sensor_run)
            backfill_s = run_seconds(daemon.instance, backfill_run)
            sensor_times.append(sensor_s)
            backfill_times.append(backfill_s)
            own = steps_in_own_process(daemon, sensor_run) + steps_in_own_process(
                daemon, backfill_run
            )
            print(
                f"{episode_id:<27} {sensor_s:>10.2f}s {backfill_s:>12.2f}s "
                f"{backfill_s / sensor_s:>5.2f}x  {own}"
            )
    sensor_median = statistics.median(sensor_times)
    backfill_median = statistics.median(backfill_times)
    print(
        f"median: sensor run {sensor_median:.2f} s, backfill run {backfill_median:.2f} s, "
        f"backfill / sensor = {backfill_median / sensor_median:.2f}x (target <= 1.2x)"
    )
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
