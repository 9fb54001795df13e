"""An episode's failure reason names the real cause, whatever stage or setup step raised it,
and `epochpod run` says it in one line per failed episode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from epochpod_assets import enqueue
from epochpod_assets.definitions import defs
from epochpod_assets.defs.resources import WriterResource
from epochpod_assets.intake import open_catalog
from epochpod_assets.lifecycle import run_end
from epochpod_assets.worker import tick
from epochpod_assets_tests.support.bad_requests import INTERVIEW


def with_writer(writer: WriterResource) -> dg.Definitions:
    """The code location with another writer resource, as a launchpad override gives one."""
    return dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        jobs=list(defs.jobs or []),
        sensors=list(defs.sensors or []),
        executor=defs.executor,
        resources={**(defs.resources or {}), "writer": writer},
    )


def test_a_provider_that_cannot_be_set_up_fails_the_episode_with_its_own_reason() -> None:
    # Rate limits given to the resource directly skip the settings layer's check at start-up:
    # the error comes when the first stage (research) sets its writer up.
    broken = WriterResource(provider="openai", api_key="sk-test", rate_limits="{not json")
    db = open_catalog()
    episode = enqueue(INTERVIEW, db)
    with dg.instance_for_test() as instance:
        report = tick(with_writer(broken), instance, log_level="CRITICAL")
    assert len(report.failed) == 1
    row = db.get(episode)
    assert row is not None and row["generation_status"] == "FAILED"
    reason = row["generation_error"]
    assert reason.startswith("research failed: EPOCHPOD_RATE_LIMITS is not valid JSON"), reason
    assert "Steps failed" not in reason and "\n" not in reason


class WriterThatCannotStart(WriterResource):
    """A writer whose setup fails in a run before any stage starts (a resource, not the
    asset). Sensors, which build every resource too, see it start."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run_id:
            raise ValueError("the writer's region is closed\nsecond line of detail")


def test_a_resource_that_cannot_start_is_the_reason_not_the_steps_that_failed() -> None:
    db = open_catalog()
    episode = enqueue(INTERVIEW, db)
    with dg.instance_for_test() as instance:
        report = tick(with_writer(WriterThatCannotStart()), instance, log_level="CRITICAL")
        assert len(report.failed) == 1
        # What the daemon's run-failure sensor makes of the same run.
        run = instance.get_run_by_id(report.failed[0])
        assert run is not None
        daemon_reason = run_end(instance, run).reason
    row = db.get(episode)
    assert row is not None and row["generation_status"] == "FAILED"
    expect = "resource writer could not start: ValueError: the writer's region is closed"
    for reason in (row["generation_error"], daemon_reason):
        assert reason == f"run {report.failed[0]} failed: {expect}", reason


def test_epochpod_run_prints_one_line_per_failed_episode(epochpod_home: Path) -> None:
    """Through the real command, whose code location is built from this environment: an
    episode over its budget fails before spending; `epochpod run` prints one line for it
    instead of Dagster's stack traces."""
    env = {
        **os.environ,
        "EPOCHPOD_WRITER": "openai",
        "OPENAI_API_KEY": "sk-test-not-used",
        # Nothing listens here, and nothing may be called: the budget stops the episode first.
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "EPOCHPOD_MAX_EPISODE_USD": "0",
    }
    episode = enqueue(INTERVIEW)
    done = subprocess.run(
        [sys.executable, "-m", "epochpod_assets.cli", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if " FAILED: " in line]
    assert failed == [line for line in failed if line.startswith(f"{episode} FAILED: ")]
    assert len(failed) == 1, done.stderr
    assert "research failed: over budget" in failed[0]
    assert "EPOCHPOD_MAX_EPISODE_USD" in failed[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.splitlines() == failed, done.stderr  # nothing but that line
    assert "1 run(s), 1 failed" in done.stdout


def test_debug_shows_dagster_s_log_of_the_failure(epochpod_home: Path) -> None:
    env = {
        **os.environ,
        "EPOCHPOD_WRITER": "openai",
        "OPENAI_API_KEY": "sk-test-not-used",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "EPOCHPOD_MAX_EPISODE_USD": "0",
    }
    enqueue(INTERVIEW)
    done = subprocess.run(
        [sys.executable, "-m", "epochpod_assets.cli", "run", "--debug"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "STEP_FAILURE" in done.stderr  # Dagster's own log, with the trace
