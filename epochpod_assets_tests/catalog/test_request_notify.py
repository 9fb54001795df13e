"""The queue wakes its listener: a row becoming PENDING, written by anyone, ends the queue
sensor's wait at once (PostgreSQL NOTIFY), and a tick takes the request without waiting for
the daemon's next pass."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs.sensors import take_requests

LEASE = dt.timedelta(minutes=10)
REQUEST = {"format": "interview", "guest_name": "Ada Lovelace", "topic": "engines"}


@pytest.fixture
def postgres_catalog(postgres_url: str) -> Iterator[Catalog]:
    db = Catalog(postgres_url)
    db.migrate()
    yield db
    db.engine.dispose()


def enqueue_later(db: Catalog, seconds: float) -> list[str]:
    ids: list[str] = []
    timer = threading.Timer(seconds, lambda: ids.append(enqueue(REQUEST, db)))
    timer.start()
    return ids


@pytest.mark.postgres
def test_a_request_written_during_the_wait_ends_it_at_once(postgres_catalog: Catalog) -> None:
    with postgres_catalog.listening_for_requests() as wait:
        assert not wait(0.2), "nothing was written"
        ids = enqueue_later(postgres_catalog, 0.3)
        started = time.monotonic()
        woke = wait(10.0)
        waited = time.monotonic() - started
    assert woke and waited < 5.0, f"waited {waited:.2f} s"
    assert [row["id"] for row in postgres_catalog.pending(10, LEASE)] == ids


@pytest.mark.postgres
def test_a_retry_that_makes_a_row_pending_again_wakes_the_listener(
    postgres_catalog: Catalog,
) -> None:
    episode_id = enqueue(REQUEST, postgres_catalog)
    with postgres_catalog.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE episodes SET generation_status = 'FAILED' WHERE id = %s", (episode_id,)
        )
    with postgres_catalog.listening_for_requests() as wait:
        threading.Timer(0.2, postgres_catalog.requeue, (episode_id,)).start()
        assert wait(10.0)


@pytest.mark.postgres
def test_the_sensor_tick_takes_a_request_that_arrives_while_it_listens(
    postgres_catalog: Catalog,
) -> None:
    ids = enqueue_later(postgres_catalog, 0.3)
    with dg.build_sensor_context() as context:
        result = take_requests(context, postgres_catalog, wait_seconds=4.0)
    assert [r.partition_key for r in result.run_requests or []] == ids


def test_sqlite_has_no_notifications_so_the_tick_never_waits(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    started = time.monotonic()
    with dg.build_sensor_context() as context:
        result = take_requests(context, catalog, wait_seconds=4.0)
    assert not result.run_requests and time.monotonic() - started < 2.0
