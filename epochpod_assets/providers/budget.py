"""What an episode will cost before it is paid for, and the optional per-episode spending cap.

Two checks, both driven by `EPOCHPOD_MAX_EPISODE_USD` (unset: no cap, nothing is stopped):

- At the start of each spending stage, `check_budget` estimates what the rest of the episode
  will cost from its request alone (target minutes x 150 words per minute -> tokens and TTS
  characters -> USD at the providers' prices) and adds what this generation has already spent
  (from `generation_metrics`). Over the cap, the stage stops before its first call, with a
  reason that names the figures.
- While the stage runs, the providers handed out by the resources (`BudgetedWriter`,
  `BudgetedVoice`) refuse a call that would take the stage past what the cap leaves it. Speech is
  billed per character, so a voice stops before the exact segment that would cross the line.

The estimate is deliberately simple and errs a little high; its constants are calibrated
against the offline templates, which are written to the same word budgets.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from epochpod_assets import settings
from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.providers.base import Speech, T, Usage, Voice, Writer, WritingTask
from epochpod_assets.providers.pricing import Prices, load_prices
from epochpod_assets.providers.selection import planned_provider
from epochpod_assets.status import Stage

if TYPE_CHECKING:
    from epochpod_assets.catalog import Catalog
    from epochpod_assets.defs.assets.stages import StageRun

log = logging.getLogger(__name__)

BUDGET_ENV = "EPOCHPOD_MAX_EPISODE_USD"
PRICES_ENV = "EPOCHPOD_PRICES"

# Calibrated on the offline templates (5.3 to 5.9 characters per spoken word, spaces and
# punctuation included); rounded up so the estimate errs high.
CHARS_PER_WORD = 6.0
# English runs about 4 characters per token. A script's JSON (keys, speaker names, section
# titles) adds 5 to 10 % to its spoken text: about 6.3 characters per word -> 1.6 tokens.
CHARS_PER_TOKEN = 4.0
SCRIPT_TOKENS_PER_WORD = 1.6
SCRIPT_FIXED_TOKENS = 150
# An outline is a plan: a few hundred tokens, growing slowly with the episode's length.
OUTLINE_FIXED_TOKENS = 250
OUTLINE_TOKENS_PER_MINUTE = 20
# The script prompt: instructions, the request and the script schema, plus the outline itself.
SCRIPT_PROMPT_FIXED_TOKENS = 700
# Research reads each source in chunks of ~1,200 words (~1,800 tokens with the prompt) and
# answers with a dozen facts and their quotes (~700 tokens). A source's length is unknown
# until research reads it: the estimate assumes two chunks per source, one call without any.
RESEARCH_CALL_PROMPT_TOKENS = 1_800
RESEARCH_CALL_ANSWER_TOKENS = 700
RESEARCH_CHUNKS_PER_SOURCE = 2
# Every prompt after research carries the fact sheet (up to 40 facts, ~35 tokens each), and
# the time guard's model pass reads the script's lines again (billed in the script stage).
FACT_SHEET_PROMPT_TOKENS = 1_400

OPENAI = "openai"


class BudgetExceeded(RuntimeError):
    """An episode stopped because going on would spend more than its cap; nothing was spent."""


@dataclass(frozen=True)
class StageEstimate:
    stage: str  # "research" | "outline" | "script" | "audio", as in generation_metrics
    model: str | None  # None: an offline provider, which costs nothing
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_characters: int = 0
    usd: float = 0.0


@dataclass(frozen=True)
class EpisodeEstimate:
    """What one generation of an episode should cost, stage by stage."""

    spoken_words: int
    stages: tuple[StageEstimate, ...]

    @property
    def usd(self) -> float:
        return sum(s.usd for s in self.stages)

    def from_stage(self, stage: str) -> tuple[StageEstimate, ...]:
        """This stage and the ones after it."""
        names = [s.stage for s in self.stages]
        return self.stages[names.index(stage) :]

    def describe(self, stages: Sequence[StageEstimate] | None = None) -> str:
        parts = [
            f"{s.stage} ${s.usd:.4f}" + (f" on {s.model}" if s.model else " offline")
            for s in (self.stages if stages is None else stages)
        ]
        return ", ".join(parts)


def spoken_words(request: Any, fmt: EpisodeFormat[Any, Any, Any]) -> int:
    """Words that will be voiced: target minutes x 150, or more for a format that voices
    more than one listen (an adventure voices every branch)."""
    return fmt.spoken_words(request)


def estimate_episode(
    request: Any,
    fmt: EpisodeFormat[Any, Any, Any],
    *,
    llm_model: str | None,
    tts_model: str | None,
    prices: Prices,
) -> EpisodeEstimate:
    """The cost of writing and voicing `request` once, before anything is spent.

    `llm_model` / `tts_model` are None for offline providers (free).
    """
    words = spoken_words(request, fmt)
    minutes = float(getattr(request, "target_minutes", 5))
    outline_task = fmt.outline_task(request)
    outline_prompt = _prompt_tokens(outline_task) + FACT_SHEET_PROMPT_TOKENS
    outline_answer = OUTLINE_FIXED_TOKENS + math.ceil(OUTLINE_TOKENS_PER_MINUTE * minutes)
    script_answer = SCRIPT_FIXED_TOKENS + math.ceil(SCRIPT_TOKENS_PER_WORD * words)
    # The script's prompt, plus the time guard's model pass reading the script once more.
    script_prompt = SCRIPT_PROMPT_FIXED_TOKENS + outline_answer + FACT_SHEET_PROMPT_TOKENS
    script_prompt += script_answer
    research_calls = max(1, RESEARCH_CHUNKS_PER_SOURCE * len(getattr(request, "sources", [])))
    characters = math.ceil(CHARS_PER_WORD * words)

    def llm(stage: str, prompt: int, answer: int) -> StageEstimate:
        usd = prices.llm_usd(llm_model, prompt, answer) if llm_model else 0.0
        return StageEstimate(stage, llm_model, prompt, answer, 0, usd)

    audio_usd = prices.tts_usd(tts_model, characters) if tts_model else 0.0
    return EpisodeEstimate(
        spoken_words=words,
        stages=(
            llm(
                "research",
                research_calls * RESEARCH_CALL_PROMPT_TOKENS,
                research_calls * RESEARCH_CALL_ANSWER_TOKENS,
            ),
            llm("outline", outline_prompt, outline_answer),
            llm("script", script_prompt, script_answer),
            StageEstimate("audio", tts_model, tts_characters=characters, usd=audio_usd),
        ),
    )


def _prompt_tokens(task: WritingTask[Any]) -> int:
    # Structured outputs send the JSON schema with every call, and it is billed as input.
    schema = json.dumps(task.response_schema())
    return math.ceil((len(task.instructions) + len(task.prompt) + len(schema)) / CHARS_PER_TOKEN)


def max_episode_usd() -> float | None:
    """The cap from EPOCHPOD_MAX_EPISODE_USD; None when unset. A malformed cap is an error
    (`settings.SettingsError`) rather than no cap: silently spending without the limit
    someone asked for is worse."""
    return settings.load().max_episode_usd


def spent_usd(catalog: Catalog, episode_id: str) -> float:
    """USD recorded for this episode's current generation (since its outline last started), so
    a regeneration someone asked for starts a fresh budget, while a retry of one stage counts
    what the failed attempt already spent."""
    return catalog.generation_spend(episode_id).usd


def spoken_characters(catalog: Catalog, episode_id: str) -> int:
    """Characters already voiced for this episode's current generation (speech spoken ahead
    by a long-form script stage, or a failed audio attempt): the segment cache holds them."""
    return catalog.generation_spend(episode_id).tts_characters


def _less_spoken(estimate: EpisodeEstimate, spoken: int, prices: Prices) -> EpisodeEstimate:
    """The estimate with the audio stage's speech reduced by what is already spoken."""
    if spoken <= 0:
        return estimate
    stages = []
    for stage in estimate.stages:
        if stage.stage == "audio" and stage.model:
            left = max(0, stage.tts_characters - spoken)
            stage = replace(stage, tts_characters=left, usd=prices.tts_usd(stage.model, left))
        stages.append(stage)
    return replace(estimate, stages=tuple(stages))


_STAGE_NAMES = {
    Stage.RESEARCHING: "research",
    Stage.GENERATING_OUTLINE: "outline",
    Stage.GENERATING_SCRIPT: "script",
    Stage.GENERATING_AUDIO: "audio",
}


def check_budget(
    run: StageRun,
    catalog: Catalog,
    stage: Stage,
    *,
    writer: Writer | None = None,
    voice: Voice | None = None,
    speaks_ahead: bool = False,
) -> EpisodeEstimate:
    """Stop `stage` before it spends anything if the episode would go over its cap.

    Call it first thing inside `episode_stage`, with the providers the stage will use; the
    provider for later stages is the one the environment configures. Raises BudgetExceeded
    (the episode then becomes FAILED with the message); otherwise arms the stage's providers so
    a call that would exceed what is left is refused too. Returns the estimate.

    `speaks_ahead`: this (script) stage speaks the episode while writing it (long-form), so the
    audio stage's speech is spent here and the allowance does not hold it back for later.
    Speech already spoken in this generation counts against the audio estimate, which is why
    the audio stage of such an episode is not refused for speech it will find cached.
    """
    name = _STAGE_NAMES[stage]
    estimate = estimate_episode(
        run.episode.request,
        run.episode.format,
        llm_model=_billable_model(writer) if writer else _planned_model("writer"),
        tts_model=_billable_model(voice) if voice else _planned_model("voice"),
        prices=_prices(writer or voice),
    )
    cap = max_episode_usd()
    if cap is None:
        return estimate
    spent = spent_usd(catalog, run.episode.id)
    estimate = _less_spoken(estimate, spoken_characters(catalog, run.episode.id), _prices(voice))
    ahead = estimate.from_stage(name)
    needed = sum(s.usd for s in ahead)
    if spent + needed > cap:
        raise BudgetExceeded(
            f"over budget: this episode would cost about ${spent + needed:.4f} "
            f"(${spent:.4f} spent so far; still to come: {estimate.describe(ahead)}), "
            f"more than {BUDGET_ENV}=${cap:.4f}; stopped before the {name} spent anything"
        )
    later = sum(s.usd for s in ahead[1:] if not (speaks_ahead and s.stage == "audio"))
    guard = Allowance(stage=name, usd=cap - spent - later, cap=cap)
    for provider in (writer, voice):
        if isinstance(provider, BudgetedWriter | BudgetedVoice):
            provider.arm(guard)
    return estimate


def _billable_model(provider: Writer | Voice) -> str | None:
    return provider.model if provider.provider == OPENAI else None


def _planned_model(role: Literal["writer", "voice"]) -> str | None:
    provider, model = planned_provider(role)
    return model if provider == OPENAI else None


def _prices(provider: Writer | Voice | None) -> Prices:
    inner = provider.inner if isinstance(provider, BudgetedWriter | BudgetedVoice) else provider
    prices = getattr(inner, "prices", None)
    return prices if isinstance(prices, Prices) else load_prices(settings.load().prices)


@dataclass
class Allowance:
    """What one stage may still spend: the cap, less what was spent before the stage and what
    the stages after it are estimated to need.

    One allowance arms every provider of the stage, and calls run in parallel (segments are
    spoken concurrently; a long script is spoken while it is written), so the cost of calls
    in flight is reserved here, writer's and voice's alike: without that, a writer call and a
    speech call could each see room for one more and both spend it.
    """

    stage: str
    usd: float
    cap: float
    _reserved: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @contextmanager
    def spending(self, usage: Usage, call_usd: float, doing: str) -> Iterator[None]:
        """Holds `call_usd` for the call made inside the block, or raises BudgetExceeded
        before it if what the stage spent, the calls in flight and this one would pass the
        allowance. A finished call is briefly counted twice (in `usage` and still held): the
        check errs towards stopping, never towards overspending."""
        with self._lock:
            committed = usage.usd + self._reserved
            if committed + call_usd > self.usd:
                raise self.refuse(committed, call_usd, doing)
            self._reserved += call_usd
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= call_usd

    def refuse(self, spent: float, call_usd: float, doing: str) -> BudgetExceeded:
        return BudgetExceeded(
            f"over budget: {doing} would bring the {self.stage} to ${spent + call_usd:.4f}, "
            f"more than the ${max(self.usd, 0.0):.4f} that {BUDGET_ENV}=${self.cap:.4f} leaves "
            f"it; stopped before that call"
        )


class BudgetedWriter:
    """A writer that refuses a task once the stage's allowance cannot cover another answer.

    Before `check_budget` arms it, it only passes calls through.
    """

    def __init__(self, inner: Writer, prices: Prices) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        self.prices = prices
        self._allowance: Allowance | None = None

    def arm(self, allowance: Allowance) -> None:
        self._allowance = allowance

    def write(self, task: WritingTask[T], usage: Usage) -> T:
        allowance = self._allowance
        if allowance is not None and self.provider == OPENAI:
            # The answer's length is unknown until it arrives; assume it is as long as the
            # prompt (scripts are about that, outlines shorter).
            tokens = _prompt_tokens(task)
            call_usd = self.prices.llm_usd(self.model, tokens, tokens)
            with allowance.spending(usage, call_usd, f"writing the {task.name}"):
                return self.inner.write(task, usage)
        return self.inner.write(task, usage)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class BudgetedVoice:
    """A voice that refuses a segment whose characters the stage's allowance cannot pay for
    (with what calls in flight hold: `Allowance.spending`)."""

    def __init__(self, inner: Voice, prices: Prices) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        self.prices = prices
        self._allowance: Allowance | None = None

    def arm(self, allowance: Allowance) -> None:
        self._allowance = allowance

    def voice_identity(self, voice: str) -> str:
        identity = getattr(self.inner, "voice_identity", None)
        return identity(voice) if identity is not None else voice

    def synthesize(
        self, text: str, voice: str, usage: Usage, instructions: str | None = None
    ) -> Speech:
        allowance = self._allowance
        if allowance is None or self.provider != OPENAI:
            return self.inner.synthesize(text, voice, usage, instructions)
        # Exact, not estimated: speech is billed per input character.
        call_usd = self.prices.tts_usd(self.model, len(text))
        with allowance.spending(usage, call_usd, f"speaking {len(text)} characters"):
            return self.inner.synthesize(text, voice, usage, instructions)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
