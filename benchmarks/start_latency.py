"""Issue 15's start latency: enqueue -> GENERATING_OUTLINE, through a real `dagster-daemon run`
on PostgreSQL with the production dagster.yaml as shipped (target: median <= 5 s, p95 <= 10 s
on a quiet box).

    .venv/bin/python benchmarks/start_latency.py [--episodes 12]

Enqueues short interviews one at a time, each on an idle daemon (the next once the last has
published) and after a seeded random pause of up to one sensor-daemon loop (5 s): without it
every request would arrive at the same moment of the loop, the one the last run's end falls
on, and pickup would measure that moment instead of what a request arriving at any time
waits. Watches the catalog row every 20 ms and splits each start into its phases from the
run's own events:

    pickup           enqueue -> run created by the episode_requests sensor
    queued->launched RUN_ENQUEUED -> RUN_STARTING (the queued run coordinator's dequeue)
    launched->started RUN_STARTING -> RUN_START (run worker process start-up and imports)
    started->outline RUN_START -> the row shows GENERATING_OUTLINE (research runs first)
    enqueue->outline the whole start, as the web app sees it

Prints one line per episode, then median, p95 and max of each phase, and the machine's load.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._console import (
    load,
    production_daemon,
    run_events,
    summary,
    wait_run_done,
)
from epochpod_assets import enqueue
from epochpod_assets.status import Stage
from epochpod_assets_tests.support.daemon import wait_for

REQUEST = {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines"}
# dagster-daemon evaluates sensors at most once per loop of this length (MIN_INTERVAL_LOOP_TIME).
SENSOR_LOOP_SECONDS = 5.0
PHASES = ["pickup", "queued->launched", "launched->started", "started->outline", "enqueue->outline"]
# The stages after GENERATING_OUTLINE: seeing any of them first still dates the outline.
OUTLINE_OR_LATER = {
    Stage.GENERATING_OUTLINE,
    Stage.GENERATING_SCRIPT,
    Stage.GENERATING_AUDIO,
    Stage.UPLOADING,
    Stage.COMPLETED,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--seed", type=int, default=15, help="of the pauses between requests")
    args = parser.parse_args()
    print(f"before: {load()}")
    figures: dict[str, list[float]] = {phase: [] for phase in PHASES}
    with production_daemon() as daemon:
        db = daemon.db
        print(f"{'episode':<27} " + " ".join(f"{p:>17}" for p in PHASES))
        arrivals = random.Random(args.seed)
        for i in range(args.episodes):
            time.sleep(arrivals.uniform(0, SENSOR_LOOP_SECONDS))
            episode_id = enqueue(
                {**REQUEST, "topic": f"engines, part {i + 1}", "target_minutes": 1}, db
            )
            row = db.get(episode_id)
            assert row is not None
            created = row["created_at"].timestamp()
            outline_at = None
            deadline = time.time() + 300
            while outline_at is None and time.time() < deadline:
                row = db.get(episode_id)
                assert row is not None
                if Stage(row["generation_status"]) in OUTLINE_OR_LATER:
                    outline_at = time.time()
                elif row["generation_status"] == Stage.FAILED:
                    print(f"FAILED {episode_id}: {row['generation_error']}")
                    return 1
                else:
                    time.sleep(0.02)
            assert outline_at is not None, f"{episode_id} never reached GENERATING_OUTLINE"
            run_id = wait_for(
                lambda episode_id=episode_id: (db.get(episode_id) or {}).get(  # type: ignore[misc]
                    "generation_job_id"
                ),
                60,
                "the run id",
                daemon.process,
                daemon.log,
            )
            run = wait_run_done(daemon, run_id)
            record = daemon.instance.get_run_record_by_id(run_id)
            assert record is not None
            events = run_events(daemon.instance, run_id)
            phases = {
                "pickup": record.create_timestamp.timestamp() - created,
                "queued->launched": events["RUN_STARTING"] - events["RUN_ENQUEUED"],
                "launched->started": events["RUN_START"] - events["RUN_STARTING"],
                "started->outline": outline_at - events["RUN_START"],
                "enqueue->outline": outline_at - created,
            }
            for phase, seconds in phases.items():
                figures[phase].append(seconds)
            print(
                f"{episode_id:<27} "
                + " ".join(f"{phases[p]:>16.2f}s" for p in PHASES)
                + ("" if run.is_success else f"  run {run.status.value}")
            )
    print()
    for phase in PHASES:
        print(f"{phase:>17}: {summary(figures[phase])}")
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
