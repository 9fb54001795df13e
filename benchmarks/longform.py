"""Issue 7's "done when": long episodes land on length, and run at the provider's rate limit.

    .venv/bin/python benchmarks/longform.py                  # everything (~10 minutes)
    .venv/bin/python benchmarks/longform.py --skip-lengths   # only the scheduling comparison

Part 1, scheduling. A 30-minute interview through the real pipeline (`dg.materialize`, the
real openai client, the resources from the environment) against the OpenAI-compatible test
server with a latency model (chat: 0.5 s to the first token + completion tokens at 60/s;
speech: 0.3 s + 2.5 ms per input character) and rate limits (chat 500 requests/min, speech
50 requests/min, enforced as token buckets holding one second's allowance, as providers
quantize per-minute limits). Made twice, side by side:

- scheduled: section-parallel script, speech in parallel, the shared rate limiter configured
  with the same limits (EPOCHPOD_RATE_LIMITS);
- one call at a time: the same calls, one after another, no limiter (the openai client's
  own retries and Retry-After handling only).

The lower bound is max(critical path, calls / rate limit) where the critical path is the
outline + the slowest script part + the slowest speech call, from the latency model and the
server's own record of the calls. Target: scheduled wall time <= 1.2 x the bound, with <= 1 %
of requests answered 429.

Both runs start with a 10-minute warm-up episode (not measured) so that the voices' speaking
rates and the writer's habit are remembered, as they are for every episode after the first; its
speech segments are then dropped from the cache, so the measured episode pays for its own lines.

Part 2, length. Interviews, debates and adventures of 10, 30 and 60 minutes with the OpenAI
voice against the test server (no latency: only the audio matters here), and interviews with
the offline eSpeak voice: measured duration (adventure: the average path) against target.
Target: within +-10 %.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server lives with the tests

from epochpod_assets import enqueue, settings  # noqa: E402
from epochpod_assets.catalog.schema import episodes  # noqa: E402
from epochpod_assets.defs import resources  # noqa: E402
from epochpod_assets.defs.assets.episodes import (  # noqa: E402
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research  # noqa: E402
from epochpod_assets.defs.resources import resources_from_env  # noqa: E402
from epochpod_assets.intake import open_catalog  # noqa: E402
from epochpod_assets.scripting import fitting, longform  # noqa: E402
from epochpod_assets_tests.support.fake_openai import (  # noqa: E402
    CHAT,
    SPEECH,
    FakeOpenAI,
    LatencyModel,
    ServerLimit,
    count_tokens,
)
from epochpod_assets_tests.support.template_model import template_responder  # noqa: E402

ASSETS = [episode_research, episode_outline, episode_script, episode_audio, published_episode]
KEY = "sk-bench-longform"
LLM_MODEL, TTS_MODEL = "gpt-4o-mini", "tts-1"
CHAT_RPM, SPEECH_RPM = 500, 50
LATENCY = LatencyModel(
    chat_first_token=0.5, chat_tokens_per_second=60.0, speech_base=0.3, speech_per_char=0.0025
)
REQUESTS: dict[str, dict[str, Any]] = {
    "interview": {"format": "interview", "guest_name": "Ada Lovelace", "topic": "the engine"},
    "debate": {
        "format": "debate",
        "topic": "the printing press",
        "participants": [
            {"name": "Johannes Gutenberg", "position": "print frees knowledge"},
            {"name": "Johannes Trithemius", "position": "the scribe's hand is devotion"},
        ],
        "rounds": 3,
    },
    "adventure": {"format": "adventure", "setting": "Alexandria, 48 BC", "depth": 3},
}


@dataclass(frozen=True)
class Run:
    status: str
    error: str | None
    duration: float
    wall: float
    chat_calls: int
    speech_calls: int
    rejected: int
    total: int
    bound: float
    critical: float


@contextmanager
def fresh_home() -> Iterator[None]:
    """A throwaway EPOCHPOD_HOME (catalog, media, remembered rates, limiter state)."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="epochpod-longform-") as home:
        os.environ["EPOCHPOD_HOME"] = home
        os.environ["DAGSTER_HOME"] = str(Path(home) / "dagster")
        for name in ("EPOCHPOD_DATABASE_URL", "EPOCHPOD_MEDIA_DIR", "EPOCHPOD_MAX_EPISODE_USD"):
            os.environ.pop(name, None)
        resources._catalog.cache_clear()
        try:
            yield
        finally:
            resources._catalog.cache_clear()
            os.environ.clear()
            os.environ.update(saved)


def use_server(server: FakeOpenAI | None, *, limits: bool, concurrency: int) -> None:
    if server is None:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EPOCHPOD_RATE_LIMITS"):
            os.environ.pop(name, None)
        os.environ["EPOCHPOD_WRITER"] = os.environ["EPOCHPOD_VOICE"] = "offline"
        return
    os.environ.update(
        {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": server.base_url,
            "EPOCHPOD_LLM_MODEL": LLM_MODEL,
            "EPOCHPOD_TTS_MODEL": TTS_MODEL,
            "EPOCHPOD_WRITER": "openai",
            "EPOCHPOD_VOICE": "openai",
            "EPOCHPOD_TTS_CONCURRENCY": str(concurrency),
            "EPOCHPOD_OPENAI_MAX_RETRIES": "8",
        }
    )
    if limits:
        os.environ["EPOCHPOD_RATE_LIMITS"] = (
            f'{{"{LLM_MODEL}": {{"rpm": {CHAT_RPM}}}, "{TTS_MODEL}": {{"rpm": {SPEECH_RPM}}}}}'
        )
    else:
        os.environ.pop("EPOCHPOD_RATE_LIMITS", None)


def make_episode(kind: str, minutes: float) -> tuple[str, float, str, str | None]:
    """Materialize one episode; (id, wall seconds, status, error)."""
    db = open_catalog()
    episode_id = enqueue({**REQUESTS[kind], "target_minutes": minutes}, db)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("episodes", [episode_id])
        started = time.perf_counter()
        dg.materialize(
            ASSETS,
            partition_key=episode_id,
            instance=instance,
            resources=resources_from_env(),
            raise_on_error=False,
        )
        wall = time.perf_counter() - started
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(
                episodes.c.duration_seconds,
                episodes.c.generation_status,
                episodes.c.generation_error,
            ).where(episodes.c.id == episode_id)
        ).one()
    db.engine.dispose()
    return episode_id, wall, str(row[1]), row[2] if row[0] is None else None


def duration_of(episode_id: str) -> float:
    db = open_catalog()
    with db.engine.connect() as conn:
        seconds = conn.execute(
            sa.select(episodes.c.duration_seconds).where(episodes.c.id == episode_id)
        ).scalar_one()
    db.engine.dispose()
    return float(seconds or 0)


def scheduling_run(one_at_a_time: bool) -> Run:
    limits = {CHAT: ServerLimit(rpm=CHAT_RPM), SPEECH: ServerLimit(rpm=SPEECH_RPM)}
    saved = (longform.MAX_PARALLEL_PARTS, fitting.SAMPLE_PARALLEL)
    with (
        fresh_home(),
        FakeOpenAI(
            api_key=KEY, responder=template_responder, latency_model=LATENCY, limits=limits
        ) as server,
    ):
        use_server(server, limits=not one_at_a_time, concurrency=1 if one_at_a_time else 8)
        # Warm-up: a 10-minute episode (the shortest that measures its voices) with the same
        # voices, so the 30-minute one plans with remembered speaking rates, as every
        # episode after a voice's first does.
        server.latency_model = None
        make_episode("interview", 10)
        # The warm-up is there to teach rates, not to pre-speak lines: the template model
        # draws from a finite pool of sentences, so the 30-minute episode would find many of
        # its lines already cached, as no episode written by a real model would.
        shutil.rmtree(settings.media_root() / "cache" / "tts")
        server.latency_model = LATENCY
        server.reset()
        if one_at_a_time:
            longform.MAX_PARALLEL_PARTS = fitting.SAMPLE_PARALLEL = 1
        try:
            episode_id, wall, status, error = make_episode("interview", 30)
        finally:
            longform.MAX_PARALLEL_PARTS, fitting.SAMPLE_PARALLEL = saved
        duration = duration_of(episode_id)
        stats, requests = server.stats(), server.requests
    rejected = stats.statuses.get(429, 0)
    chat = [r.body for r in requests if r.endpoint == CHAT]
    speech = [r.body for r in requests if r.endpoint == SPEECH]
    # The model's answer is deterministic: its length gives each chat call's latency.
    chat_seconds = [LATENCY.chat_seconds(count_tokens(template_responder(b))) for b in chat]
    speech_seconds = [LATENCY.speech_seconds(len(b["input"])) for b in speech]
    outline = chat_seconds[0] if chat_seconds else 0.0
    critical = outline + max(chat_seconds[1:], default=0.0) + max(speech_seconds, default=0.0)
    billed_chat, billed_speech = stats.chat_billed, stats.speech_billed
    bound = max(critical, billed_chat / CHAT_RPM * 60, billed_speech / SPEECH_RPM * 60)
    return Run(
        status=status,
        error=error,
        duration=duration,
        wall=wall,
        chat_calls=billed_chat,
        speech_calls=billed_speech,
        rejected=rejected,
        total=stats.total_calls,
        bound=bound,
        critical=critical,
    )


def length_table(kinds: list[str], minutes: list[float], offline: bool) -> list[tuple[Any, ...]]:
    rows = []
    for kind in kinds:
        for target in minutes:
            with fresh_home():
                if offline:
                    use_server(None, limits=False, concurrency=4)
                    episode_id, wall, status, error = make_episode(kind, target)
                else:
                    with FakeOpenAI(api_key=KEY, responder=template_responder) as server:
                        use_server(server, limits=False, concurrency=8)
                        episode_id, wall, status, error = make_episode(kind, target)
                seconds = duration_of(episode_id)
            rows.append((kind, "eSpeak" if offline else "OpenAI (test server)", target, seconds,
                         status, error, wall))  # fmt: skip
            ratio = seconds / (target * 60)
            print(
                f"  {kind:10} {rows[-1][1]:22} {target:5.0f} min -> {seconds / 60:6.2f} min "
                f"({ratio - 1:+.1%}) {status} in {wall:.0f} s {error or ''}",
                flush=True,
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-lengths", action="store_true", help="only the scheduling part")
    parser.add_argument("--skip-scheduling", action="store_true", help="only the length part")
    args = parser.parse_args()
    ok = True
    if not args.skip_scheduling:
        print("30-minute interview, latency model 1:1, limits chat 500 rpm / speech 50 rpm")
        runs = {}
        for label, serial in (("scheduled", False), ("one call at a time", True)):
            run = runs[label] = scheduling_run(serial)
            print(
                f"  {label:20} wall {run.wall:7.1f} s  bound {run.bound:6.1f} s "
                f"(critical path {run.critical:.1f} s)  ratio {run.wall / run.bound:5.2f}  "
                f"429s {run.rejected}/{run.total} ({run.rejected / max(run.total, 1):.1%})  "
                f"chat {run.chat_calls}  speech {run.speech_calls}  "
                f"length {run.duration / 60:.2f} min  {run.status} {run.error or ''}",
                flush=True,
            )
        best = runs["scheduled"]
        share = best.rejected / max(best.total, 1)
        ok &= best.wall / best.bound <= 1.2 and share <= 0.01 and best.status == "COMPLETED"
        ok &= 27 * 60 <= best.duration <= 33 * 60
        print(
            f"  scheduled vs one at a time: {runs['one call at a time'].wall / best.wall:.2f}x "
            "faster"
        )
    if not args.skip_lengths:
        print("measured duration vs target (adventure: average path)")
        rows = length_table(["interview", "debate", "adventure"], [10, 30, 60], offline=False)
        rows += length_table(["interview"], [10, 30, 60], offline=True)
        ok &= all(abs(r[3] / (r[2] * 60) - 1) <= 0.10 and r[4] == "COMPLETED" for r in rows)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
