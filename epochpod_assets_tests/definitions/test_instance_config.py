"""The production dagster.yaml loads against a real PostgreSQL, with every setting in force."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from epochpod_assets_tests.support.daemon import pg_env

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_YAML = REPO / "dagster.yaml"
DAGSTER = Path(sys.executable).with_name("dagster")


@pytest.fixture
def production_home(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    for name, value in pg_env(postgres_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home


@pytest.mark.postgres
def test_production_instance_loads_on_postgres(production_home: Path) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    from epochpod_assets.coordinator import EpisodeRunCoordinator

    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.run_coordinator, EpisodeRunCoordinator)

        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == 8
        limits = {(t["key"], t.get("value")): t["limit"] for t in queue.tag_concurrency_limits}
        assert limits[("epochpod/format", "ADVENTURE")] == 2
        assert limits[("dagster/backfill", None)] == 4

        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 4
        assert pools.pool_granularity is not None and pools.pool_granularity.value == "op"

        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 600
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure

        # It really talks to the database: a run written here is read back.
        run = instance.create_run_for_job(
            dg.GraphDefinition(name="noop", node_defs=[]).to_job(), run_config={}
        )
        assert instance.get_run_by_id(run.run_id) is not None
        # Storing an event also NOTIFYs run watchers: the driver must accept that statement.
        instance.report_engine_event("instance check", run)
        logs = instance.all_logs(run.run_id)
        assert any(entry.message == "instance check" for entry in logs)


@pytest.mark.postgres
def test_pool_limits_are_set_with_the_documented_command(production_home: Path) -> None:
    """dagster.yaml only holds the default pool limit; the per-pool ones are set with
    `dagster instance concurrency set`, as its comment says. Check that command works here."""
    env = {**os.environ}
    for pool, limit in (("llm", "6"), ("tts", "3")):
        subprocess.run(
            [str(DAGSTER), "instance", "concurrency", "set", pool, limit],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    info = subprocess.run(
        [str(DAGSTER), "instance", "info"], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert "run_storage: PostgresRunStorage" in info
    assert "max_runtime_seconds: 600" in info
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        assert instance.event_log_storage.get_concurrency_info("llm").slot_count == 6
        assert instance.event_log_storage.get_concurrency_info("tts").slot_count == 3
        # The assets ask for exactly these pools.
        from epochpod_assets.definitions import defs

        pools = {
            spec.key.path[-1]: spec.pools
            for spec in defs.resolve_asset_graph().asset_nodes
            if spec.key.path[-1].startswith("episode_")
        }
        assert pools["episode_outline"] == {"llm"}
        assert pools["episode_audio"] == {"tts"}


ECS_YAML = REPO / "deploy" / "ecs" / "dagster.yaml"


def test_ecs_scale_out_config_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy/ecs instance passes Dagster's own instance schema, and each pluggable class
    (queued coordinator, EcsRunLauncher, S3 compute logs) accepts its section. Building the
    launcher itself needs a running ECS task, so the schemas are what we can check here."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    from epochpod_assets.coordinator import EpisodeRunCoordinator

    home = tmp_path / "ecs_home"
    home.mkdir()
    shutil.copy(ECS_YAML, home / "dagster.yaml")
    monkeypatch.setenv("EPOCHPOD_LOG_BUCKET", "epochpod-logs")
    config, _ = dagster_instance_config(str(home))  # the whole-file schema and its checks
    raw = yaml.safe_load(ECS_YAML.read_text())
    assert isinstance(raw, dict)
    for section, cls in (
        ("run_launcher", EcsRunLauncher),
        ("run_coordinator", EpisodeRunCoordinator),
        ("compute_logs", S3ComputeLogManager),
    ):
        assert f"{raw[section]['module']}.{raw[section]['class']}".endswith(cls.__name__)
        result = process_config(cls.config_type(), raw[section]["config"])
        assert result.success, (section, [e.message for e in result.errors or []])
    launcher = process_config(EcsRunLauncher.config_type(), raw["run_launcher"]["config"]).value
    assert launcher is not None
    # Secrets reach run tasks through Secrets Manager, never as plain variables.
    assert not any("KEY" in name for name in launcher["env_vars"])
    assert launcher["propagate_tags"]["allow_list"] == ["epochpod/episode_id", "epochpod/format"]
    # The same guarantees as the single-box instance.
    assert config["run_monitoring"]["max_runtime_seconds"] == 600
    assert config["run_retries"]["enabled"] and config["storage"]["postgres"]
