"""A real `dagster-daemon run` on a PostgreSQL-backed instance, for end-to-end tests.

The instance's dagster.yaml is the production one with the polling made fast enough for a
test; everything else (postgres storage, queued coordinator, pools, run monitoring) is as
shipped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]
DAEMON = Path(sys.executable).with_name("dagster-daemon")
T = TypeVar("T")


def pg_env(postgres_url: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables the production dagster.yaml reads."""
    url = sa.make_url(postgres_url)
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.database or "",
    }


def write_test_instance(home: Path, **run_monitoring: int) -> Path:
    """DAGSTER_HOME/dagster.yaml: production settings, test-speed polling."""
    config: dict[str, Any] = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["run_coordinator"]["config"]["dequeue_interval_seconds"] = 1
    config["run_monitoring"].update({"poll_interval_seconds": 1, **run_monitoring})
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def set_pool_limits(home: Path, env: Mapping[str, str], llm: int = 6, tts: int = 3) -> None:
    """What a deployment does once (`dagster instance concurrency set llm 6`, `... tts 3`).

    Also needed for correctness: a pool first used by two runs at once is created from
    `default_limit` by both, and on PostgreSQL the loser's transaction aborts and fails its run
    (dagster 1.13, `initialize_concurrency_limit_to_default`). Pools set up front avoid that.
    """
    import dagster as dg

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.set_concurrency_slots("llm", llm)
            instance.event_log_storage.set_concurrency_slots("tts", tts)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def daemon_environment(
    home: Path,
    postgres_url: str,
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
    **extra: str,
) -> dict[str, str]:
    """A PostgreSQL-backed instance in `home` with the pools a deployment sets up once, and
    the environment a daemon test runs with (test-speed sensor and sweeper intervals, plus
    `extra`), set in this process for the test (and returned, for the daemon)."""
    env = {
        **pg_env(postgres_url),
        "DAGSTER_HOME": str(home),
        "EPOCHPOD_DATABASE_URL": catalog_url,
        "EPOCHPOD_SENSOR_INTERVAL_SECONDS": "1",
        "EPOCHPOD_SWEEPER_INTERVAL_SECONDS": "5",
        # As shipped (conftest turns it off for the sensor ticks tests run in process).
        "EPOCHPOD_SENSOR_WAIT_SECONDS": "4",
        **extra,
    }
    if not (home / "dagster.yaml").exists():
        write_test_instance(home)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    set_pool_limits(home, env)
    return env


@contextmanager
def running_daemon(env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run` on workspace.yaml, stopped (SIGTERM, then SIGKILL) on exit.

    It runs in its own session so that stopping it also stops the run workers it started, and
    nothing else. Its code server starts a session of its own, so that is stopped by name: the
    one serving this DAGSTER_HOME, left behind even when a test killed the daemon alone.
    """
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [str(DAEMON), "run", "-w", str(REPO / "workspace.yaml")],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield daemon
        finally:
            stop(daemon)
            stop_code_servers(env.get("DAGSTER_HOME") or os.environ["DAGSTER_HOME"])


def stop_code_servers(dagster_home: str, grace_seconds: float = 30.0) -> None:
    """SIGTERM (then SIGKILL) the `dagster api grpc` servers of the instance at `dagster_home`.

    An orphaned code server waits for its run workers and, once the test drops its database,
    retries the connection forever: it would outlive the test by hours.
    """
    pids = [
        pid for pid, cmdline in _processes() if "api grpc" in cmdline and dagster_home in cmdline
    ]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _processes() -> Iterator[tuple[int, str]]:
    """(pid, command line) of every process this user can see (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:  # it exited meanwhile
                continue
            yield int(entry.name), command.replace(b"\0", b" ").decode(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 30.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    daemon: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    poll: float = 0.25,
) -> T:
    """Poll `check` until it returns something truthy; fail with the daemon's log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if daemon is not None and daemon.poll() is not None:
            break
        time.sleep(poll)
    tail = log.read_text(errors="replace")[-6000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n--- daemon log ---\n{tail}")


@contextmanager
def extra_database(postgres_url: str, name_suffix: str) -> Iterator[str]:
    """Another empty database beside `postgres_url`'s (the catalog and Dagster each keep an
    `alembic_version` table, so they cannot share one)."""
    url = sa.make_url(postgres_url)
    name = f"{url.database}_{name_suffix}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class EpisodeTiming:
    """Where the time of one episode went, from the catalog row and its run's events."""

    episode_id: str
    type: str
    enqueue_to_completed: float  # created_at -> generation_completed_at
    enqueue_to_run_created: float  # sensor pickup: created_at -> run created
    run_created_to_started: float  # queue, dequeue and run-worker start-up
    run_wall: float  # RUN_START -> RUN_SUCCESS
    compute: float  # sum of STEP_START -> STEP_SUCCESS over the run's steps

    @property
    def overhead(self) -> float:
        """Everything that is not asset compute: orchestration's share of enqueue -> done."""
        return self.enqueue_to_completed - self.compute

    @property
    def in_run_overhead(self) -> float:
        return self.run_wall - self.compute


def episode_timing(instance: Any, row: Mapping[str, Any]) -> EpisodeTiming:
    import dagster as dg

    run_id = row["generation_job_id"]
    record = instance.get_run_record_by_id(run_id)
    events = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.RUN_START,
            dg.DagsterEventType.RUN_SUCCESS,
        },
    ).records
    step_start: dict[str, float] = {}
    compute = 0.0
    run_start = run_end = 0.0
    for event in events:
        entry = event.event_log_entry
        kind = entry.dagster_event_type
        if kind == dg.DagsterEventType.STEP_START:
            step_start[entry.step_key or ""] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            compute += entry.timestamp - step_start.pop(entry.step_key or "", entry.timestamp)
        elif kind == dg.DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif kind == dg.DagsterEventType.RUN_SUCCESS:
            run_end = entry.timestamp
    created = row["created_at"].timestamp()
    return EpisodeTiming(
        episode_id=row["id"],
        type=row["type"],
        enqueue_to_completed=row["generation_completed_at"].timestamp() - created,
        enqueue_to_run_created=record.create_timestamp.timestamp() - created,
        run_created_to_started=run_start - record.create_timestamp.timestamp(),
        run_wall=run_end - run_start,
        compute=compute,
    )


def timing_table(timings: list[EpisodeTiming]) -> str:
    lines = [
        "episode                     type       enqueue->done  pickup  start   run   compute"
        "  overhead",
    ]
    for t in timings:
        lines.append(
            f"{t.episode_id:<27} {t.type:<10} {t.enqueue_to_completed:>12.1f}s "
            f"{t.enqueue_to_run_created:>6.1f}s {t.run_created_to_started:>5.1f}s "
            f"{t.run_wall:>5.1f}s {t.compute:>7.1f}s {t.overhead:>8.1f}s"
        )
    n = len(timings) or 1
    lines.append(
        f"mean{'':<34}{sum(t.enqueue_to_completed for t in timings) / n:>12.1f}s "
        f"{sum(t.enqueue_to_run_created for t in timings) / n:>6.1f}s "
        f"{sum(t.run_created_to_started for t in timings) / n:>5.1f}s "
        f"{sum(t.run_wall for t in timings) / n:>5.1f}s "
        f"{sum(t.compute for t in timings) / n:>7.1f}s "
        f"{sum(t.overhead for t in timings) / n:>8.1f}s"
    )
    return "\n".join(lines)
