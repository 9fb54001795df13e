"""What every writer (LLM) and voice (TTS) provider promises the asset code.

The assets never know which provider they talk to: they hand a `WritingTask` to a `Writer`
and text to a `Voice`, and both report what they spent into a shared `Usage`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class WritingTask(Generic[T]):
    """One piece of writing: an outline, a script, or a section of a script.

    `template` is the offline writer's deterministic answer; a model-backed writer ignores it
    and asks the model for JSON that fits `json_schema`, then runs `check` on the parsed answer.

    `json_schema` is the per-request schema sent to the model (OpenAI strict mode: every
    property required, no additional properties): it says everything about this request that a
    JSON schema can (the cast as an enum, a story's node ids as fixed properties, counts as
    minItems/maxItems), so a model that follows only the schema still answers validly. Unset,
    it is `schema`'s own strict schema. When the wire shape differs from `schema` (node ids as
    keys instead of a list), `decode` turns an answer into `schema`'s input and `encode` turns
    a `schema` instance back into the wire shape (what a well-behaved model would have sent).
    """

    name: str
    schema: type[T]
    instructions: str
    prompt: str
    template: Callable[[], T]
    # Raises ValueError with a readable message when an answer fits the schema but not the
    # request (unknown speaker, word budget blown). A model-backed writer re-asks with it.
    check: Callable[[T], None] | None = None
    json_schema: Mapping[str, Any] | None = None
    decode: Callable[[Any], Any] | None = None
    encode: Callable[[T], Any] | None = None

    def response_schema(self) -> dict[str, Any]:
        """The JSON schema sent to the model for this task."""
        if self.json_schema is not None:
            return dict(self.json_schema)
        # Imported on use: the openai package costs every run worker's start ~0.5 s, and the
        # offline writer never needs it.
        from openai.lib._pydantic import to_strict_json_schema

        return to_strict_json_schema(self.schema)

    def parse(self, data: Any) -> T:
        """An answer (parsed JSON in the wire shape) as `schema`; pydantic's ValidationError
        (a ValueError) if it does not fit."""
        if self.decode is None:
            return self.schema.model_validate(data)
        try:
            decoded = self.decode(data)
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise StructureRejected(
                f"the answer does not have the schema's shape ({type(exc).__name__}: {exc})"
            ) from None
        return self.schema.model_validate(decoded)

    def wire(self, answer: T) -> Any:
        """`answer` in the wire shape (JSON-ready)."""
        return self.encode(answer) if self.encode else answer.model_dump(mode="json")


class Rejected(ValueError):
    """An answer that fits the schema but not the request. `kind` says why, for the re-ask
    counts in the stage's metadata: what a schema can say is "structure" (and should never
    happen once the schema says it); length, continuity and the cast's balance are checks a
    schema cannot express."""

    kind: ClassVar[str] = "content"


class StructureRejected(Rejected):
    kind = "structure"


class LengthRejected(Rejected):
    kind = "length"


class ContinuityRejected(Rejected):
    kind = "continuity"


class CastRejected(Rejected):
    """A cast member who never speaks, or a share of the words far from even."""

    kind = "cast"


# Every reason a re-ask is counted under (the stage metadata shows each, zeros included).
REASK_KINDS = ("structure", "length", "continuity", "cast", "content")


def rejection_kind(error: BaseException) -> str:
    """The re-ask reason for an answer rejected with `error`: a `Rejected` says its own kind;
    anything else (invalid JSON, a schema or model mismatch) is structure."""
    return error.kind if isinstance(error, Rejected) else "structure"


@dataclass
class Usage:
    """What one asset spent with its providers. Thread-safe: segments synthesize in parallel."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_calls: int = 0
    tts_characters: int = 0
    usd: float = 0.0
    # Answers sent back to the writer, by reason (`rejection_kind`).
    reasks: Counter[str] = field(default_factory=Counter)
    # How the writer asked for JSON ("json_schema", "json_object", "text"), when it says.
    structured_output: str | None = None
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

    def add_reask(self, kind: str) -> None:
        with self._lock:
            self.reasks[kind] += 1

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
