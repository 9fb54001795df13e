"""Issue 5's daemon figures: enqueue -> COMPLETED time and orchestration overhead per episode,
with five requests of mixed formats under a real `dagster-daemon run` on PostgreSQL.

    .venv/bin/python benchmarks/daemon_e2e.py [--postgres postgresql://postgres@127.0.0.1/test]
                                              [--sensor-interval 1] [--s3]

Creates two throwaway databases beside the one given (Dagster's and the catalog's), writes a
DAGSTER_HOME from the production dagster.yaml with test-speed polling, starts the daemon,
enqueues the same five requests as the daemon test, waits until all are published, and prints
one line per episode:

    enqueue->done  created_at -> generation_completed_at
    pickup         created_at -> run created by the sensor (bounded below by the interval)
    start          run created -> RUN_START (dequeue, run worker process start-up)
    run            RUN_START -> RUN_SUCCESS
    compute        sum of STEP_START -> STEP_SUCCESS (the assets' own work)
    overhead       enqueue->done - compute (everything orchestration adds)

Five episodes run concurrently on one machine, so compute is inflated by contention: compare
overhead to compute within one run, not across machines. Exit status 1 if one did not publish.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the daemon harness and the requests live with the tests

import dagster as dg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from epochpod_assets import enqueue  # noqa: E402
from epochpod_assets.catalog import Catalog  # noqa: E402
from epochpod_assets.status import Stage  # noqa: E402
from epochpod_assets_tests.scenarios.test_daemon import REQUESTS  # noqa: E402
from epochpod_assets_tests.support.daemon import (  # noqa: E402
    episode_timing,
    extra_database,
    pg_env,
    running_daemon,
    set_pool_limits,
    timing_table,
    wait_for,
    write_test_instance,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sensor-interval", type=int, default=1)
    parser.add_argument("--s3", action="store_true", help="media in moto's S3 on loopback")
    args = parser.parse_args()
    base = sa.make_url(args.postgres).set(drivername="postgresql+psycopg")
    base_url = base.set(database=f"epochpod_bench_{uuid.uuid4().hex[:8]}")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{base_url.database}"'))
    dagster_url = base_url.render_as_string(hide_password=False)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        stack.callback(_drop, admin, base_url.database or "")
        catalog_url = stack.enter_context(extra_database(dagster_url, "catalog"))
        home = Path(tmp) / "dagster_home"
        write_test_instance(home)
        env = {
            **pg_env(dagster_url),
            "DAGSTER_HOME": str(home),
            "EPOCHPOD_HOME": str(Path(tmp) / "epochpod"),
            "EPOCHPOD_DATABASE_URL": catalog_url,
            "EPOCHPOD_SENSOR_INTERVAL_SECONDS": str(args.sensor_interval),
            "EPOCHPOD_SWEEPER_INTERVAL_SECONDS": "5",
        }
        if args.s3:
            from epochpod_assets_tests.support.s3 import S3Endpoint, moto_s3_server

            endpoint = S3Endpoint(stack.enter_context(moto_s3_server()), "epochpod-bench")
            endpoint.client().create_bucket(Bucket=endpoint.bucket)
            env.update(endpoint.env())
        os.environ.update(env)
        set_pool_limits(home, env)
        db = Catalog(catalog_url)
        db.migrate()
        log = Path(tmp) / "daemon.log"
        instance = dg.DagsterInstance.get()
        with running_daemon(env, log) as daemon:
            started = time.monotonic()
            ids = [enqueue(request, db) for request in REQUESTS]

            def settled() -> list[dict[str, object]] | None:
                rows = [db.get(i) for i in ids]
                if all(
                    r and r["generation_status"] in (Stage.COMPLETED, Stage.FAILED) for r in rows
                ):
                    return [r for r in rows if r]
                return None

            rows = wait_for(settled, 900, "five episodes to settle", daemon, log)
            wall = time.monotonic() - started
        failed = [r for r in rows if r["generation_status"] != Stage.COMPLETED]
        done = [r for r in rows if r["generation_status"] == Stage.COMPLETED]
        print(timing_table([episode_timing(instance, r) for r in done]))
        print(f"all five settled {wall:.1f} s after the first enqueue")
        for row in failed:
            print(f"FAILED {row['id']}: {row['generation_error']}")
        instance.dispose()
        return 1 if failed else 0


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
