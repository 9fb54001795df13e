"""What the reliability tests and benchmarks share: the OpenAI environment for subprocesses,
bulk loading of the queue, and counting what a tick does to the database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.schema import episodes
from epochpod_assets.catalog.store import new_episode_id, placeholder_title
from epochpod_assets.formats import registry
from epochpod_assets.requests import parse_request
from epochpod_assets.status import Stage
from epochpod_assets_tests.scenarios.test_openai_pipeline import (
    KEY,
    LLM_MODEL,
    REQUESTS,
    TTS_MODEL,
    assert_catalog_matches_server,
    catalog_ledger,
    distinct_request,
    template_responder,
)

__all__ = [
    "KEY",
    "REQUESTS",
    "assert_catalog_matches_server",
    "catalog_ledger",
    "distinct_request",
    "template_responder",
]


def openai_environ(base_url: str, timeout: float = 5.0, max_retries: int = 3) -> dict[str, str]:
    """The environment a production deployment sets, pointed at a FakeOpenAI (for processes
    that build their resources from the environment at import)."""
    return {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": base_url,
        "EPOCHPOD_LLM_MODEL": LLM_MODEL,
        "EPOCHPOD_TTS_MODEL": TTS_MODEL,
        "EPOCHPOD_OPENAI_TIMEOUT": str(timeout),
        "EPOCHPOD_OPENAI_MAX_RETRIES": str(max_retries),
        "EPOCHPOD_WRITER": "openai",
        "EPOCHPOD_VOICE": "openai",
    }


def bulk_enqueue(db: Catalog, count: int, request: dict[str, Any] | None = None) -> list[str]:
    """`count` PENDING requests in one statement per thousand (setup for scale tests; each row
    is what `enqueue` would write for a validated request), oldest first."""
    valid = parse_request(request or REQUESTS["interview"])
    body = valid.model_dump(mode="json")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    for n in range(count):
        created = start + dt.timedelta(microseconds=n)
        episode_id = f"{new_episode_id()}{n:06d}"[:40]
        ids.append(episode_id)
        rows.append(
            {
                "id": episode_id,
                "type": registry.episode_type(valid.format),
                "status": "DRAFT",
                "title": placeholder_title(valid),
                "request": body,
                "generation_status": Stage.PENDING.value,
                "generation_progress": 0,
                "created_at": created,
                "updated_at": created,
            }
        )
    with db.engine.begin() as conn:
        for chunk in range(0, len(rows), 1000):
            conn.execute(episodes.insert(), rows[chunk : chunk + 1000])
    return ids


@dataclass
class StatementLog:
    """Every statement an engine ran while `recording`, with its parameters."""

    statements: list[tuple[str, Any]] = field(default_factory=list)

    def selects_of_episodes(self) -> list[tuple[str, Any]]:
        return [
            (s, p)
            for s, p in self.statements
            if s.lstrip().upper().startswith("SELECT") and "FROM episodes" in s
        ]


@contextmanager
def recording(engine: sa.Engine) -> Iterator[StatementLog]:
    log = StatementLog()

    def before(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        log.statements.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def rows_examined(engine: sa.Engine, statement: str, params: Any) -> int:
    """How many table rows PostgreSQL read to answer `statement` (EXPLAIN ANALYZE: rows each
    scan returned plus rows its filter threw away), however the plan gets them."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params)
        plan = cursor.fetchone()[0]
        cursor.close()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return _scanned(plan[0]["Plan"])


def _scanned(node: dict[str, Any]) -> int:
    total = 0
    if "Scan" in node["Node Type"] and node.get("Relation Name") == "episodes":
        loops = int(node.get("Actual Loops", 1))
        total += loops * (int(node["Actual Rows"]) + int(node.get("Rows Removed by Filter", 0)))
    for child in node.get("Plans", []):
        total += _scanned(child)
    return total


# -- the queue under load ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """One evaluation of the `episode_requests` sensor."""

    seconds: float
    run_keys: list[str]
    statements: int  # SQL statements the tick sent to the catalog
    rows_examined: int | None  # rows PostgreSQL read for the tick's queue query (None: unknown)


def evaluate_sensor(url: str, instance: Any, explain: bool = False) -> Tick:
    """One tick of the real sensor against the catalog at `url`, without launching runs."""
    import time

    import dagster as dg

    from epochpod_assets.defs import sensors
    from epochpod_assets.defs.resources import CatalogResource

    resource = CatalogResource(database_url=url)
    engine = resource.get().engine
    examined: int | None = None
    if explain:
        # The queue query as this tick will send it, measured before the tick changes the rows.
        examined = rows_examined(engine, *query_and_params(resource.get()))
    context = dg.build_sensor_context(instance=instance, resources={"catalog": resource})
    with recording(engine) as log:
        started = time.perf_counter()
        result = sensors.episode_requests(context)
        seconds = time.perf_counter() - started
    assert isinstance(result, dg.SensorResult)
    keys = [r.run_key or "" for r in result.run_requests or []]
    return Tick(seconds, keys, len(log.statements), examined)


def query_and_params(db: Catalog) -> tuple[str, Any]:
    """The statement and parameters `Catalog.pending` sends for the sensor's batch."""
    from epochpod_assets.defs import sensors

    with recording(db.engine) as log:
        db.pending(limit=sensors.BATCH_SIZE, lease=sensors.LEASE)
    statement, params = log.selects_of_episodes()[-1]
    return statement, params


def drain(url: str, instance: Any, explain: bool = False, max_ticks: int = 100_000) -> list[Tick]:
    """Tick until the sensor asks for nothing; every tick, the empty one last included."""
    ticks: list[Tick] = []
    for _ in range(max_ticks):
        tick = evaluate_sensor(url, instance, explain)
        ticks.append(tick)
        if not tick.run_keys:
            return ticks
    raise AssertionError("the queue never drained")


# -- many episodes through faulty providers --------------------------------------------------------


@dataclass(frozen=True)
class FaultOutcome:
    episode_ids: list[str]
    rows: dict[str, dict[str, Any]]
    runs_per_episode: dict[str, int]
    relaunched: int  # runs a second pass over the queue launched (must be 0)
    stats: Any  # the server's Stats
    seconds: float


@contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    import os

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_fault_queue(count: int, faults: Any, seed: int, instance: Any) -> FaultOutcome:
    """`count` distinct episodes of mixed formats enqueued, then worked off the queue by the
    real sensor and runs (`worker.work_queue`) through a FakeOpenAI that injects `faults`."""
    import time

    import dagster as dg

    from epochpod_assets import enqueue
    from epochpod_assets.definitions import defs
    from epochpod_assets.defs.resources import resources_from_env
    from epochpod_assets.intake import open_catalog
    from epochpod_assets.worker import work_queue
    from epochpod_assets_tests.support.fake_openai import FakeOpenAI

    kinds = ["interview", "debate", "adventure"]
    with FakeOpenAI(api_key=KEY, responder=template_responder, faults=faults, seed=seed) as fake:
        # Spikes stay under the timeout: a spike past it is billed by the server although the
        # client gave up, and the ledgers could not agree.
        with environ(openai_environ(fake.base_url, timeout=2.0, max_retries=8)):
            # The code location's assets, jobs and sensors; resources from this environment.
            location = dg.Definitions(
                assets=defs.assets,
                jobs=defs.jobs,
                sensors=defs.sensors,
                resources={**(defs.resources or {}), **resources_from_env()},
            )
            db = open_catalog()
            ids = [enqueue(distinct_request(kinds[n % 3], n), db) for n in range(1, count + 1)]
            started = time.monotonic()
            work_queue(location, instance, log_level="ERROR")
            seconds = time.monotonic() - started
            again = work_queue(location, instance, log_level="ERROR")
        stats = fake.stats()
    runs: dict[str, int] = {i: 0 for i in ids}
    for run in instance.get_runs():
        episode = run.tags.get("epochpod/episode_id")
        if episode in runs:
            runs[episode] += 1
    rows = {i: db.get(i) or {} for i in ids}
    return FaultOutcome(ids, rows, runs, len(again.launched), stats, seconds)
