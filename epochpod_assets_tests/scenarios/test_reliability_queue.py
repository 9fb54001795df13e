"""Invariant 2 under load, on PostgreSQL: four processes enqueue at once and the sensor, ticking
while they write, asks for every request exactly once; a queue of thousands drains in bounded
ticks, each request launched once. Full sizes: `benchmarks/concurrent_enqueue.py` and
`benchmarks/queue_scale.py`."""

from __future__ import annotations

import multiprocessing
import os
import statistics
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import pytest
import sqlalchemy as sa

from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.schema import episodes
from epochpod_assets.defs import sensors
from epochpod_assets_tests.support.enqueuer import enqueue_many
from epochpod_assets_tests.support.reliability import bulk_enqueue, drain, evaluate_sensor

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

PROCESSES = 4
PER_PROCESS = 250
# CI size of the queue-scale scenario; the benchmark runs 100 -> 10,000.
QUEUE_SIZES = (100, int(os.environ.get("EPOCHPOD_RELIABILITY_QUEUE", "2000")))
BATCH = 50


@pytest.fixture
def db(postgres_url: str) -> Iterator[Catalog]:
    catalog = Catalog(postgres_url)
    catalog.migrate()
    yield catalog
    catalog.engine.dispose()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def count_rows(db: Catalog) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(episodes)).scalar_one())


def test_four_processes_enqueue_1000_and_the_sensor_asks_for_each_once(
    postgres_url: str,
    db: Catalog,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sensors, "BATCH_SIZE", BATCH)
    keys: list[str] = []
    ticks_during = 0
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(PROCESSES, mp_context=spawn) as pool:
        start = manager.Barrier(PROCESSES)
        futures = [
            pool.submit(enqueue_many, postgres_url, PER_PROCESS, start, worker)
            for worker in range(PROCESSES)
        ]
        # The sensor ticks while the writers write: rows committed after a tick's query (with
        # earlier created_at than rows it saw) must still be picked up, once.
        while not all(f.done() for f in futures):
            tick = evaluate_sensor(postgres_url, instance)
            assert len(tick.run_keys) <= BATCH
            keys += tick.run_keys
            ticks_during += 1
        written = [episode_id for f in futures for episode_id in f.result()]
    ticks = drain(postgres_url, instance)
    keys += [k for t in ticks for k in t.run_keys]

    assert len(written) == len(set(written)) == PROCESSES * PER_PROCESS
    assert count_rows(db) == PROCESSES * PER_PROCESS
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates, duplicates[:5]
    assert sorted(keys) == sorted(f"{episode_id}:0" for episode_id in written)
    assert all(len(t.run_keys) <= BATCH for t in ticks)
    print(f"\n{len(keys)} run requests, {ticks_during} ticks during the writes")


@pytest.fixture
def queue_figures() -> Iterator[dict[int, list[float]]]:
    figures: dict[int, list[float]] = {}
    yield figures
    for size, seconds in figures.items():
        print(
            f"\nqueue {size:>6}: {len(seconds)} ticks, median "
            f"{statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"
        )


def test_a_long_queue_drains_in_bounded_ticks_each_request_once(
    postgres_url: str,
    db: Catalog,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    queue_figures: dict[int, list[float]],
) -> None:
    monkeypatch.setattr(sensors, "BATCH_SIZE", BATCH)
    statements: set[int] = set()
    total = 0
    for size in QUEUE_SIZES:
        ids = bulk_enqueue(db, size)
        total += size
        with db.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE episodes"))
        ticks = drain(postgres_url, instance)
        keys = [k for t in ticks for k in t.run_keys]
        assert keys == [f"{i}:0" for i in ids], "each request once, oldest first"
        full = ticks[:-1]
        assert len(full) == -(-size // BATCH)
        assert all(len(t.run_keys) <= BATCH for t in full)
        # A tick's work does not depend on the queue's length: the same statements each time.
        statements |= {t.statements for t in full if len(t.run_keys) == BATCH}
        queue_figures[size] = [t.seconds for t in full]
    assert len(statements) == 1, statements
    assert count_rows(db) == total
    assert not drain(postgres_url, instance)[0].run_keys, "nothing is asked for twice"


def test_every_tick_examines_a_bounded_number_of_rows(
    postgres_url: str,
    db: Catalog,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sensors, "BATCH_SIZE", BATCH)
    size = QUEUE_SIZES[-1]
    bulk_enqueue(db, size)
    with db.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE episodes"))

    ticks = drain(postgres_url, instance, explain=True)

    examined = [t.rows_examined or 0 for t in ticks]
    print(f"\nrows examined per tick ({size} queued): first {examined[:3]}, last {examined[-3:]}")
    # The runs the sensor asked for are still queued (their rows PENDING): a bounded tick
    # reads its batch and a little more, whatever is waiting ahead of it.
    assert max(examined) <= 3 * BATCH, examined
