"""Issue 3's "done when": ten episodes of mixed formats through an OpenAI-compatible server that
fails about 30 % of calls transiently; all must publish, and the catalog's token, character and
USD totals must equal the server's own counts.

    .venv/bin/python benchmarks/openai_faults.py [--seed 7]

Runs the same scenario as the `reliability` test (FakeOpenAI on loopback, the real openai
client, `dg.materialize` with the resources from the environment) in a throwaway
EPOCHPOD_HOME, and prints the figures. Exit status 1 if an episode did not publish or a total
differs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scenario and the fake server live with the tests

from epochpod_assets_tests.scenarios.test_openai_pipeline import (  # noqa: E402
    FAULT_MAX_RETRIES,
    FAULT_TIMEOUT,
    FAULTS,
    MIX,
    run_fault_scenario,
    server_usd,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="the fault sequence's seed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="epochpod-bench-") as home:
        os.environ["EPOCHPOD_HOME"] = home
        os.environ["DAGSTER_HOME"] = str(Path(home) / "dagster")
        for name in ("EPOCHPOD_DATABASE_URL", "EPOCHPOD_MEDIA_DIR", "EPOCHPOD_MAX_EPISODE_USD"):
            os.environ.pop(name, None)
        with pytest.MonkeyPatch.context() as env, dg.instance_for_test() as instance:
            outcome = run_fault_scenario(env, instance, seed=args.seed)

    stats, ledger = outcome.stats, outcome.ledger
    faults = sum(stats.faults.values())
    billed = stats.chat_billed + stats.speech_billed
    usd = server_usd(stats)
    rows = [
        ("chat answers billed", stats.chat_billed, ledger.llm_calls),
        ("speech answers billed", stats.speech_billed, ledger.tts_calls),
        ("prompt tokens", stats.prompt_tokens, ledger.prompt_tokens),
        ("completion tokens", stats.completion_tokens, ledger.completion_tokens),
        ("TTS characters", stats.tts_characters, ledger.tts_characters),
    ]
    kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(stats.faults.items()))
    print(f"scenario: {len(MIX)} episodes ({', '.join(sorted(set(MIX)))}), seed {args.seed}")
    print(
        f"faults asked for: errors {FAULTS.error_rate:.0%} (Retry-After {FAULTS.retry_after}s), "
        f"drops {FAULTS.drop_rate:.0%}, hangs {FAULTS.hang_rate:.0%} (client timeout "
        f"{FAULT_TIMEOUT}s, max retries {FAULT_MAX_RETRIES}), spikes {FAULTS.spike_rate:.0%} "
        f"of {FAULTS.spike_seconds}s"
    )
    print(f"episodes published:     {outcome.published} / {len(outcome.episode_ids)}")
    print(f"calls served:           {stats.total_calls}")
    print(f"faults injected:        {faults} ({faults / stats.total_calls:.1%}): {kinds}")
    print(f"client retries seen:    {stats.total_calls - billed}")
    print(f"Dagster step retries:   {outcome.step_retries}")
    print(f"{'':24}{'server':>14}{'catalog':>14}")
    for label, server, catalog in rows:
        print(
            f"{label:24}{server:>14,}{catalog:>14,}  {'equal' if server == catalog else 'DIFFER'}"
        )
    usd_equal = math.isclose(usd, ledger.usd, rel_tol=1e-9, abs_tol=1e-12)
    print(f"{'USD':24}{usd:>14.6f}{ledger.usd:>14.6f}  {'equal' if usd_equal else 'DIFFER'}")
    print(f"wall time:              {outcome.seconds:.1f} s")
    ok = (
        outcome.published == len(outcome.episode_ids)
        and all(server == catalog for _, server, catalog in rows)
        and usd_equal
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
