"""Issue 6, item 4: N processes enqueue at once on PostgreSQL while the sensor ticks.

    .venv/bin/python benchmarks/concurrent_enqueue.py [--processes 4] [--per-process 250]

Prints rows written, enqueues per second, and the run requests the sensor made (ticking while
the writers write, then draining): exit status 1 unless rows = processes x per-process and
every row got exactly one run request.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import _common
import dagster as dg
import sqlalchemy as sa

from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.schema import episodes
from epochpod_assets_tests.support.enqueuer import enqueue_many
from epochpod_assets_tests.support.reliability import drain, evaluate_sensor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--per-process", type=int, default=250)
    args = parser.parse_args()
    expected = args.processes * args.per_process
    with _common.scratch_database() as url, dg.instance_for_test() as instance:
        db = Catalog(url)
        db.migrate()
        spawn = multiprocessing.get_context("spawn")
        keys: list[str] = []
        with (
            spawn.Manager() as manager,
            ProcessPoolExecutor(args.processes, mp_context=spawn) as pool,
        ):
            start = manager.Barrier(args.processes + 1)
            futures = [
                pool.submit(enqueue_many, url, args.per_process, start, worker)
                for worker in range(args.processes)
            ]
            start.wait(120)
            began = time.perf_counter()
            while not all(f.done() for f in futures):
                keys += evaluate_sensor(url, instance).run_keys
            seconds = time.perf_counter() - began
            written = [i for f in futures for i in f.result()]
        keys += [k for t in drain(url, instance) for k in t.run_keys]
        with db.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(episodes)).scalar_one()
        db.engine.dispose()
    dupes = sum(1 for n in Counter(keys).values() if n > 1)
    exact = sorted(keys) == sorted(f"{i}:0" for i in written)
    print(f"{args.processes} processes x {args.per_process}: {rows} rows ({expected} expected)")
    print(f"enqueue: {len(written) / seconds:.0f} requests/s over {seconds:.1f} s")
    print(f"run requests: {len(keys)}, distinct {len(set(keys))}, duplicated {dupes}")
    ok = rows == expected == len(set(written)) and exact and not dupes
    print("exactly one run request per row:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
