"""A fake OpenAI API on loopback, for tests and benchmarks that drive the real `openai` client.

    with FakeOpenAI(api_key="sk-test") as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url)
        server.script("429", "ok")          # the next two calls: a rate limit, then an answer
        ...
        assert server.stats().prompt_tokens == usage.prompt_tokens

Endpoints
    POST /v1/chat/completions  JSON content from `responder(body)`; the default builds a valid
                               instance of the requested `response_format` json_schema.
    POST /v1/audio/speech      a quiet 240 Hz tone, 24 kHz mono s16le, `pcm` or `wav`.

Billing rules (deterministic, so tests can predict them; see `count_tokens`)
    prompt_tokens     = 3 + sum over messages of (4 + count_tokens(message text))
    completion_tokens = count_tokens(returned content, or the refusal text)
    speech samples    = len(input) * samples_per_char   (default 1,600 = 1/15 s per character)
    tts characters    = len(input)

Only 200 answers are billed. The server bills when it writes the answer, like the real API:
a latency spike longer than the client's timeout is billed although the client gave up.

Faults come from `Faults` (probabilities, drawn from a seeded RNG in arrival order) or from
`script(...)`, which overrides the probabilities for the next calls, one entry per call on
any endpoint:
    "ok"                        a normal answer
    "429", "500", "503", "400"  any status code: an OpenAI-style error body; 429 and 5xx carry
                                `retry-after-ms` and `Retry-After` (Faults.retry_after)
    "content_policy"            400 with code "content_policy_violation"
    "malformed"                 chat: 200 whose content is truncated, invalid JSON
    "refusal"                   chat: 200 with `message.refusal` and no content
    "drop"                      close the connection without answering
    "hang"                      answer nothing for Faults.hang_seconds, then drop
    "slow"                      Faults.spike_seconds of extra latency, then a normal answer
"malformed" and "refusal" make no sense for speech; there they answer normally, uncounted.

Servers that are not OpenAI (see support/schema_only.py for a model that follows only the schema)
    refuse="json_schema"       chat: 400 "response_format json_schema is not supported" for a
                               json_schema response_format, as vLLM, Ollama and llama.cpp
                               servers without structured outputs answer; json_object passes
    refuse="response_format"   chat: 400 for any response_format (plain text only)
    voices=(...)               speech: the voice names this server knows (default OpenAI's)
Refusals are counted in stats().statuses[400] and stats().faults["refused_<kind>"], unbilled.

Optional realism, off by default (for benchmarks and rate-limit tests)
    latency_model=LatencyModel(...)  chat: first-token delay + completion tokens / tokens per
                                     second; speech: base delay + seconds per input character
    limits={"chat": ServerLimit(rpm=500, tpm=...), "speech": ServerLimit(rpm=50)}
                                     token buckets refilled continuously, holding
                                     `burst_seconds` of the per-minute allowance (providers
                                     enforce per-minute limits over short windows); over the
                                     limit: 429 with Retry-After. Every answer on a limited
                                     endpoint carries x-ratelimit-limit/remaining/reset-*.
                                     Rejections are counted in stats().statuses[429] and
                                     stats().faults["rate_limited"].
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from epochpod_assets.providers.voices import VOICES

log = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], str]

CHAT = "chat"
SPEECH = "speech"
ENDPOINTS = {"/v1/chat/completions": CHAT, "/v1/audio/speech": SPEECH}

SAMPLE_RATE = 24_000
SPEECH_MAX_CHARS = 4_096
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
NAMED_FAULTS = {"ok", "content_policy", "malformed", "refusal", "drop", "hang", "slow"}

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The fake tokenizer: one token per run of word characters and per punctuation mark."""
    return len(_TOKEN.findall(text))


def prompt_tokens(messages: list[Any]) -> int:
    """Prompt tokens for a chat request: 3 + sum of (4 + tokens of each message's text)."""
    return 3 + sum(4 + count_tokens(_message_text(message)) for message in messages)


def speech_samples(text: str, samples_per_char: int = 1_600) -> int:
    """How many 24 kHz samples the fake speech endpoint returns for `text`."""
    return len(text) * samples_per_char


@dataclass(frozen=True)
class Faults:
    """What can go wrong, per call. Probabilities are independent draws, checked in order:
    error, drop, hang, malformed, refusal; latency and spikes apply to every call."""

    latency: float = 0.0  # seconds before every answer
    spike_rate: float = 0.0  # probability of an extra spike_seconds of latency
    spike_seconds: float = 1.0
    error_rate: float = 0.0  # probability of a transient error from error_statuses
    error_statuses: tuple[int, ...] = (429, 500, 503)
    # Sent on 429/5xx as retry-after-ms and Retry-After; small so tests stay fast.
    # None sends no header, so the client falls back to its own exponential backoff.
    retry_after: float | None = 0.05
    drop_rate: float = 0.0  # probability of closing the connection without an answer
    hang_rate: float = 0.0  # probability of answering nothing for hang_seconds
    hang_seconds: float = 30.0
    malformed_rate: float = 0.0  # chat: probability of invalid JSON content
    refusal_rate: float = 0.0  # chat: probability of a refusal


@dataclass(frozen=True)
class LatencyModel:
    """How long a real provider takes: scale it down in tests, keep it 1:1 in benchmarks."""

    chat_first_token: float = 0.5  # seconds before the first token
    chat_tokens_per_second: float = 60.0
    speech_base: float = 0.3
    speech_per_char: float = 0.0025

    def chat_seconds(self, completion_tokens: int) -> float:
        return self.chat_first_token + completion_tokens / self.chat_tokens_per_second

    def speech_seconds(self, characters: int) -> float:
        return self.speech_base + characters * self.speech_per_char

    def scaled(self, factor: float) -> LatencyModel:
        return LatencyModel(
            self.chat_first_token * factor,
            self.chat_tokens_per_second / factor,
            self.speech_base * factor,
            self.speech_per_char * factor,
        )


@dataclass(frozen=True)
class ServerLimit:
    """A provider's rate limit for one endpoint."""

    rpm: float | None = None
    tpm: float | None = None  # chat only: prompt tokens count on arrival, completion on answer
    burst_seconds: float = 1.0
    retry_after: float | None = None  # None: the time until one request fits again


class _Bucket:
    """A continuously refilled token bucket (the server's view of one limit)."""

    def __init__(self, per_minute: float, burst_seconds: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * burst_seconds / 60.0)
        self.level = self.capacity
        self.at = time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def seconds_until(self, amount: float) -> float:
        return max(0.0, (amount - self.level) / self.rate)

    def seconds_to_full(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


@dataclass(frozen=True)
class Stats:
    """What the server served. Billed totals count 200 answers only."""

    calls: Mapping[str, int]  # requests per endpoint ("chat", "speech", or the path)
    statuses: Mapping[int, int]  # answers per HTTP status
    faults: Mapping[str, int]  # injected faults per kind ("429", "drop", "malformed", ...)
    chat_billed: int  # 200 chat answers (each carries usage)
    speech_billed: int  # 200 speech answers
    prompt_tokens: int
    completion_tokens: int
    tts_characters: int

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True)
class Request:
    """One request the server received, after authentication."""

    endpoint: str
    body: dict[str, Any]
    at: float = 0.0  # time.monotonic() when it arrived: for timelines in benchmarks


@dataclass
class _Ledger:
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    chat_billed: int = 0
    speech_billed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_characters: int = 0


class FakeOpenAI:
    """An OpenAI-compatible HTTP server on 127.0.0.1, running in a background thread."""

    def __init__(
        self,
        api_key: str = "sk-test-fake-openai",
        *,
        responder: Responder | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        samples_per_char: int = 1_600,
        latency_model: LatencyModel | None = None,
        limits: Mapping[str, ServerLimit] | None = None,
        refuse: Literal["json_schema", "response_format"] | None = None,
        voices: Sequence[str] = VOICES,
    ) -> None:
        self.api_key = api_key
        self.refuse = refuse
        self.voices = tuple(voices)
        self.latency_model = latency_model
        self.limits = dict(limits or {})
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.responder: Responder = responder or default_responder
        self.faults = faults or Faults()
        self.samples_per_char = samples_per_char
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._ledger = _Ledger()
        self._script: list[str] = []
        self._requests: list[Request] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = httpd = _Server(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        self._thread = threading.Thread(
            # A short poll interval: stop() waits for it, and tests start many servers.
            target=lambda: httpd.serve_forever(poll_interval=0.02),
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging and sleeping handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake OpenAI server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- test controls -----------------------------------------------------------------------

    def script(self, *faults: str) -> None:
        """Queue faults for the next calls, one per call, on whichever endpoint comes next."""
        for fault in faults:
            if fault not in NAMED_FAULTS and not _is_status(fault):
                raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._script.extend(faults)

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> None:
        """Replace the fault settings, or change some of them: `set_faults(error_rate=0.1)`."""
        with self._lock:
            self.faults = replace(faults or self.faults, **changes)

    def stats(self) -> Stats:
        with self._lock:
            ledger = self._ledger
            return Stats(
                calls=dict(ledger.calls),
                statuses=dict(+ledger.statuses),  # unary + drops entries taken back to 0
                faults=dict(ledger.faults),
                chat_billed=ledger.chat_billed,
                speech_billed=ledger.speech_billed,
                prompt_tokens=ledger.prompt_tokens,
                completion_tokens=ledger.completion_tokens,
                tts_characters=ledger.tts_characters,
            )

    @property
    def requests(self) -> list[Request]:
        """Every authenticated request body, in arrival order."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget counts, recorded requests and the script (not the fault settings)."""
        with self._lock:
            self._ledger = _Ledger()
            self._requests.clear()
            self._script.clear()

    # -- used by the handler -----------------------------------------------------------------

    def _record_call(self, endpoint: str) -> None:
        with self._lock:
            self._ledger.calls[endpoint] += 1

    def _record_request(self, endpoint: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(Request(endpoint, body, time.monotonic()))

    def _record_status(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._ledger.statuses[status] += count

    def _record_fault(self, fault: str) -> None:
        with self._lock:
            self._ledger.faults[fault] += 1

    # Billing and statuses are recorded *before* the answer leaves (a client holding its
    # answer must find it counted) and taken back with sign=-1 if it could not be sent.

    def _bill_chat(self, prompt: int, completion: int, sign: int = 1) -> None:
        with self._lock:
            self._ledger.chat_billed += sign
            self._ledger.prompt_tokens += sign * prompt
            self._ledger.completion_tokens += sign * completion

    def _bill_speech(self, characters: int, sign: int = 1) -> None:
        with self._lock:
            self._ledger.speech_billed += sign
            self._ledger.tts_characters += sign * characters

    def _next_plan(self) -> tuple[str, float]:
        """The fault for this call ("ok" if none) and the latency before answering."""
        with self._lock:
            faults = self.faults
            rng = self._rng
            # Draw every number on every call, so one setting never shifts another's sequence.
            spike = rng.random() < faults.spike_rate
            draws = [
                (rng.random() < faults.error_rate, str(rng.choice(faults.error_statuses))),
                (rng.random() < faults.drop_rate, "drop"),
                (rng.random() < faults.hang_rate, "hang"),
                (rng.random() < faults.malformed_rate, "malformed"),
                (rng.random() < faults.refusal_rate, "refusal"),
            ]
            if self._script:
                fault = self._script.pop(0)
            else:
                fault = next((name for hit, name in draws if hit), "ok")
        delay = faults.latency + (faults.spike_seconds if spike or fault == "slow" else 0.0)
        return fault, delay

    def _admit(self, endpoint: str, prompt_tokens: int) -> tuple[float | None, dict[str, str]]:
        """Apply `limits` to one arriving request: (None, headers) if admitted, else
        (retry_after seconds, headers) for a 429."""
        limit = self.limits.get(endpoint)
        if limit is None:
            return None, {}
        with self._lock:
            now = time.monotonic()
            wanted = {"requests": (limit.rpm, 1.0), "tokens": (limit.tpm, float(prompt_tokens))}
            buckets = {}
            for kind, (per_minute, _) in wanted.items():
                if per_minute:
                    bucket = self._buckets.get((endpoint, kind))
                    if bucket is None:
                        bucket = self._buckets[(endpoint, kind)] = _Bucket(
                            per_minute, limit.burst_seconds
                        )
                    bucket.refill(now)
                    buckets[kind] = bucket
            short = max(
                (b.seconds_until(min(wanted[k][1], b.capacity)) for k, b in buckets.items()),
                default=0.0,
            )
            admitted = short <= 0
            if admitted:
                for kind, bucket in buckets.items():
                    bucket.level -= wanted[kind][1]
            headers = {}
            for kind, bucket in buckets.items():
                headers[f"x-ratelimit-limit-{kind}"] = str(round(wanted[kind][0] or 0))
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(bucket.level)))
                headers[f"x-ratelimit-reset-{kind}"] = f"{bucket.seconds_to_full():.3f}s"
        if admitted:
            return None, headers
        retry = limit.retry_after if limit.retry_after is not None else short
        return retry, headers

    def _charge_completion(self, endpoint: str, tokens: int) -> None:
        with self._lock:
            bucket = self._buckets.get((endpoint, "tokens"))
            if bucket is not None:
                bucket.refill(time.monotonic())
                bucket.level -= tokens

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True if it is."""
        return seconds > 0 and self._stopping.wait(seconds)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 refuses connections when a benchmark opens many at once.
    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI  # set on the per-server subclass
    # HTTP/1.1 keeps connections alive, as the openai client's pool expects.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and delayed ACKs
    # every answer would stall about 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake openai: " + format, *args)

    def do_POST(self) -> None:
        endpoint = ENDPOINTS.get(self.path.split("?")[0], self.path)
        self.fake._record_call(endpoint)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorized():
            self._send_error(401, self._bad_key_message(), "invalid_api_key")
            return
        body = _parse_json(raw)
        if body is None:
            self._send_error(400, "We could not parse the JSON body of your request.")
            return
        self.fake._record_request(endpoint, body)
        if endpoint not in (CHAT, SPEECH):
            self._send_error(404, f"Unknown path {self.path}", "unknown_url")
            return
        tokens = prompt_tokens(body.get("messages") or []) if endpoint == CHAT else 0
        retry_after, self._limit_headers = self.fake._admit(endpoint, tokens)
        if retry_after is not None:
            self.fake._record_fault("rate_limited")
            self._send_rate_limited(retry_after)
            return
        fault, delay = self.fake._next_plan()
        if self.fake._sleep(delay):
            return
        if fault != "ok" and not (endpoint == SPEECH and fault in ("malformed", "refusal")):
            self.fake._record_fault(fault)
        if fault in ("drop", "hang"):
            self.fake._sleep(self.fake.faults.hang_seconds if fault == "hang" else 0)
            self._drop()
        elif fault == "content_policy":
            message = "Your request was rejected as a result of our safety system."
            self._send_error(400, message, "content_policy_violation")
        elif _is_status(fault):
            self._send_error(int(fault), f"Injected fault: HTTP {fault}")
        elif endpoint == CHAT and (refused := self._refused(body)):
            self.fake._record_fault(f"refused_{self.fake.refuse}")
            self._send_error(400, refused)
        elif endpoint == CHAT:
            self._answer_chat(body, fault)
        else:
            self._answer_speech(body)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.fake.api_key}"

    def _bad_key_message(self) -> str:
        # Deliberately worse than OpenAI, which masks the key: echoing the whole key proves
        # that the providers scrub server messages before they reach logs and exceptions.
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        return f"Incorrect API key provided: {given}."

    # -- chat ------------------------------------------------------------------------------

    def _refused(self, body: dict[str, Any]) -> str | None:
        """The 400 message of a server without structured outputs, if it refuses this body."""
        fmt = body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if self.fake.refuse == "json_schema" and kind == "json_schema":
            return "response_format json_schema is not supported"
        if self.fake.refuse == "response_format" and fmt is not None:
            return "response_format is not supported by this server"
        return None

    def _answer_chat(self, body: dict[str, Any], fault: str) -> None:
        messages = body.get("messages")
        if not isinstance(body.get("model"), str) or not isinstance(messages, list):
            self._send_error(400, "'model' and 'messages' are required.")
            return
        refusal: str | None = None
        content: str | None
        if fault == "refusal":
            content, refusal = None, REFUSAL_TEXT
        else:
            try:
                content = self.fake.responder(body)
            except Exception as exc:  # a broken responder is a test bug: say so loudly
                log.exception("fake openai responder failed")
                self._send_error(500, f"responder failed: {exc!r}", "server_error")
                return
            if fault == "malformed":
                content = content[: max(1, len(content) // 2)]
        prompt = prompt_tokens(messages)
        completion = count_tokens(content or refusal or "")
        model = self.fake.latency_model
        if model is not None and self.fake._sleep(model.chat_seconds(completion)):
            return
        self.fake._charge_completion(CHAT, completion)
        answer = {
            "id": f"chatcmpl-fake-{self.fake._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        self.fake._bill_chat(prompt, completion)
        if not self._send(200, json.dumps(answer).encode(), "application/json"):
            self.fake._bill_chat(prompt, completion, sign=-1)

    # -- speech ----------------------------------------------------------------------------

    def _answer_speech(self, body: dict[str, Any]) -> None:
        problem = _speech_problem(body, self.fake.voices)
        if problem:
            self._send_error(400, problem)
            return
        text: str = body["input"]
        model = self.fake.latency_model
        if model is not None and self.fake._sleep(model.speech_seconds(len(text))):
            return
        pcm = _tone(speech_samples(text, self.fake.samples_per_char))
        fmt = body.get("response_format", "mp3")
        audio, content_type = (pcm, "audio/pcm") if fmt == "pcm" else (_wav(pcm), "audio/wav")
        self.fake._bill_speech(len(text))
        if not self._send(200, audio, content_type):
            self.fake._bill_speech(len(text), sign=-1)

    # -- wire ------------------------------------------------------------------------------

    _limit_headers: dict[str, str] = {}

    def _send_rate_limited(self, retry_after: float) -> None:
        error = {
            "message": "Rate limit reached. Please try again later.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
        headers = {
            "retry-after-ms": str(max(1, round(retry_after * 1000))),
            "Retry-After": str(max(1, math.ceil(retry_after))),
        }
        self._send(429, json.dumps({"error": error}).encode(), "application/json", headers)

    def _send_error(self, status: int, message: str, code: str | None = None) -> None:
        kind = {
            400: "invalid_request_error",
            401: "invalid_request_error",
            404: "invalid_request_error",
            429: "rate_limit_exceeded",
        }
        error = {"message": message, "type": kind.get(status, "server_error"), "param": None}
        headers: dict[str, str] = {}
        retry_after = self.fake.faults.retry_after
        if (status == 429 or status >= 500) and retry_after is not None:
            headers["retry-after-ms"] = str(round(retry_after * 1000))
            headers["Retry-After"] = str(math.ceil(retry_after))
        payload = json.dumps({"error": {**error, "code": code}}).encode()
        self._send(status, payload, "application/json", headers)

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Write one answer; False if the client had already gone away."""
        self.fake._record_status(status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-request-id", f"req_fake_{self.fake._next_id()}")
            for name, value in {**self._limit_headers, **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            self.fake._record_status(status, count=-1)
            return False
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)


# -- default responder: a valid instance of any JSON schema ----------------------------------


def default_responder(body: Mapping[str, Any]) -> str:
    """JSON fitting the request's json_schema; `{}` for json_object; plain text otherwise."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(example_for_schema(fmt["json_schema"]["schema"]))
    if fmt.get("type") == "json_object":
        return "{}"
    return "This is a fake answer."


def requested_schema_name(body: Mapping[str, Any]) -> str | None:
    """The json_schema name a chat request asked for (OpenAIWriter sends the model class name)."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return None
    name = fmt.get("json_schema", {}).get("name")
    return name if isinstance(name, str) else None


def responder_by_schema(
    answers: Mapping[str, Callable[[dict[str, Any]], str]],
    fallback: Responder = default_responder,
) -> Responder:
    """A responder that answers by requested schema name, e.g. {"InterviewOutline": fn}."""

    def respond(body: dict[str, Any]) -> str:
        answer = answers.get(requested_schema_name(body) or "")
        return answer(body) if answer else fallback(body)

    return respond


def example_for_schema(schema: Mapping[str, Any]) -> Any:
    """A deterministic value that validates against `schema` (the subset pydantic emits)."""
    return _example(schema, root=schema, name="text", depth=0)


_MAX_DEPTH = 8


def _example(schema: Mapping[str, Any], root: Mapping[str, Any], name: str, depth: int) -> Any:
    if "$ref" in schema:
        return _example(_resolve(root, schema["$ref"]), root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _example(_pick_option(schema[key], depth), root, name, depth + 1)
    if schema.get("allOf"):
        return _example(schema["allOf"][0], root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = "null" if depth > _MAX_DEPTH and "null" in kind else kind[0]
    if kind == "object" or "properties" in schema:
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {key: _example(sub, root, key, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        count = 0 if depth > _MAX_DEPTH else max(schema.get("minItems", 1), 1)
        count = min(count, schema.get("maxItems", count))
        item_schema = schema.get("items", {})
        return [_example(item_schema, root, name, depth + 1) for _ in range(count)]
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def _pick_option(options: list[Mapping[str, Any]], depth: int) -> Mapping[str, Any]:
    # Prefer a real value, but take null when deep, so recursive schemas terminate.
    non_null = [option for option in options if option.get("type") != "null"]
    nulls = [option for option in options if option.get("type") == "null"]
    if depth > _MAX_DEPTH and nulls:
        return nulls[0]
    return (non_null or options)[0]


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    step = 1 if integer else 0.5
    value: float = 1
    if "minimum" in schema or "exclusiveMinimum" in schema:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + step)
        value = max(value, low)
    if "maximum" in schema or "exclusiveMaximum" in schema:
        high = schema.get("maximum", schema.get("exclusiveMaximum", 0) - step)
        value = min(value, high)
    return math.ceil(value) if integer else float(value)


_FORMATS = {
    "date-time": "2000-01-01T00:00:00Z",
    "date": "2000-01-01",
    "time": "00:00:00",
    "duration": "PT1S",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: Mapping[str, Any], name: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    text = name.replace("_", " ")
    min_length = schema.get("minLength", 0)
    while len(text) < min_length:
        text += " " + name.replace("_", " ")
    return text[: schema.get("maxLength", len(text))]


def _message_text(message: Any) -> str:
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: count only the text ones
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


# -- speech helpers --------------------------------------------------------------------------


def _speech_problem(body: Mapping[str, Any], voices: Sequence[str] = VOICES) -> str | None:
    text, model, voice = body.get("input"), body.get("model"), body.get("voice")
    if not isinstance(text, str) or not isinstance(model, str) or not isinstance(voice, str):
        return "'model', 'voice' and 'input' are required strings."
    if len(text) > SPEECH_MAX_CHARS:
        return f"'input' is {len(text)} characters; the maximum is {SPEECH_MAX_CHARS}."
    if voice not in voices:
        return f"Unknown voice {voice!r}."
    if body.get("instructions") is not None and model in ("tts-1", "tts-1-hd"):
        return f"'instructions' is not supported by {model}."
    if body.get("response_format", "mp3") not in ("pcm", "wav"):
        return "The fake server speaks only 'pcm' and 'wav'."
    return None


_TONE_PERIOD = b"".join(
    # 240 Hz divides 24 kHz exactly: one 100-sample period repeats seamlessly. Quiet (-20 dBFS).
    struct.pack("<h", round(3276 * math.sin(2 * math.pi * i / 100)))
    for i in range(100)
)


def _tone(samples: int) -> bytes:
    repeats, rest = divmod(samples, 100)
    return _TONE_PERIOD * repeats + _TONE_PERIOD[: rest * 2]


def _wav(pcm: bytes) -> bytes:
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        SAMPLE_RATE,
        SAMPLE_RATE * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def _parse_json(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _is_status(fault: str) -> bool:
    return len(fault) == 3 and fault.isdigit() and 400 <= int(fault) <= 599
