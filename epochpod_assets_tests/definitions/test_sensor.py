"""The episode_requests sensor: creation order, bounded batches, at-most-once launch, and no
request lost when a tick dies half way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from epochpod_assets import enqueue
from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.schema import episodes
from epochpod_assets.definitions import defs
from epochpod_assets.defs import sensors
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.intake import open_catalog
from epochpod_assets.worker import tick

REQUEST = {
    "format": "interview",
    "guest_name": "Ada Lovelace",
    "topic": "engines",
    "target_minutes": 1,
}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(instance: dg.DagsterInstance, url: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, resources={"catalog": CatalogResource(database_url=url)}
    )
    result = sensors.episode_requests(context)
    assert isinstance(result, dg.SensorResult)
    return result


def keys(result: dg.SensorResult) -> list[str]:
    return [r.run_key for r in result.run_requests or [] if r.run_key]


def test_batches_in_creation_order_and_adds_partitions(
    instance: dg.DagsterInstance, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensors, "BATCH_SIZE", 3)
    db = Catalog(catalog_url)
    db.migrate()
    ids = [enqueue(REQUEST, db) for _ in range(7)]
    seen = []
    for expected in (3, 3, 1, 0):
        result = evaluate(instance, catalog_url)
        assert len(result.run_requests or []) == expected
        batch = [r.partition_key for r in result.run_requests or []]
        if batch:
            (add,) = result.dynamic_partitions_requests or []
            assert isinstance(add, dg.AddDynamicPartitionsRequest)
            assert list(add.partition_keys) == batch
        seen += batch
    assert seen == ids
    first = evaluate(instance, catalog_url)
    assert not first.run_requests, "a requested episode is not requested again within its lease"


def test_a_tick_that_dies_before_marking_loses_nothing(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [enqueue(REQUEST) for _ in range(2)]

    def crash(self: Catalog, episode_ids: list[str]) -> None:
        raise RuntimeError("daemon killed")

    with monkeypatch.context() as m:
        m.setattr(Catalog, "mark_queued", crash)
        with pytest.raises(RuntimeError):
            evaluate(instance)
    assert [r.partition_key for r in evaluate(instance).run_requests or []] == ids


def test_a_tick_whose_result_is_lost_is_asked_again_after_the_lease_with_the_same_run_key(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode_id = enqueue(REQUEST)
    lost = keys(evaluate(instance))  # marked as requested, but the daemon died with the result
    assert lost == [f"{episode_id}:0"]
    assert keys(evaluate(instance)) == []
    monkeypatch.setattr(sensors, "LEASE", dt.timedelta(0))
    assert keys(evaluate(instance)) == lost, "same run key, so Dagster launches it only once"


def test_regeneration_gets_a_new_run_key(instance: dg.DagsterInstance) -> None:
    episode_id = enqueue(REQUEST)
    assert keys(evaluate(instance)) == [f"{episode_id}:0"]
    db = open_catalog()
    db.fail(episode_id, "boom")
    assert db.requeue(episode_id) == 1
    assert keys(evaluate(instance)) == [f"{episode_id}:1"]


def test_a_malformed_row_fails_and_the_rest_are_served(instance: dg.DagsterInstance) -> None:
    db = open_catalog()
    good = enqueue(REQUEST, db)
    now = dt.datetime.now(dt.UTC)
    with db.engine.begin() as conn:
        conn.execute(
            episodes.insert().values(
                id="ep-broken",
                type="INTERVIEW",
                title="x",
                created_at=now - dt.timedelta(seconds=1),
                updated_at=now,
                request={"format": "interview", "topic": "no guest"},
            )
        )
    assert [r.partition_key for r in evaluate(instance).run_requests or []] == [good]
    row = db.get("ep-broken")
    assert row is not None and row["generation_status"] == "FAILED"
    assert "guest_name: is required" in row["generation_error"]


@pytest.mark.slow
def test_worker_never_launches_a_run_key_twice(instance: dg.DagsterInstance) -> None:
    episode_id = enqueue(REQUEST)
    first = tick(defs, instance, log_level="ERROR")
    assert len(first.launched) == 1 and not first.failed
    db = open_catalog()
    # As if the sensor's mark were lost: the row looks unrequested again.
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(episodes)
            .where(episodes.c.id == episode_id)
            .values(generation_status="PENDING", queued_at=None)
        )
    second = tick(defs, instance, log_level="ERROR")
    assert second.launched == [] and second.skipped == [f"{episode_id}:0"]
    assert len(instance.get_runs()) == 1
