"""Issue 6, item 6: how a sensor tick grows with the queue, 100 -> 10,000 pending requests.

    .venv/bin/python benchmarks/queue_scale.py [--sizes 100 1000 10000] [--batch 50]

For each size: a fresh PostgreSQL catalog, the requests bulk-inserted, then the real
`episode_requests` sensor ticked (evaluated, runs not launched: as with a run queue that is
full) until it asks for nothing. Prints per size the tick count, median / p95 / max tick
duration, SQL statements per tick, and the rows PostgreSQL examined for the queue query in the
first and last tick (EXPLAIN ANALYZE). Exit status 1 if a request was asked for twice or never.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter

import _common
import dagster as dg
import sqlalchemy as sa

from epochpod_assets.catalog import Catalog
from epochpod_assets.defs import sensors
from epochpod_assets_tests.support.reliability import bulk_enqueue, drain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    sensors.BATCH_SIZE = args.batch
    ok = True
    medians: dict[int, float] = {}
    print(f"batch {args.batch}; durations in ms")
    print("  queue  ticks  median    p95    max  stmts/tick  rows examined first -> last")
    for size in args.sizes:
        with _common.scratch_database() as url, dg.instance_for_test() as instance:
            db = Catalog(url)
            db.migrate()
            ids = bulk_enqueue(db, size)
            with db.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE episodes"))
            ticks = drain(url, instance, explain=True)
            keys = [k for t in ticks for k in t.run_keys]
            dupes = [k for k, n in Counter(keys).items() if n > 1]
            if dupes or sorted(keys) != sorted(f"{i}:0" for i in ids):
                missing = set(ids) - {k.rpartition(":")[0] for k in keys}
                print(f"  {size}: {len(dupes)} duplicated, {len(missing)} missing")
                ok = False
            full = [t for t in ticks if t.run_keys]
            ms = sorted(t.seconds * 1000 for t in full)
            medians[size] = statistics.median(ms)
            p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
            statements = sorted({t.statements for t in full})
            print(
                f"{size:>7} {len(full):>6} {medians[size]:>7.1f} {p95:>6.1f} {ms[-1]:>6.1f} "
                f"{'/'.join(map(str, statements)):>11}  {full[0].rows_examined} -> "
                f"{full[-1].rows_examined}"
            )
            db.engine.dispose()
    smallest, largest = min(medians), max(medians)
    print(
        f"median tick at {largest:,} / at {smallest:,}: "
        f"{medians[largest] / medians[smallest]:.2f}x; each request asked for exactly once: {ok}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
