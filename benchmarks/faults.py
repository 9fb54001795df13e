"""Issue 6, item 2: 20 episodes off the queue through ~30 % transient faults, ~10 % malformed
JSON and latency spikes.

    .venv/bin/python benchmarks/faults.py [--episodes 20] [--seed 11]

The scenario of `test_reliability_faults.py` at full size, in a throwaway EPOCHPOD_HOME: prints
published / failed, the failure reasons, the faults injected, and whether the catalog's ledger
equals the server's. Exit status 1 if an episode is stuck, ran twice, or a total differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import _common  # noqa: F401  (sys.path)
import dagster as dg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EPOCHPOD_HOME"] = str(Path(tmp) / "epochpod")
        os.environ["DAGSTER_HOME"] = str(Path(tmp) / "epochpod" / "dagster")
        for name in ("EPOCHPOD_DATABASE_URL", "EPOCHPOD_MEDIA_DIR"):
            os.environ.pop(name, None)
        from epochpod_assets.intake import open_catalog
        from epochpod_assets_tests.scenarios.test_reliability_faults import FAULTS
        from epochpod_assets_tests.support.reliability import catalog_ledger, run_fault_queue

        with dg.instance_for_test() as instance:
            outcome = run_fault_queue(args.episodes, FAULTS, args.seed, instance)
        stats = outcome.stats
        statuses = [r["generation_status"] for r in outcome.rows.values()]
        published = statuses.count("COMPLETED")
        failed = statuses.count("FAILED")
        stuck = len(statuses) - published - failed
        ledger = catalog_ledger(open_catalog(), outcome.episode_ids)
        exact = (
            ledger.llm_calls == stats.chat_billed
            and ledger.prompt_tokens == stats.prompt_tokens
            and ledger.completion_tokens == stats.completion_tokens
            and ledger.tts_calls == stats.speech_billed
            and ledger.tts_characters == stats.tts_characters
        )
        once = set(outcome.runs_per_episode.values()) == {1} and outcome.relaunched == 0
        transient = sum(n for k, n in stats.faults.items() if k not in ("malformed", "slow"))
        print(
            f"{args.episodes} episodes in {outcome.seconds:.0f} s: {published} published, "
            f"{failed} failed, {stuck} stuck"
        )
        for row in outcome.rows.values():
            if row["generation_status"] == "FAILED":
                print(f"  {row['id']}: {row['generation_error'][:160]}")
        print(
            f"calls {stats.total_calls}: transient {transient / stats.total_calls:.0%}, "
            f"faults {dict(stats.faults)}"
        )
        print(f"one run per episode: {once}; catalog ledger equals the server's: {exact}")
        return 0 if (exact and once and not stuck) else 1


if __name__ == "__main__":
    sys.exit(main())
