"""What the console benchmarks share: a real `dagster-daemon run` on PostgreSQL with the
production dagster.yaml exactly as shipped (its queue, dequeue interval, run launcher and
monitoring), and the run's own event times."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from benchmarks._common import scratch_database  # noqa: E402
from epochpod_assets.catalog import Catalog  # noqa: E402
from epochpod_assets_tests.support.daemon import (  # noqa: E402
    extra_database,
    pg_env,
    running_daemon,
    set_pool_limits,
    wait_for,
)


@dataclass
class Daemon:
    instance: dg.DagsterInstance
    db: Catalog
    env: dict[str, str]
    process: Any
    log: Path


@contextmanager
def production_daemon(extra_env: Mapping[str, str] | None = None) -> Iterator[Daemon]:
    """A daemon on throwaway PostgreSQL databases, DAGSTER_HOME/dagster.yaml = the repo's."""
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        dagster_url = stack.enter_context(scratch_database("console"))
        catalog_url = stack.enter_context(extra_database(dagster_url, "catalog"))
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
        env = {
            **pg_env(dagster_url),
            "DAGSTER_HOME": str(home),
            "EPOCHPOD_HOME": str(Path(tmp) / "epochpod"),
            "EPOCHPOD_DATABASE_URL": catalog_url,
            **(extra_env or {}),
        }
        os.environ.update(env)
        set_pool_limits(home, env)
        db = Catalog(catalog_url)
        db.migrate()
        log = Path(tmp) / "daemon.log"
        instance = dg.DagsterInstance.get()
        stack.callback(instance.dispose)
        with running_daemon(env, log) as process:
            daemon = Daemon(instance, db, env, process, log)
            # Ready when the queue sensor has ticked once: the code server is up and loaded.
            wait_for(lambda: _sensor_ticked(instance), 300, "the first sensor tick", process, log)
            yield daemon


def _sensor_ticked(instance: dg.DagsterInstance) -> bool:
    from dagster._core.scheduler.instigation import InstigatorType

    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == "episode_requests":
            return bool(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1))
    return False


def run_events(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """The first timestamp of each run-level event and of each step's start and success."""
    times: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        kind = entry.dagster_event_type
        if kind is None:
            continue
        key = kind.name + (f":{entry.step_key}" if entry.step_key else "")
        times.setdefault(key, entry.timestamp)
    return times


def run_seconds(instance: dg.DagsterInstance, run_id: str) -> float:
    """RUN_START -> RUN_SUCCESS: the run worker's whole execution."""
    events = run_events(instance, run_id)
    return events["RUN_SUCCESS"] - events["RUN_START"]


def wait_run_done(daemon: Daemon, run_id: str, timeout: float = 900) -> dg.DagsterRun:
    def done() -> dg.DagsterRun | None:
        run = daemon.instance.get_run_by_id(run_id)
        return run if run and run.is_finished else None

    return wait_for(done, timeout, f"run {run_id}", daemon.process, daemon.log)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):5.2f} s  p95 {percentile(values, 0.95):5.2f} s  "
        f"max {max(values):5.2f} s"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def now() -> float:
    return time.time()
