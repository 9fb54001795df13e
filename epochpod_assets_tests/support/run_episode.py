"""Execute one episode's `generate_episode` run in this process against the instance at
DAGSTER_HOME, as a run worker would: the crash tests start it as a subprocess and SIGKILL it.

    python -m epochpod_assets_tests.support.run_episode <episode id>
    python -m epochpod_assets_tests.support.run_episode --from-failure <run id>

The job is reconstructable from `epochpod_assets.definitions`, and its resources are built from
this process's environment; the steps run in this process (the in-process executor).
Exit status 0 if the run succeeded.
"""

from __future__ import annotations

import argparse
import sys

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

JOB = "generate_episode"


def reconstructable_job() -> ReconstructableJob:
    repository = ReconstructableRepository.for_module("epochpod_assets.definitions", "defs")
    return repository.get_reconstructable_job(JOB)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("episode_id", nargs="?")
    parser.add_argument("--from-failure", metavar="RUN_ID")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        if args.from_failure:
            parent = instance.get_run_by_id(args.from_failure)
            assert parent is not None, f"no run {args.from_failure}"
            options = dg.ReexecutionOptions.from_failure(args.from_failure, instance)
            # As the UI's "re-execute from failure" does: the parent's partition and our tags
            # go with it; Dagster's own bookkeeping tags do not.
            tags = {
                key: value
                for key, value in parent.tags.items()
                if not key.startswith("dagster/") or key == "dagster/partition"
            }
            result = dg.execute_job(
                reconstructable_job(),
                instance,
                reexecution_options=options,
                tags=tags,
            )
        else:
            instance.add_dynamic_partitions("episodes", [args.episode_id])
            result = dg.execute_job(
                reconstructable_job(),
                instance,
                tags={"dagster/partition": args.episode_id, "epochpod/episode_id": args.episode_id},
            )
        print(result.run_id, flush=True)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
