"""Issue 6, item 7: what orchestration costs per episode, through the real daemon on PostgreSQL
with zero-latency providers, in-process and multiprocess (forkserver) executors side by side.

    .venv/bin/python benchmarks/orchestration.py [--episodes 50] [--executors in_process forkserver]

For each executor: fresh PostgreSQL databases for Dagster and the catalog, the production
dagster.yaml (test-speed polling, issue 5B's harness), FakeOpenAI on loopback answering at once,
`--episodes` short interviews enqueued together, and a `dagster-daemon` serving this file as its
code location (the production definitions with the chosen executor). Prints per executor the
median orchestration overhead per episode (enqueue -> COMPLETED minus the steps' own compute),
the median in-run overhead (run wall minus compute), and episodes per minute (first enqueue to
last completion).

Imported by the daemon's code server (EPOCHPOD_BENCH_EXECUTOR set), this module is the code
location; run as a script, it is the benchmark.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EXECUTOR_ENV = "EPOCHPOD_BENCH_EXECUTOR"


def location(executor: str) -> dg.Definitions:
    """The production definitions (asset checks included) with `executor` for every job."""
    from epochpod_assets.definitions import defs as production
    from epochpod_assets.defs.jobs import generate_episode
    from epochpod_assets.defs.sensors import episode_requests

    chosen: dg.ExecutorDefinition = (
        dg.in_process_executor
        if executor == "in_process"
        else dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})
    )
    # generate_episode names its own executor, and a job's own beats the Definitions-level
    # default: without rebuilding it, both arms of the comparison would run in process.
    episode_job = dg.define_asset_job(
        name=generate_episode.name,
        selection=generate_episode.selection,
        description=generate_episode.description,
        executor_def=chosen,
    )
    return dg.Definitions(
        assets=production.assets,
        asset_checks=production.asset_checks,
        jobs=[episode_job if job is generate_episode else job for job in production.jobs or []],
        sensors=[
            # The queue sensor targets the job object: point it at the rebuilt one.
            sensor.with_updated_job(episode_job) if sensor.name == episode_requests.name else sensor
            for sensor in production.sensors or []
        ],
        resources=production.resources,
        executor=chosen,
    )


if os.environ.get(EXECUTOR_ENV):
    defs = location(os.environ[EXECUTOR_ENV])


def run_one(executor: str, episodes: int, concurrency: int) -> dict[str, float]:
    import statistics
    import subprocess
    import tempfile

    import yaml
    from _common import scratch_database

    from epochpod_assets import enqueue
    from epochpod_assets.catalog import Catalog
    from epochpod_assets.status import TERMINAL
    from epochpod_assets_tests.support.daemon import (
        DAEMON,
        episode_timing,
        pg_env,
        set_pool_limits,
        stop,
        stop_code_servers,
        wait_for,
        write_test_instance,
    )
    from epochpod_assets_tests.support.fake_openai import FakeOpenAI
    from epochpod_assets_tests.support.reliability import (
        REQUESTS,
        openai_environ,
        template_responder,
    )

    root = Path(__file__).resolve().parent.parent
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database("bench_dagster") as dagster_url,
        scratch_database("bench_catalog") as catalog_url,
        FakeOpenAI(api_key="sk-bench", responder=template_responder) as server,
    ):
        home = Path(tmp) / "dagster"
        config_path = write_test_instance(home)
        config = yaml.safe_load(config_path.read_text())
        config["concurrency"]["runs"]["max_concurrent_runs"] = concurrency
        config_path.write_text(yaml.safe_dump(config))
        workspace = Path(tmp) / "workspace.yaml"
        workspace.write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "python_file": {
                                "relative_path": str(Path(__file__).resolve()),
                                "location_name": "epochpod",
                                "working_directory": str(root),
                            }
                        }
                    ]
                }
            )
        )
        env = {
            **pg_env(dagster_url),
            **openai_environ(server.base_url),
            "OPENAI_API_KEY": "sk-bench",
            "DAGSTER_HOME": str(home),
            "EPOCHPOD_HOME": str(Path(tmp) / "epochpod"),
            "EPOCHPOD_DATABASE_URL": catalog_url,
            "EPOCHPOD_SENSOR_INTERVAL_SECONDS": "1",
            EXECUTOR_ENV: executor,
        }
        os.environ.update(env)
        # As a deployment does before its first runs (dagster.yaml): otherwise concurrent runs
        # race to create the llm and tts pools and the losers fail, which skews the figures.
        set_pool_limits(home, env)
        db = Catalog(catalog_url)
        db.migrate()
        log = Path(tmp) / "daemon.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [str(DAEMON), "run", "-w", str(workspace)],
                cwd=root,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                ids = [
                    enqueue({**REQUESTS["interview"], "topic": f"engines, part {n}"}, db)
                    for n in range(episodes)
                ]

                def finished() -> list[dict[str, object]] | None:
                    rows = [db.get(i) for i in ids]
                    done = all(r and r["generation_status"] in TERMINAL for r in rows)
                    return [r for r in rows if r] if done else None

                rows = wait_for(finished, 3600, f"{episodes} episodes", daemon, log, poll=1.0)
            finally:
                stop(daemon)
                stop_code_servers(str(home))
        published = [r for r in rows if r["status"] == "PUBLISHED"]
        with dg.DagsterInstance.get() as instance:
            timings = [episode_timing(instance, row) for row in published]
            # More runs than episodes means run_retries relaunched some: say so, since a
            # retried episode's enqueue -> done includes its failed first run.
            runs = len(instance.get_runs(filters=dg.RunsFilter(job_name="generate_episode")))
        first = min(r["created_at"].timestamp() for r in rows)  # type: ignore[attr-defined]
        last = max(r["generation_completed_at"].timestamp() for r in rows)  # type: ignore[attr-defined]
        db.engine.dispose()
    return {
        "published": len(published),
        "failed": len(rows) - len(published),
        "runs": runs,
        "overhead": statistics.median(t.overhead for t in timings),
        "in_run_overhead": statistics.median(t.in_run_overhead for t in timings),
        "compute": statistics.median(t.compute for t in timings),
        "per_minute": len(rows) / ((last - first) / 60),
    }


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="max_concurrent_runs")
    parser.add_argument(
        "--executors",
        nargs="+",
        default=["in_process", "forkserver"],
        choices=["in_process", "forkserver"],
    )
    args = parser.parse_args()
    results = {e: run_one(e, args.episodes, args.concurrency) for e in args.executors}
    print(
        f"{args.episodes} interviews, zero-latency providers, "
        f"max_concurrent_runs {args.concurrency}"
    )
    print(
        "executor     published failed  runs  overhead/ep  in-run overhead  compute  episodes/min"
    )
    for executor, r in results.items():
        print(
            f"{executor:<12} {r['published']:>9.0f} {r['failed']:>6.0f} {r['runs']:>5.0f} "
            f"{r['overhead']:>11.1f}s "
            f"{r['in_run_overhead']:>15.1f}s {r['compute']:>7.1f}s {r['per_minute']:>13.1f}"
        )
    if len(results) == 2:
        a, b = results["in_process"], results["forkserver"]
        print(
            f"forkserver / in_process: overhead {b['overhead'] / a['overhead']:.2f}x, "
            f"throughput {b['per_minute'] / a['per_minute']:.2f}x"
        )
    return 0 if all(r["failed"] == 0 for r in results.values()) else 1


if __name__ == "__main__" and not os.environ.get(EXECUTOR_ENV):
    sys.exit(main())
