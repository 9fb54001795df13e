"""The shared rate limiter: GCRA pacing on a fake clock, feedback from 429s and headers, one
pace across processes through the SQLite state, and the real openai client against the test
server's enforced limits. Assertions are on counts and reserved slots, never on timings."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from epochpod_assets.providers.base import ProviderError, Usage
from epochpod_assets.providers.openai_voice import OpenAIVoice
from epochpod_assets.providers.ratelimit import (
    SAFETY,
    Limit,
    MemoryState,
    RateLimiter,
    SqliteState,
    limiter_for,
    parse_limits,
)
from epochpod_assets_tests.support.fake_openai import SPEECH, FakeOpenAI, ServerLimit

KEY = "sk-test-ratelimit"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(limit: Limit, clock: FakeClock, state: MemoryState | None = None) -> RateLimiter:
    return RateLimiter("test", limit, state or MemoryState(), clock=clock, sleep=clock.sleep)


def test_limits_come_from_json_or_a_file_and_bad_ones_are_refused(tmp_path: Path) -> None:
    table = '{"gpt-4o-mini": {"rpm": 500, "tpm": 200000}, "openai/tts-1": {"rpm": 50}}'
    limits = parse_limits(table)
    assert limits["gpt-4o-mini"] == Limit(500, 200_000)
    path = tmp_path / "limits.json"
    path.write_text(table)
    assert parse_limits(str(path)) == limits
    assert parse_limits(None) == {} and parse_limits(" ") == {}
    for bad in ('{"m": {"rpm": -1}}', '{"m": {"rps": 5}}', "[1]", "{nope"):
        with pytest.raises(ValueError, match="EPOCHPOD_RATE_LIMITS"):
            parse_limits(bad)
    assert limiter_for("openai", "unlisted", limits=table) is None
    assert limiter_for("openai", "tts-1", limits=table, state_url="memory:") is not None


def test_requests_are_spaced_at_the_limit_with_a_small_safety_margin() -> None:
    clock = FakeClock()
    pace = limiter(Limit(requests_per_minute=60, burst_seconds=0), clock)
    starts = [pace.acquire().start for _ in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1 / SAFETY] * 4)


def test_a_burst_of_one_seconds_allowance_starts_at_once_then_the_pace_holds() -> None:
    clock = FakeClock()
    pace = limiter(Limit(requests_per_minute=600, burst_seconds=1.0), clock)
    starts = [pace.reserve() for _ in range(15)]
    assert starts[:10] == pytest.approx([clock.now] * 10)  # ten a second: what the provider allows
    assert starts[10] > clock.now
    assert [b - a for a, b in itertools.pairwise(starts[10:])] == pytest.approx([0.1 / SAFETY] * 4)


def test_tokens_per_minute_bound_big_calls_and_are_settled_with_real_usage() -> None:
    clock = FakeClock()
    pace = limiter(Limit(requests_per_minute=10_000, tokens_per_minute=6_000), clock)
    first = pace.acquire(tokens=6_000)  # a minute's worth of tokens
    second = pace.reserve(tokens=100)
    # The one-second burst allowance (100 tokens) may start early; the rest waits a minute.
    assert second - first.start == pytest.approx((6_000 - 100) * 60 / (6_000 * SAFETY))
    pace.settle(first, tokens_used=100)  # it used far fewer: the slot comes much earlier
    third = pace.reserve(tokens=100)
    assert third < second


def test_a_429_blocks_everyone_for_retry_after_and_slows_the_pace() -> None:
    clock = FakeClock()
    pace = limiter(Limit(requests_per_minute=60, burst_seconds=0), clock)
    pace.acquire()
    pace.observe(429, {"retry-after-ms": "5000"}, sent_at=clock.now)
    start = pace.reserve()
    assert start >= clock.now + 5.0
    after = pace.reserve()
    assert after - start > 1 / SAFETY  # slower than before the 429
    assert pace.stats.rate_limited == 1


def test_provider_headers_lower_the_limit_and_hold_callers_when_nothing_remains() -> None:
    clock = FakeClock()
    pace = limiter(Limit(requests_per_minute=600, burst_seconds=0), clock)
    pace.observe(200, {"x-ratelimit-limit-requests": "60"}, sent_at=clock.now)
    a, b = pace.reserve(), pace.reserve()
    assert b - a == pytest.approx(1 / SAFETY, rel=0.05)  # paced at the provider's 60, not 600
    pace.observe(
        200,
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"},
        sent_at=clock.now,
    )
    assert pace.reserve() >= clock.now + 360


CHILD = """
import json, sys
from epochpod_assets.providers.ratelimit import Limit, RateLimiter, shared_state
pace = RateLimiter(
    "shared", Limit(requests_per_minute=6000, burst_seconds=0), shared_state(sys.argv[1])
)
print(json.dumps([pace.reserve() for _ in range(40)]))
"""


def reserve_in_processes(states: list[Path] | list[str]) -> list[float]:
    """Slots reserved by one process per state (a SQLite file, or any state URL)."""
    urls = [f"sqlite:///{state}" if isinstance(state, Path) else state for state in states]
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE) for url in urls
    ]
    starts: list[float] = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        starts += json.loads(out)
    return sorted(starts)


def test_processes_sharing_the_state_file_never_share_a_slot(tmp_path: Path) -> None:
    interval = 60 / 6000 / SAFETY
    shared = reserve_in_processes([tmp_path / "limits.sqlite3"] * 3)
    gaps = [b - a for a, b in itertools.pairwise(shared)]
    # Epoch seconds carry ~1e-7 s of float resolution.
    assert len(shared) == 120 and min(gaps) >= interval - 1e-6
    # The control: separate state files pace separately, so their slots collide.
    apart = reserve_in_processes([tmp_path / f"own-{i}.sqlite3" for i in range(3)])
    assert min(b - a for a, b in itertools.pairwise(apart)) < interval


@pytest.mark.postgres
def test_processes_sharing_postgresql_state_never_share_a_slot(postgres_url: str) -> None:
    # EPOCHPOD_RATE_LIMIT_URL for workers on several machines: one row per limiter, locked.
    shared = reserve_in_processes([postgres_url] * 3)
    assert len(shared) == 120
    assert min(b - a for a, b in itertools.pairwise(shared)) >= 60 / 6000 / SAFETY - 1e-6


def test_threads_sharing_a_sqlite_state_never_share_a_slot(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "limits.sqlite3")
    pace = RateLimiter("threads", Limit(requests_per_minute=6000, burst_seconds=0), state)
    with ThreadPoolExecutor(8) as pool:
        starts = sorted(pool.map(lambda _: pace.reserve(), range(80)))
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 60 / 6000 / SAFETY - 1e-6


def speak_many(server: FakeOpenAI, pace: RateLimiter | None, calls: int) -> int:
    """Speak `calls` lines from 8 threads; how many failed after the client's retries."""
    voice = OpenAIVoice(
        api_key=KEY, base_url=server.base_url, timeout=10, max_retries=10, limiter=pace
    )
    usage = Usage()
    barrier = threading.Barrier(8)

    def one(number: int) -> bool:
        if number < 8:
            barrier.wait(timeout=30)  # start together, as parallel synthesis does
        try:
            voice.synthesize(f"Line number {number}.", "alloy", usage)
        except ProviderError:
            return False
        return True

    try:
        with ThreadPoolExecutor(8) as pool:
            return calls - sum(pool.map(one, range(calls)))
    finally:
        voice.close()


def test_the_limiter_keeps_parallel_speech_under_the_servers_limit() -> None:
    limits = {SPEECH: ServerLimit(rpm=1200, burst_seconds=0.25)}  # 20/s, 5 at once
    with FakeOpenAI(api_key=KEY, limits=limits) as server:
        speak_many(server, None, 40)  # some may fail outright: that is the point
        unlimited = server.stats().statuses.get(429, 0)
    with FakeOpenAI(api_key=KEY, limits=limits) as server:
        # Configured with a smaller burst than the provider allows: the slack absorbs the
        # scheduling jitter of eight threads and a server in one process.
        pace = RateLimiter("speech", Limit(requests_per_minute=1200, burst_seconds=0.15))
        assert speak_many(server, pace, 40) == 0
        limited = server.stats().statuses.get(429, 0)
    assert unlimited >= 5  # without it, parallel synthesis trips the limit
    assert limited <= 1  # with it, at most a jitter-induced stray
