"""One rate limiter per provider and model, shared by every run and process that calls it.

Dagster's concurrency pools (`llm`, `tts`) bound how many calls are *in flight*; they say
nothing about how many start per minute, and a provider's limit is a rate. This module keeps
the start rate of calls at the configured limit, from however many threads and processes.

How it works
- Limits are configuration: `EPOCHPOD_RATE_LIMITS` is JSON (or the path of a JSON file) keyed
  by model, e.g. `{"gpt-4o-mini": {"rpm": 500, "tpm": 200000}, "tts-1": {"rpm": 50}}`.
- Scheduling is GCRA (the "virtual scheduling" form of a token bucket): the shared state
  holds, per provider+model, the theoretical arrival time (TAT) of the next request and of the
  next token. A caller reserves its slot in one short transaction (TAT moves on by one
  interval, or by its tokens' worth), then sleeps until the slot comes. Reservations are
  first come, first served and never overlap, however many processes reserve at once.
- The state lives in a small SQLite file (default `EPOCHPOD_HOME/ratelimits.sqlite3`,
  `BEGIN IMMEDIATE` serializes reservations across processes on one machine) or, for workers
  on several machines, in PostgreSQL (`EPOCHPOD_RATE_LIMIT_URL`, a `SELECT ... FOR UPDATE` on
  the limiter's row). Both use the wall clock, so hosts sharing PostgreSQL must run NTP.
- Feedback from the provider: every HTTP attempt (the openai client's own retries included)
  goes through httpx event hooks. A 429 pushes the shared "blocked until" time to its
  `Retry-After` / `retry-after-ms` and cuts the rate by `BACKOFF` for every caller; each
  success wins back a little (`RECOVERY`), so a mis-configured limit settles just below the
  provider's real one instead of hammering it. `x-ratelimit-limit-*` headers lower the
  configured limit when the provider's is smaller, and `x-ratelimit-remaining-* = 0` holds
  callers until the matching `x-ratelimit-reset-*`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx2

from epochpod_assets import settings

LIMITS_ENV = "EPOCHPOD_RATE_LIMITS"
STATE_URL_ENV = "EPOCHPOD_RATE_LIMIT_URL"

# Run a little under the configured limit: requests are timed on our clock but counted on the
# provider's, and network jitter between the two must not turn into 429s.
SAFETY = 0.95
# On a 429 every caller slows to this share of the current rate; floor so a burst of 429s
# (say, another tenant on the same key) cannot stall the pipeline for good.
BACKOFF = 0.9
MIN_FACTOR = 0.25
# Each success wins back this much of the full rate: about 50 calls to recover one backoff.
# Slow on purpose: a 429 under a correct limit means jitter ate the safety margin, and
# running straight back into the same margin would trip again.
RECOVERY = 0.002
# A caller that starts later than its slot by more than this moves the next slot back.
LATE_SECONDS = 0.005
# Chat calls reserve tokens before the answer's size is known; this is the guess when the
# caller gives none. The reservation is settled with the real usage afterwards.
DEFAULT_COMPLETION_TOKENS = 1_000
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Limit:
    """What a provider allows one model: requests and (for chat) tokens per minute.

    `burst_seconds` is how much of a minute's allowance may start at once. Providers enforce
    per-minute limits over shorter windows (OpenAI: "500 RPM may be enforced as ~8 per
    second"), so a burst of one second's worth is what they accept without a 429.
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        # JSON takes Infinity and NaN; an infinite burst is no limit at all.
        if not (math.isfinite(self.burst_seconds) and self.burst_seconds >= 0):
            raise ValueError(
                f"burst_seconds must be a finite number, not negative, got {self.burst_seconds!r}"
            )

    @property
    def unlimited(self) -> bool:
        return self.requests_per_minute is None and self.tokens_per_minute is None


def parse_limits(raw: str | None) -> dict[str, Limit]:
    """Limits per model from JSON text or a JSON file's path; {} when unset.

    Keys are model names, optionally with the provider (`openai/tts-1`); values take `rpm`,
    `tpm` and `burst_seconds`. A malformed table is an error rather than no limit: running
    unlimited when someone asked for a limit is how accounts get suspended.
    """
    if not raw or not raw.strip():
        return {}
    text = raw.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise ValueError(f"{LIMITS_ENV}: cannot read {raw!r}: {exc.strerror}") from None
    try:
        table = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{LIMITS_ENV} is not valid JSON: {exc.msg}") from None
    if not isinstance(table, dict):
        raise ValueError(f"{LIMITS_ENV} must be a JSON object keyed by model")
    limits = {}
    for model, entry in table.items():
        if not isinstance(entry, dict) or set(entry) - {"rpm", "tpm", "burst_seconds"}:
            raise ValueError(
                f"{LIMITS_ENV}[{model!r}] must be an object with rpm, tpm and burst_seconds"
            )
        try:
            limits[str(model)] = Limit(
                requests_per_minute=_number(entry.get("rpm")),
                tokens_per_minute=_number(entry.get("tpm")),
                burst_seconds=_number(entry.get("burst_seconds", 1.0)) or 0.0,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{LIMITS_ENV}[{model!r}]: {exc}") from None
    return limits


def _number(value: Any) -> float | None:
    # JSON numbers only: "500" and true are mistakes, not 500 and 1.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {json.dumps(value)}")
    return float(value)


def limit_for(limits: Mapping[str, Limit], provider: str, model: str) -> Limit:
    return limits.get(f"{provider}/{model}") or limits.get(model) or Limit()


# -- shared state ---------------------------------------------------------------------------


@dataclass
class Bucket:
    """One limiter's shared state. Times are wall-clock seconds (time.time())."""

    request_tat: float = 0.0  # when the next request may start, with no burst left
    token_tat: float = 0.0  # the same for tokens
    factor: float = 1.0  # share of the configured rate in use; < 1 after 429s
    blocked_until: float = 0.0  # nobody starts before this (Retry-After, remaining = 0)
    learned_rpm: float = 0.0  # x-ratelimit-limit-requests, 0 when never seen
    learned_tpm: float = 0.0


class State(Protocol):
    """Where buckets live; `update` runs `change` on one bucket atomically, across processes."""

    def update(self, key: str, change: Callable[[Bucket], float]) -> float: ...


class MemoryState:
    """Buckets in this process only: for tests and for a single-process deployment."""

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def update(self, key: str, change: Callable[[Bucket], float]) -> float:
        with self._lock:
            return change(self._buckets.setdefault(key, Bucket()))


_COLUMNS = ("request_tat", "token_tat", "factor", "blocked_until", "learned_rpm", "learned_tpm")
# An arbitrary application-wide key for pg_advisory_xact_lock ("EPRL" in ASCII).
_SCHEMA_LOCK = 0x4550524C
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rate_limit_buckets (key TEXT PRIMARY KEY, "
    + ", ".join(f"{c} DOUBLE PRECISION NOT NULL" for c in _COLUMNS)
    + ")"
)


class SqliteState:
    """Buckets in a SQLite file: shared by every process on this machine.

    One reservation is one `BEGIN IMMEDIATE` transaction of a few microseconds; the write lock
    is what serializes processes. A connection per thread, because sqlite3 connections must
    not be shared between threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with contextlib.closing(self._connect()) as conn:
            # WAL lets readers (none today) and the one writer coexist; it persists in the file.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves; the long timeout makes a
        # busy writer a short wait, never an error.
        return sqlite3.connect(self.path, timeout=30.0, isolation_level=None)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def update(self, key: str, change: Callable[[Bucket], float]) -> float:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM rate_limit_buckets WHERE key = ?", (key,)
            ).fetchone()
            bucket = Bucket(*row) if row else Bucket()
            result = change(bucket)
            values = [getattr(bucket, c) for c in _COLUMNS]
            conn.execute(
                f"INSERT OR REPLACE INTO rate_limit_buckets (key, {', '.join(_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in _COLUMNS)})",
                (key, *values),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result


class SqlState:
    """Buckets in PostgreSQL: shared by workers on every machine that reaches the database."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # CREATE TABLE IF NOT EXISTS is not safe against itself: two workers starting
                # at once can both try to create the table's type and one fails. Creating it
                # under a transaction-scoped lock serializes them.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            conn.exec_driver_sql(_SCHEMA)

    def update(self, key: str, change: Callable[[Bucket], float]) -> float:
        sa = self._sa
        with self.engine.begin() as conn:
            defaults = Bucket()
            conn.execute(
                sa.text(
                    f"INSERT INTO rate_limit_buckets (key, {', '.join(_COLUMNS)}) VALUES "
                    f"(:key, {', '.join(':' + c for c in _COLUMNS)}) ON CONFLICT DO NOTHING"
                ),
                {"key": key, **{c: getattr(defaults, c) for c in _COLUMNS}},
            )
            row = conn.execute(
                sa.text(
                    f"SELECT {', '.join(_COLUMNS)} FROM rate_limit_buckets WHERE key = :key "
                    "FOR UPDATE"
                ),
                {"key": key},
            ).one()
            bucket = Bucket(*row)
            result = change(bucket)
            conn.execute(
                sa.text(
                    "UPDATE rate_limit_buckets SET "
                    + ", ".join(f"{c} = :{c}" for c in _COLUMNS)
                    + " WHERE key = :key"
                ),
                {"key": key, **{c: getattr(bucket, c) for c in _COLUMNS}},
            )
        return result


_states: dict[str, State] = {}
_states_lock = threading.Lock()


def shared_state(url: str | None = None) -> State:
    """The process-wide state for `url` (default: EPOCHPOD_RATE_LIMIT_URL, else the SQLite
    file under EPOCHPOD_HOME). `memory:` keeps buckets in this process only."""
    url = url or settings.load().rate_limit_url or f"sqlite:///{_default_path()}"
    with _states_lock:
        state = _states.get(url)
        if state is None:
            if url == "memory:":
                state = MemoryState()
            elif url.startswith("sqlite:///"):
                state = SqliteState(Path(url.removeprefix("sqlite:///")))
            else:
                state = SqlState(url)
            _states[url] = state
        return state


def _default_path() -> Path:
    return settings.epochpod_home() / "ratelimits.sqlite3"


# -- the limiter ----------------------------------------------------------------------------


@dataclass
class Reservation:
    """What one call reserved; the chat writer settles `tokens` with the real usage."""

    tokens: int = 0
    start: float = 0.0


@dataclass
class LimiterStats:
    """What this process's limiter did: the benchmark and the tests read it."""

    calls: int = 0
    waited_seconds: float = 0.0
    rate_limited: int = 0  # 429 answers seen


_expected: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "epochpod_expected_completion_tokens", default=None
)
_reservation: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar(
    "epochpod_reservation", default=None
)


class RateLimiter:
    """Paces calls to one provider+model at its limit, sharing the pace through `state`."""

    def __init__(
        self,
        key: str,
        limit: Limit,
        state: State | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        safety: float = SAFETY,
    ) -> None:
        self.key = key
        self.limit = limit
        self.state = state or MemoryState()
        self.stats = LimiterStats()
        self._clock = clock
        self._sleep = sleep
        self._safety = safety
        self._stats_lock = threading.Lock()

    # -- scheduling --

    def reserve(self, tokens: int = 0) -> float:
        """Reserve the next free slot for one request of `tokens` tokens; its start time."""
        now = self._clock()
        limit, safety = self.limit, self._safety

        def take(bucket: Bucket) -> float:
            start = max(now, bucket.blocked_until)
            rpm = _effective(limit.requests_per_minute, bucket.learned_rpm)
            tpm = _effective(limit.tokens_per_minute, bucket.learned_tpm)
            if rpm:
                interval = 60.0 / (rpm * safety * bucket.factor)
                # A burst of b requests is allowed when the TAT is at most (b - 1) intervals
                # ahead; at least one request must always be allowed.
                tolerance = max(math.floor(rpm * limit.burst_seconds / 60.0) - 1, 0) * interval
                start = max(start, bucket.request_tat - tolerance)
                bucket.request_tat = max(bucket.request_tat, start) + interval
            if tpm and tokens:
                per_token = 60.0 / (tpm * safety * bucket.factor)
                tolerance = tpm * limit.burst_seconds / 60.0 * per_token
                start = max(start, bucket.token_tat - tolerance)
                bucket.token_tat = max(bucket.token_tat, start) + tokens * per_token
            return start

        return self.state.update(self.key, take)

    def acquire(self, tokens: int = 0) -> Reservation:
        """Wait for a slot; returns the reservation (start time and tokens reserved)."""
        start = self.reserve(tokens)
        wait = start - self._clock()
        if wait > 0:
            self._sleep(wait)
        late = self._clock() - start
        if late > LATE_SECONDS and self.limit.requests_per_minute:
            # This thread woke (or was scheduled) late: the provider will count the request
            # when it really arrives, so the next one must keep its distance from that.
            self._push_back(start + late)
        with self._stats_lock:
            self.stats.calls += 1
            self.stats.waited_seconds += max(wait, 0.0)
        return Reservation(tokens=tokens, start=start)

    def _push_back(self, sent_at: float) -> None:
        rpm, safety = self.limit.requests_per_minute or 0.0, self._safety

        def push(bucket: Bucket) -> float:
            rate = _effective(rpm, bucket.learned_rpm) or rpm
            bucket.request_tat = max(
                bucket.request_tat, sent_at + 60.0 / (rate * safety * bucket.factor)
            )
            return 0.0

        self.state.update(self.key, push)

    def settle(self, reservation: Reservation, tokens_used: int) -> None:
        """Correct a chat call's token reservation with what it really used."""
        tpm = self.limit.tokens_per_minute
        difference = tokens_used - reservation.tokens
        if not tpm or not difference:
            return
        safety = self._safety

        def adjust(bucket: Bucket) -> float:
            rate = _effective(tpm, bucket.learned_tpm) or tpm
            per_token = 60.0 / (rate * safety * bucket.factor)
            bucket.token_tat += difference * per_token
            return 0.0

        self.state.update(self.key, adjust)
        reservation.tokens = tokens_used

    # -- feedback --

    def observe(self, status: int, headers: Mapping[str, str], sent_at: float) -> None:
        """Learn from one answer: its status and its rate-limit headers."""
        now = self._clock()
        retry_after = _retry_after(headers) if status == 429 else None
        learned_rpm = _float(headers.get("x-ratelimit-limit-requests"))
        learned_tpm = _float(headers.get("x-ratelimit-limit-tokens"))
        holds = []
        for kind in ("requests", "tokens"):
            if _float(headers.get(f"x-ratelimit-remaining-{kind}")) == 0:
                reset = _duration(headers.get(f"x-ratelimit-reset-{kind}"))
                # The provider counted when the request arrived, about when it was sent.
                if reset is not None:
                    holds.append(sent_at + reset)

        def learn(bucket: Bucket) -> float:
            if learned_rpm:
                bucket.learned_rpm = learned_rpm
            if learned_tpm:
                bucket.learned_tpm = learned_tpm
            if holds:
                bucket.blocked_until = max(bucket.blocked_until, *holds)
            if status == 429:
                bucket.factor = max(MIN_FACTOR, bucket.factor * BACKOFF)
                wait = retry_after if retry_after is not None else 1.0
                bucket.blocked_until = max(bucket.blocked_until, now + wait)
            elif status < 400:
                bucket.factor = min(1.0, bucket.factor + RECOVERY)
            return 0.0

        if status == 429:
            with self._stats_lock:
                self.stats.rate_limited += 1
        if status == 429 or status < 400 or learned_rpm or learned_tpm or holds:
            self.state.update(self.key, learn)

    # -- wiring into an httpx client --

    @contextlib.contextmanager
    def expecting(self, completion_tokens: int | None) -> Iterator[Reservation]:
        """Tell the request hook how many completion tokens the call will likely use; the
        yielded reservation holds what was reserved once the call is made."""
        reservation = Reservation()
        token_expected = _expected.set(completion_tokens)
        token_reservation = _reservation.set(reservation)
        try:
            yield reservation
        finally:
            _expected.reset(token_expected)
            _reservation.reset(token_reservation)

    def event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """httpx event hooks: every attempt (retries included) waits for its slot and reports
        its answer. Hooks run in the calling thread, so the context variables set by
        `expecting` are visible."""
        chat = self.limit.tokens_per_minute is not None

        def before(request: httpx2.Request) -> None:
            tokens = 0
            if chat:
                expected = _expected.get()
                prompt = math.ceil(len(request.content) / CHARS_PER_TOKEN)
                tokens = prompt + (DEFAULT_COMPLETION_TOKENS if expected is None else expected)
            granted = self.acquire(tokens)
            request.extensions["epochpod_sent_at"] = self._clock()
            holder = _reservation.get()
            if holder is not None:
                # A retry reserves again; settle only the last attempt's reservation, the
                # earlier ones were real (rejected) requests the provider counted too.
                holder.tokens, holder.start = granted.tokens, granted.start

        def after(response: httpx2.Response) -> None:
            sent_at = float(response.request.extensions.get("epochpod_sent_at", self._clock()))
            self.observe(response.status_code, response.headers, sent_at)

        return {"request": [before], "response": [after]}


def _effective(configured: float | None, learned: float) -> float | None:
    """The limit to pace at: the configured one, lowered to the provider's if that is less."""
    if configured and learned:
        return min(configured, learned)
    return configured


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    # OpenAI sends retry-after-ms (precise) and Retry-After (whole seconds, or an HTTP date
    # we do not bother with: then the backoff factor and the default wait apply).
    ms = _float(headers.get("retry-after-ms"))
    if ms is not None:
        return max(ms / 1000.0, 0.0)
    seconds = _float(headers.get("retry-after"))
    return max(seconds, 0.0) if seconds is not None else None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _duration(value: str | None) -> float | None:
    """OpenAI's reset durations: "1s", "6m0s", "20ms", "1h2m3.5s"."""
    if not value:
        return None
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return _float(value)
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(
    provider: str,
    model: str,
    *,
    base_url: str | None = None,
    limits: str | None = None,
    state_url: str | None = None,
) -> RateLimiter | None:
    """The process-wide limiter for a provider+model, or None when no limit is configured.

    `limits` is the JSON table (default: EPOCHPOD_RATE_LIMITS). The bucket key includes the
    server, so a local vLLM and OpenAI proper never share a pace.
    """
    table = parse_limits(limits if limits is not None else settings.load().rate_limits)
    limit = limit_for(table, provider, model)
    if limit.unlimited:
        return None
    server = (base_url or "https://api.openai.com/v1").rstrip("/")
    key = f"{provider}|{server}|{model}"
    url = state_url or settings.load().rate_limit_url or f"sqlite:///{_default_path()}"
    with _limiters_lock:
        limiter = _limiters.get((url, key))
        if limiter is None or limiter.limit != limit:
            limiter = RateLimiter(key, limit, shared_state(url))
            _limiters[(url, key)] = limiter
        return limiter


__all__ = [
    "Limit",
    "MemoryState",
    "RateLimiter",
    "Reservation",
    "SqlState",
    "SqliteState",
    "limiter_for",
    "parse_limits",
    "shared_state",
]
