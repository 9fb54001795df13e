"""Issue 13's "done when": a model that follows only the JSON schema publishes.

    .venv/bin/python benchmarks/schema_only.py            # demo x 3 servers + a 30-minute interview
    .venv/bin/python benchmarks/schema_only.py --quick    # the demo episodes only

The demo episodes are `epochpod demo`'s: one of every registered format.

The model is the test server's schema-only mode (epochpod_assets_tests/support/schema_only.py):
every answer is random text that fits the request's JSON schema exactly, and the prompt is
never read, as with a small local model under grammar-constrained decoding. Speech is the test
server's too (15 characters a second). Every episode goes through the real pipeline
(`dg.materialize`, the real openai client, the resources from the environment), through three
servers:

- json_schema: the server enforces the schema (OpenAI, vLLM, recent Ollama);
- json_object: the server answers 400 to `json_schema` (the writer falls back to JSON mode
  with the schema in the prompt);
- text: the server answers 400 to any `response_format` (plain text, JSON cut out of it).

Printed per episode: target and published minutes, re-asks by reason over all stages, the
writer's mode. Per server: the catalog's ledger (generation_metrics) against the server's own
counts of billed calls, tokens and characters. Targets: every episode published, 0 structural
re-asks, within +-10 % of length, ledger equal to the server's counts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server lives with the tests

from epochpod_assets import enqueue, settings  # noqa: E402
from epochpod_assets.defs import resources  # noqa: E402
from epochpod_assets.defs.assets.episodes import (  # noqa: E402
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.resources import resources_from_env  # noqa: E402
from epochpod_assets.demo import demo_requests  # noqa: E402
from epochpod_assets.intake import open_catalog  # noqa: E402
from epochpod_assets.providers.base import REASK_KINDS  # noqa: E402
from epochpod_assets_tests.support.fake_openai import FakeOpenAI  # noqa: E402
from epochpod_assets_tests.support.schema_only import SchemaOnly  # noqa: E402

ASSETS = [episode_outline, episode_script, episode_audio, published_episode]
KEY = "sk-bench-schema-only"
MODES: dict[str, Literal["json_schema", "response_format"] | None] = {
    "json_schema": None,
    "json_object": "json_schema",
    "text": "response_format",
}
LONG = {
    "format": "interview",
    "guest_name": "Ada Lovelace",
    "topic": "the analytical engine",
    "target_minutes": 30,
}


def run_mode(
    mode: str, requests: list[dict[str, Any]], seed: int
) -> tuple[list[dict[str, Any]], bool]:
    home = Path(tempfile.mkdtemp(prefix=f"epochpod-bench-{mode}-"))
    os.environ.update(
        EPOCHPOD_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        EPOCHPOD_WRITER="openai",
        EPOCHPOD_VOICE="openai",
        EPOCHPOD_LLM_MODEL="gpt-4o-mini",
        EPOCHPOD_TTS_MODEL="tts-1",
        EPOCHPOD_OPENAI_TIMEOUT="30",
        # Random words state nothing the fact sheet supports: unsupported claims must not
        # block here (anachronisms and contradictions still do); structure is what is measured.
        EPOCHPOD_MAX_UNSUPPORTED_SHARE="1",
    )
    rows: list[dict[str, Any]] = []
    try:
        with FakeOpenAI(api_key=KEY, responder=SchemaOnly(seed), refuse=MODES[mode]) as server:
            os.environ.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
            settings.reload()
            resources._catalog.cache_clear()
            db = open_catalog()
            with dg.instance_for_test() as instance:
                for request in requests:
                    episode_id = enqueue(request, db)
                    instance.add_dynamic_partitions("episodes", [episode_id])
                    started = time.monotonic()
                    result = dg.materialize(
                        ASSETS,
                        partition_key=episode_id,
                        instance=instance,
                        resources=resources_from_env(),
                        raise_on_error=False,
                    )
                    row = db.get(episode_id) or {}
                    reasks: Counter[str] = Counter()
                    modes = set()
                    for event in result.get_asset_materialization_events():
                        meta = event.materialization.metadata
                        for kind in REASK_KINDS:
                            if f"reasks_{kind}" in meta:
                                reasks[kind] += int(meta[f"reasks_{kind}"].value)  # type: ignore[arg-type]
                        if "structured_output" in meta:
                            modes.add(str(meta["structured_output"].value))
                    rows.append(
                        {
                            "mode": mode,
                            "format": request["format"],
                            "target": float(request.get("target_minutes", 5)),
                            "minutes": (row.get("duration_seconds") or 0) / 60,
                            "status": row.get("generation_status"),
                            "error": row.get("generation_error"),
                            "reasks": reasks,
                            "writer_mode": ",".join(sorted(modes)),
                            "wall": time.monotonic() - started,
                        }
                    )
                    print_row(rows[-1])
            stats = server.stats()
            ledger = ledger_of(db)
            print(
                f"  ledger vs server ({mode}): llm calls {ledger['llm_calls']} vs "
                f"{stats.chat_billed}, prompt tokens {ledger['prompt_tokens']} vs "
                f"{stats.prompt_tokens}, completion tokens {ledger['completion_tokens']} vs "
                f"{stats.completion_tokens}, tts calls {ledger['tts_calls']} vs "
                f"{stats.speech_billed}, tts characters {ledger['tts_characters']} vs "
                f"{stats.tts_characters}; refused (400) {stats.statuses.get(400, 0)}"
            )
            same = (
                ledger["llm_calls"] == stats.chat_billed
                and ledger["prompt_tokens"] == stats.prompt_tokens
                and ledger["completion_tokens"] == stats.completion_tokens
                and ledger["tts_calls"] == stats.speech_billed
                and ledger["tts_characters"] == stats.tts_characters
            )
            db.engine.dispose()
    finally:
        resources._catalog.cache_clear()
        shutil.rmtree(home, ignore_errors=True)
    return rows, same


def ledger_of(db: Any) -> dict[str, int]:
    names = ("llm_calls", "prompt_tokens", "completion_tokens", "tts_calls", "tts_characters")
    query = "SELECT " + ", ".join(f"coalesce(sum({n}), 0)" for n in names)
    with db.engine.connect() as conn:
        row = conn.execute(sa.text(query + " FROM generation_metrics")).one()
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def print_row(row: dict[str, Any]) -> None:
    reasks = ", ".join(f"{k} {row['reasks'].get(k, 0)}" for k in REASK_KINDS)
    off = row["minutes"] / row["target"] - 1 if row["minutes"] else float("nan")
    print(
        f"  {row['mode']:<11} {row['format']:<10} target {row['target']:>4.0f} min  "
        f"published {row['minutes']:6.2f} min ({off:+.1%})  {row['status']:<9}  "
        f"re-asks: {reasks}  writer mode {row['writer_mode']}  {row['wall']:.0f} s"
        + (f"\n    error: {row['error']}" if row["error"] else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the demo episodes only")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    ledgers: dict[str, bool] = {}
    for mode in MODES:
        requests = demo_requests() + ([] if args.quick else [LONG])
        print(f"server: {mode}")
        # A different draw per server: the same answers three times would prove less.
        done, same = run_mode(mode, requests, args.seed + len(ledgers))
        rows += done
        ledgers[mode] = same
    published = sum(1 for r in rows if r["status"] == "COMPLETED")
    structural = sum(r["reasks"].get("structure", 0) for r in rows)
    by_reason = sum((r["reasks"] for r in rows), Counter())
    on_length = sum(1 for r in rows if r["minutes"] and abs(r["minutes"] / r["target"] - 1) <= 0.1)
    print()
    print(f"published {published} of {len(rows)} episodes; {on_length} within +-10 % of length")
    print("re-asks by reason: " + ", ".join(f"{k} {by_reason.get(k, 0)}" for k in REASK_KINDS))
    print(
        "ledger equal to the server's counts: "
        + ", ".join(f"{m} {'yes' if ok else 'NO'}" for m, ok in ledgers.items())
    )
    ok = published == len(rows) == on_length and structural == 0 and all(ledgers.values())
    print("verdict: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
