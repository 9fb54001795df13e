"""Every job of the code location runs in process: the sensor's, the asset jobs Dagster builds
for UI materializations and backfills, `request_episode`, the editorial jobs."""

from __future__ import annotations

import dagster as dg
import pytest

from epochpod_assets import settings
from epochpod_assets.definitions import defs
from epochpod_assets.defs.jobs import executor


def test_every_job_of_the_code_location_runs_in_process() -> None:
    jobs = defs.resolve_all_job_defs()
    names = {job.name for job in jobs}
    # The implicit asset job is what the UI's Materialize and every backfill run.
    assert {"generate_episode", "request_episode", "__ASSET_JOB"} <= names
    for job in jobs:
        assert job.executor_def is dg.in_process_executor, job.name


def test_a_deployment_can_ask_for_a_process_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPOCHPOD_EXECUTOR", "multiprocess")
    settings.reload()
    assert executor() is dg.multiprocess_executor
    monkeypatch.setenv("EPOCHPOD_EXECUTOR", "threads")
    with pytest.raises(settings.SettingsError, match="EPOCHPOD_EXECUTOR"):
        settings.reload()
    monkeypatch.delenv("EPOCHPOD_EXECUTOR")
    settings.reload()
