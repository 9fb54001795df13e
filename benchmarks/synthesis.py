"""Benchmark (b): synthesizing 40 turns against an OpenAI-compatible server with 150 ms of
latency per call, through rendering's real parallel path (render_tracks -> SegmentCache ->
OpenAIVoice -> the openai client -> HTTP on loopback).

Prints, measured side by side in one run, the synthesis wall time (from the start of
render_tracks to the progress report of the last finished segment; assembly and upload come
after and are not synthesis) for one line at a time and for each concurrency, relative to:
- the critical path ceil(40 / concurrency) x latency (target <= 1.5x);
- one line at a time (target >= 5x faster).

Every run starts from an empty segment cache, and the server's own count proves each run
made exactly 40 speech calls.

    .venv/bin/python benchmarks/synthesis.py [--turns 40] [--latency 0.15] [--concurrency 4 8 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server lives with the tests

from epochpod_assets.audio.rendering import render_tracks  # noqa: E402
from epochpod_assets.audio.segments import SegmentCache  # noqa: E402
from epochpod_assets.formats.base import Line, Section, TrackPlan  # noqa: E402
from epochpod_assets.providers.base import Usage  # noqa: E402
from epochpod_assets.providers.openai_voice import OpenAIVoice  # noqa: E402
from epochpod_assets.storage import LocalMediaStore  # noqa: E402
from epochpod_assets_tests.support.fake_openai import FakeOpenAI, Faults  # noqa: E402

CAST = {"Host": "alloy", "Guest": "onyx"}


def script(turns: int) -> list[TrackPlan]:
    """One track of `turns` distinct lines (distinct, so no line is a cache hit of another),
    alternating two speakers, in four sections."""
    per_section = math.ceil(turns / 4)
    lines = [
        Line(
            speaker=("Host", "Guest")[turn % 2],
            text=f"Turn {turn}: the harbour at Alexandria held ships from every sea.",
        )
        for turn in range(turns)
    ]
    sections = [
        Section(title=f"Part {n + 1}", lines=lines[n * per_section : (n + 1) * per_section])
        for n in range(4)
    ]
    return [TrackPlan(key="episode", title="Benchmark", sections=sections)]


def synthesis_seconds(server: FakeOpenAI, turns: int, concurrency: int) -> float:
    """Wall time until the last segment is synthesized, from an empty cache."""
    server.reset()
    with tempfile.TemporaryDirectory() as folder:
        store = LocalMediaStore(Path(folder))
        voice = OpenAIVoice(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        finished: list[float] = []

        def on_progress(done: int, total: int) -> None:
            if done == total:
                finished.append(time.perf_counter())

        try:
            started = time.perf_counter()
            render_tracks(
                "bench",
                script(turns),
                CAST,
                album="Epoch Pod",
                description="synthesis benchmark",
                cache=SegmentCache(voice, store, Usage()),
                store=store,
                concurrency=concurrency,
                on_progress=on_progress,
            )
        finally:
            voice.close()
    calls = server.stats().calls.get("speech", 0)
    if calls != turns:
        raise SystemExit(f"expected {turns} speech calls, the server counted {calls}")
    return finished[0] - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 10])
    args = parser.parse_args()
    # Short clips (100 samples per character) keep the untimed assembly quick.
    with FakeOpenAI(faults=Faults(latency=args.latency), samples_per_char=100) as server:
        synthesis_seconds(server, 4, 4)  # warm up: imports, ffmpeg, the client's pool
        sequential = synthesis_seconds(server, args.turns, 1)
        print(
            f"{args.turns} turns, {args.latency * 1000:.0f} ms per call; one line at a time: "
            f"{sequential:.2f} s (critical path {args.turns * args.latency:.2f} s)"
        )
        for concurrency in args.concurrency:
            wall = synthesis_seconds(server, args.turns, concurrency)
            critical = math.ceil(args.turns / concurrency) * args.latency
            print(
                f"concurrency {concurrency:2d}: {wall:.2f} s | critical path {critical:.2f} s | "
                f"wall / critical path {wall / critical:.2f}x (target <= 1.5x) | "
                f"{sequential / wall:.1f}x faster than one at a time (target >= 5x)"
            )


if __name__ == "__main__":
    main()
