"""Work the queue in the foreground, without the Dagster daemon.

For single-box deployments, scripts and the demo: evaluate the real `episode_requests` sensor,
execute the runs it asks for in this process against the real Dagster instance, repeat. The runs
carry the same run-key and sensor tags the daemon would give them, so a daemon started later
will not launch them again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG

from epochpod_assets import settings
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.editorial.revise import EDIT_TAG
from epochpod_assets.lifecycle import failure_reason, settle_failed_run

SENSOR = "episode_requests"
# Editorial actions (approve, reject, import, one-line rewrite) have a sensor of their own.
SENSORS = (SENSOR, "episode_edits")
JOB = "generate_episode"


# The local instance (`make demo`, `make ui`): no telemetry, and the queue of the production
# dagster.yaml with its episode tags and format limits, polled often (a quiet box can afford it).
LOCAL_MARK = "# Written by epochpod for the local instance"
LOCAL_INSTANCE = f"""{LOCAL_MARK}; delete this line to keep your own edits.
telemetry:
  enabled: false
run_coordinator:
  module: epochpod_assets.coordinator
  class: EpisodeRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: epochpod/format
        value: ADVENTURE
        limit: 2
      - key: dagster/backfill
        limit: 2
"""
_OLD_LOCAL_INSTANCE = "telemetry:\n  enabled: false\n"


def write_local_instance() -> Path:
    """DAGSTER_HOME/dagster.yaml for the local instance, unless someone wrote their own."""
    found = settings.load()
    home = settings.ensure_folder(
        found.dagster_root, "DAGSTER_HOME" if found.dagster_home else "EPOCHPOD_HOME"
    )
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or current == _OLD_LOCAL_INSTANCE or current.startswith(LOCAL_MARK):
        config.write_text(LOCAL_INSTANCE)
    return home


def dagster_instance() -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME, by default a folder under EPOCHPOD_HOME."""
    home = write_local_instance()
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


@dataclass
class WorkReport:
    launched: list[str] = field(default_factory=list)  # run ids
    skipped: list[str] = field(default_factory=list)  # run keys that already had a run
    failed: list[str] = field(default_factory=list)  # run ids that failed


def tick(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    on_run: Callable[[str, str], None] | None = None,
    log_level: str = "INFO",
) -> WorkReport:
    """One sensor evaluation and the runs it requests, executed one after another."""
    report = WorkReport()
    for name in SENSORS:
        _tick_sensor(defs, instance, name, report, on_run, log_level)
    return report


def _tick_sensor(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    report: WorkReport,
    on_run: Callable[[str, str], None] | None,
    log_level: str,
) -> None:
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=instance, sensor_name=name, definitions=defs, resources=defs.resources
    ) as context:
        # The sensor's own log at the level asked for the runs (`epochpod run` and the demo
        # print their own lines; --debug brings both back).
        context.log.setLevel(log_level)
        # No listening for requests within the tick: this loop ticks again by itself. (Imported
        # here: the sensors read their schedule settings at import, which `epochpod status`
        # and the other commands that import this module have no need of.)
        from epochpod_assets.defs.sensors import take_requests

        result = (
            take_requests(context, _catalog(defs).get(), wait_seconds=0)
            if name == SENSOR
            else sensor(context)
        )
    assert isinstance(result, dg.SensorResult)
    for partitions_request in result.dynamic_partitions_requests or []:
        if isinstance(partitions_request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(
                partitions_request.partitions_def_name, list(partitions_request.partition_keys)
            )
    for request in result.run_requests or []:
        assert request.run_key and request.partition_key
        if _run_exists(instance, request.run_key, name):
            report.skipped.append(request.run_key)
            continue
        if on_run:
            on_run(request.partition_key, request.run_key)
        job = defs.resolve_job_def(request.job_name or JOB)
        outcome = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags={**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: name},
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        report.launched.append(outcome.run_id)
        if not outcome.success:
            report.failed.append(outcome.run_id)
            # What the daemon's run-failure sensor would do for a run that died outside an asset.
            settle_failed_run(
                _catalog(defs).get(),
                request.partition_key,
                outcome.run_id,
                # The failed step's own error, not the run's "Steps failed: [...]".
                failure_reason(outcome.all_events),
                edit_id=request.tags.get(EDIT_TAG),
            )


def _catalog(defs: dg.Definitions) -> CatalogResource:
    catalog = (defs.resources or {})["catalog"]
    assert isinstance(catalog, CatalogResource)
    return catalog


def work_queue(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    watch: bool = False,
    poll_seconds: float = 5.0,
    on_run: Callable[[str, str], None] | None = None,
    log_level: str = "INFO",
    reports: bool = False,
) -> WorkReport:
    """Tick until the queue is empty (or forever with `watch`).

    With `reports`, the feed and the cost report are rebuilt after each tick that published
    an episode: without the daemon, nothing else would run the automation that rebuilds them.
    """
    total = WorkReport()
    while True:
        report = tick(defs, instance, on_run, log_level)
        total.launched += report.launched
        total.skipped += report.skipped
        total.failed += report.failed
        if reports and len(report.launched) > len(report.failed):
            rebuild_reports(defs, instance, log_level)
        if not report.launched:
            if not watch:
                return total
            time.sleep(poll_seconds)


REPORTS = "reports"


def rebuild_reports(
    defs: dg.Definitions, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> bool:
    """Materialize the show-level reports (podcast_feed, generation_costs) in this process,
    recorded in the instance like any run, so the daemon's automation sees them as handled."""
    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.materializable_asset_keys if graph.get(key).group_name == REPORTS]
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    assert job is not None
    outcome = job.execute_in_process(
        instance=instance,
        asset_selection=keys,
        tags={"epochpod/kind": "reports"},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    return outcome.success


def feed_location(defs: dg.Definitions) -> str:
    """Where the podcast feed is: a path for the local folder, else its URL."""
    from epochpod_assets.console import audio_location
    from epochpod_assets.defs.assets.feed import FEED_KEY
    from epochpod_assets.defs.resources import MediaResource

    media = (defs.resources or {})["media"]
    assert isinstance(media, MediaResource)
    return audio_location(media.get().url(FEED_KEY))


def _run_exists(instance: dg.DagsterInstance, run_key: str, sensor: str = SENSOR) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=5)
    return any(run.tags.get(SENSOR_NAME_TAG) == sensor for run in runs)
