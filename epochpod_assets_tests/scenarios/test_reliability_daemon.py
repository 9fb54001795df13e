"""Invariant 2 across a daemon crash: the real `dagster-daemon` (issue 5B's harness, PostgreSQL
instance with the production dagster.yaml) is SIGKILLed while episode runs are both running and
waiting in the run queue; requests keep arriving while it is down; a new daemon is started.
Every episode reaches a terminal state, none is lost, none is launched twice.

CI runs it at 5 + 2 episodes; `benchmarks/daemon_restart.py` at full size (the sizes come from
EPOCHPOD_RELIABILITY_RESTART_BEFORE and _WHILE_DOWN)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.tags import RUN_FAILURE_REASON_TAG, RUN_KEY_TAG

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.jobs import generate_episode
from epochpod_assets.defs.sensors import episode_of
from epochpod_assets.status import TERMINAL
from epochpod_assets_tests.support.bad_requests import INTERVIEW
from epochpod_assets_tests.support.daemon import (
    daemon_environment,
    extra_database,
    running_daemon,
    wait_for,
    write_test_instance,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.daemon,
]

BEFORE_CRASH = int(os.environ.get("EPOCHPOD_RELIABILITY_RESTART_BEFORE", "5"))
WHILE_DOWN = int(os.environ.get("EPOCHPOD_RELIABILITY_RESTART_WHILE_DOWN", "2"))
# Few enough run slots that some runs wait in the queue when the daemon dies.
MAX_CONCURRENT_RUNS = 2
# Generous: a short interview takes well under this through a daemon, even on a busy box.
SECONDS_PER_EPISODE = 90
UNFINISHED = [status for status in dg.DagsterRunStatus if status not in FINISHED_STATUSES]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of a process group we started (orphaned code servers and run
    workers of a daemon that was killed alone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.timeout(600 + SECONDS_PER_EPISODE * (BEFORE_CRASH + WHILE_DOWN))
def test_killing_the_daemon_loses_and_duplicates_nothing(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with extra_database(postgres_url, "catalog") as catalog_url:
        home = tmp_path / "dagster_home"
        config_path = write_test_instance(home)
        config = yaml.safe_load(config_path.read_text())
        config["concurrency"]["runs"]["max_concurrent_runs"] = MAX_CONCURRENT_RUNS
        config_path.write_text(yaml.safe_dump(config))
        # With the pools a deployment sets up once: without them, two runs that first use a
        # pool at once can fail one of them, which would count here as a second launch.
        env = daemon_environment(home, postgres_url, catalog_url, monkeypatch)
        db = Catalog(catalog_url)
        db.migrate()
        instance = dg.DagsterInstance.get()
        started_at = time.monotonic()
        ids = [
            enqueue({**INTERVIEW, "topic": f"engines, part {n}"}, db) for n in range(BEFORE_CRASH)
        ]

        def busy_and_queued() -> dict[str, int] | None:
            statuses = Counter(run.status for run in instance.get_runs())
            # A launched run is STARTING until its worker process is up (slow on a busy box).
            started = statuses[dg.DagsterRunStatus.STARTED] + statuses[dg.DagsterRunStatus.STARTING]
            queued = statuses[dg.DagsterRunStatus.QUEUED]
            return {"started": started, "queued": queued} if started and queued else None

        first_log = tmp_path / "daemon-1.log"
        with running_daemon(env, first_log) as first:
            try:
                state = wait_for(busy_and_queued, 300, "runs running and queued", first, first_log)
                # The daemon alone, as the OOM killer would: its run workers keep going.
                os.kill(first.pid, signal.SIGKILL)
                first.wait(30)
                # Requests keep arriving while no daemon is up.
                ids += [
                    enqueue({**INTERVIEW, "topic": f"engines, late {n}"}, db)
                    for n in range(WHILE_DOWN)
                ]
                second_log = tmp_path / "daemon-2.log"
                with running_daemon(env, second_log) as second:

                    def all_terminal() -> list[dict[str, object]] | None:
                        rows = [db.get(i) for i in ids]
                        done = all(r and r["generation_status"] in TERMINAL for r in rows)
                        # A run writes COMPLETED inside published_episode and ends a moment
                        # later: stopping the daemon in between would interrupt it.
                        running = [
                            run
                            for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
                            if episode_of(run)
                        ]
                        return [r for r in rows if r] if done and not running else None

                    rows = wait_for(
                        all_terminal,
                        SECONDS_PER_EPISODE * len(ids),
                        "every episode to end",
                        second,
                        second_log,
                    )
                    elapsed = time.monotonic() - started_at
            finally:
                kill_group(first)

        assert state["started"] >= 1 and state["queued"] >= 1
        failed = {r["id"]: r["generation_error"] for r in rows if r["status"] != "PUBLISHED"}
        assert not failed, failed
        # Every run that worked on an episode, whatever its job. The daemon also rebuilds the
        # feed and cost report as episodes are published (publication_reports), in runs of
        # their own that belong to no episode.
        runs: dict[str, list[dg.DagsterRun]] = defaultdict(list)
        for run in instance.get_runs():
            if episode_of(run):
                assert run.job_name == generate_episode.name, run
                runs[str(episode_of(run))].append(run)
        assert set(runs) == set(ids)
        relaunched = 0
        for episode_id, episode_runs in runs.items():
            # Nothing launched twice: one run per episode did the work, under the sensor's
            # run key for the first attempt, and succeeded.
            worked = [run for run in episode_runs if started(instance, run)]
            assert len(worked) == 1, (episode_id, episode_runs)
            (run,) = worked
            assert run.status == dg.DagsterRunStatus.SUCCESS, run
            assert run.tags.get(RUN_KEY_TAG) == f"{episode_id}:0"
            # The one other run an episode may have is the one the crash caught mid-launch:
            # dequeued (STARTING) by the killed daemon, its worker never started, so run
            # monitoring failed it after start_timeout_seconds and run_retries relaunched it,
            # once, as the run above (dagster.yaml: "marked failed (then retried once)").
            for other in episode_runs:
                if other.run_id != run.run_id:
                    assert other.status == dg.DagsterRunStatus.FAILURE, other
                    assert other.tags.get(RUN_FAILURE_REASON_TAG) == "START_TIMEOUT", other.tags
                    assert run.parent_run_id == other.run_id, (run, other)
                    relaunched += 1
        print(
            f"daemon restart: killed with {state['started']} runs started and {state['queued']} "
            f"queued; {len(ids)} episodes ({BEFORE_CRASH} before the kill, {WHILE_DOWN} while "
            f"down) all published, one run each did the work, {relaunched} never-started "
            f"runs relaunched once, in {elapsed:.0f} s"
        )


def started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether a run worker ever began executing `run`."""
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START)
    return bool(records.records)
