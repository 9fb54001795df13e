"""Invariant 2 across a daemon crash: the real `dagster-daemon` (issue 5B's harness, PostgreSQL
instance with the production dagster.yaml) is SIGKILLed while episode runs are both running and
waiting in the run queue; requests keep arriving while it is down; a new daemon is started.
Every episode reaches a terminal state, none is lost, none is launched twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.tags import RUN_KEY_TAG

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.status import TERMINAL
from epochpod_assets_tests.bad_requests import INTERVIEW
from epochpod_assets_tests.support.daemon import (
    extra_database,
    pg_env,
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

BEFORE_CRASH = 5
WHILE_DOWN = 2
# Few enough run slots that some runs wait in the queue when the daemon dies.
MAX_CONCURRENT_RUNS = 2


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of a process group we started (orphaned code servers and run
    workers of a daemon that was killed alone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def test_killing_the_daemon_loses_and_duplicates_nothing(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with extra_database(postgres_url, "catalog") as catalog_url:
        home = tmp_path / "dagster_home"
        config_path = write_test_instance(home)
        config = yaml.safe_load(config_path.read_text())
        config["concurrency"]["runs"]["max_concurrent_runs"] = MAX_CONCURRENT_RUNS
        config_path.write_text(yaml.safe_dump(config))
        env = {
            **pg_env(postgres_url),
            "DAGSTER_HOME": str(home),
            "EPOCHPOD_DATABASE_URL": catalog_url,
            "EPOCHPOD_SENSOR_INTERVAL_SECONDS": "1",
            "EPOCHPOD_SWEEPER_INTERVAL_SECONDS": "5",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        db = Catalog(catalog_url)
        db.migrate()
        instance = dg.DagsterInstance.get()
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
                        return [r for r in rows if r] if done else None

                    rows = wait_for(all_terminal, 600, "every episode to end", second, second_log)
            finally:
                kill_group(first)

        assert state["started"] >= 1 and state["queued"] >= 1
        failed = {r["id"]: r["generation_error"] for r in rows if r["status"] != "PUBLISHED"}
        assert not failed, failed
        runs = instance.get_runs()
        per_episode = Counter(run.tags.get("epochpod/episode_id") for run in runs)
        assert per_episode == Counter(dict.fromkeys(ids, 1)), per_episode
        keys = Counter(run.tags.get(RUN_KEY_TAG) for run in runs)
        assert keys == Counter(f"{i}:0" for i in ids)
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
