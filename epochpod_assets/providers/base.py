"""What every writer (LLM) and voice (TTS) provider promises the asset code.

The assets never know which provider they talk to: they hand a `WritingTask` to a `Writer`
and text to a `Voice`, and both report what they spent into a shared `Usage`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class WritingTask(Generic[T]):
    """One piece of writing: an outline, a script, or a section of a script.

    `template` is the offline writer's deterministic answer; a model-backed writer ignores it
    and asks the model for JSON that fits `schema`, then runs `check` on the parsed answer.
    """

    name: str
    schema: type[T]
    instructions: str
    prompt: str
    template: Callable[[], T]
    # Raises ValueError with a readable message when an answer fits the schema but not the
    # request (unknown speaker, word budget blown). A model-backed writer re-asks with it.
    check: Callable[[T], None] | None = None


@dataclass
class Usage:
    """What one asset spent with its providers. Thread-safe: segments synthesize in parallel."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_calls: int = 0
    tts_characters: int = 0
    usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_llm(self, prompt_tokens: int, completion_tokens: int, usd: float) -> None:
        with self._lock:
            self.llm_calls += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.usd += usd

    def add_tts(self, characters: int, usd: float) -> None:
        with self._lock:
            self.tts_calls += 1
            self.tts_characters += characters
            self.usd += usd

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Writer(Protocol):
    """Turns a writing task into a validated pydantic object."""

    provider: str
    model: str

    def write(self, task: WritingTask[T], usage: Usage) -> T: ...


@dataclass(frozen=True)
class Speech:
    """Synthesized speech as mono, signed 16-bit little-endian PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class Voice(Protocol):
    """Speaks text in a named voice (OpenAI voice names; offline voices map them)."""

    provider: str
    model: str

    def synthesize(
        self, text: str, voice: str, usage: Usage, instructions: str | None = None
    ) -> Speech: ...


class ProviderError(RuntimeError):
    """A provider call failed (after the client's own retries); the message is safe to show.

    `transient` says whether trying again later may help (rate limits, outages, timeouts):
    Dagster's retry policy then gets one more go before the episode is marked FAILED.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
