"""What OpenAI charges, so every materialization can show an estimated cost in USD.

The built-in table is a snapshot of OpenAI's public list prices on `PRICES_AS_OF`; prices
change, so operators override it with JSON (a file path or an inline JSON string, e.g. from
`EPOCHPOD_PRICES`) instead of waiting for a release:

    {
      "as_of": "2026-01-01",
      "llm": {"my-model": {"input": 0.5, "output": 1.5}},   # USD per 1M tokens
      "tts": {"my-tts": 12.0},                              # USD per 1M characters
      "fallback_llm": {"input": 0, "output": 0},            # e.g. a local Ollama/vLLM server
      "fallback_tts": 0
    }

Every key is optional and merges over the built-in table.

A model that is in neither table is priced with the fallback rate and logged once: the
estimate must never crash a run (a new model, a local server), and by default it errs high
(the dearest built-in rate) so an unknown model never looks free by accident.

Dated snapshots ("gpt-4o-mini-2024-07-18") are priced as their family ("gpt-4o-mini").
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

P = TypeVar("P")

PRICES_AS_OF = "2025-08-15"

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class TokenPrice:
    """USD per 1M tokens, input (prompt) and output (completion) priced separately."""

    input: float
    output: float


# USD per 1M tokens, OpenAI list prices (standard tier) on PRICES_AS_OF.
DEFAULT_LLM_PRICES: dict[str, TokenPrice] = {
    "gpt-4o": TokenPrice(2.50, 10.00),
    "gpt-4o-mini": TokenPrice(0.15, 0.60),
    "gpt-4.1": TokenPrice(2.00, 8.00),
    "gpt-4.1-mini": TokenPrice(0.40, 1.60),
    "gpt-4.1-nano": TokenPrice(0.10, 0.40),
    "gpt-5": TokenPrice(1.25, 10.00),
    "gpt-5-mini": TokenPrice(0.25, 2.00),
    "gpt-5-nano": TokenPrice(0.05, 0.40),
}

# USD per 1M input characters.
DEFAULT_TTS_PRICES: dict[str, float] = {
    "tts-1": 15.00,
    "tts-1-hd": 30.00,
    # ESTIMATE: OpenAI bills gpt-4o-mini-tts by tokens ($0.60/1M text in, $12/1M audio out)
    # and quotes about $0.015 per minute of speech; at roughly 1,000 characters per minute
    # that is about $15 per 1M characters.
    "gpt-4o-mini-tts": 15.00,
}

# Unknown models: the dearest built-in rates, so an estimate errs high rather than free.
DEFAULT_FALLBACK_LLM = TokenPrice(2.50, 10.00)
DEFAULT_FALLBACK_TTS = 30.00


@dataclass(frozen=True)
class Prices:
    """A price table; `llm_usd` and `tts_usd` turn usage into an estimated cost."""

    as_of: str = PRICES_AS_OF
    llm: Mapping[str, TokenPrice] = field(default_factory=lambda: dict(DEFAULT_LLM_PRICES))
    tts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTS_PRICES))
    fallback_llm: TokenPrice = DEFAULT_FALLBACK_LLM
    fallback_tts: float = DEFAULT_FALLBACK_TTS
    # What the operator's override priced itself ("llm:<model>", "tts:<model>", fallbacks).
    custom: frozenset[str] = frozenset()
    # Not OpenAI's API: the host, when `for_endpoint` made these prices for another server.
    endpoint: str | None = None

    def for_endpoint(self, base_url: str | None) -> Prices:
        """The prices for one server. OpenAI's API: the table as it is. Any other server (a
        local Ollama, vLLM or Kokoro, a gateway): a model OpenAI sells keeps its list price (a
        gateway passes OpenAI's bill on), and every other model costs $0 unless the operator's
        override prices it -- the dearest-rate fallback is for new OpenAI models, and says
        nothing about a machine you run."""
        if is_openai_endpoint(base_url):
            return self
        return replace(
            self,
            fallback_llm=self.fallback_llm if "fallback_llm" in self.custom else TokenPrice(0, 0),
            fallback_tts=self.fallback_tts if "fallback_tts" in self.custom else 0.0,
            endpoint=_host(base_url) or str(base_url),
        )

    def note(self, kind: str, model: str) -> str:
        """How `model` (kind "llm" or "tts") is priced, for metadata and `epochpod status`."""
        table: Mapping[str, Any] = self.llm if kind == "llm" else self.tts
        if _lookup(table, model) is not None:
            source = "EPOCHPOD_PRICES" if f"{kind}:{model}" in self.custom else "OpenAI list"
            return f"{source} price as of {self.as_of}"
        free = self.fallback_llm == TokenPrice(0, 0) if kind == "llm" else self.fallback_tts == 0
        if self.endpoint and free:
            return f"$0: local endpoint {self.endpoint} (set EPOCHPOD_PRICES to price {model})"
        return f"fallback rate (no price for {model}; set EPOCHPOD_PRICES)"

    def llm_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = _lookup(self.llm, model)
        if price is None:
            _warn_unknown("chat", model)
            price = self.fallback_llm
        return (prompt_tokens * price.input + completion_tokens * price.output) / PER_MILLION

    def tts_usd(self, model: str, characters: int) -> float:
        price = _lookup(self.tts, model)
        if price is None:
            _warn_unknown("speech", model)
            price = self.fallback_tts
        return characters * price / PER_MILLION


DEFAULT_PRICES = Prices()


def is_openai_endpoint(base_url: str | None) -> bool:
    """OpenAI's own API (or Azure OpenAI): what the built-in list prices are for."""
    if base_url is None:
        return True
    host = _host(base_url)
    return host == "openai.com" or host.endswith((".openai.com", ".openai.azure.com"))


def _host(base_url: str | None) -> str:
    return (urlsplit(base_url or "").hostname or "").lower()


def llm_usd(
    model: str, prompt_tokens: int, completion_tokens: int, prices: Prices = DEFAULT_PRICES
) -> float:
    """Estimated USD for one chat completion."""
    return prices.llm_usd(model, prompt_tokens, completion_tokens)


def tts_usd(model: str, characters: int, prices: Prices = DEFAULT_PRICES) -> float:
    """Estimated USD for synthesizing `characters` characters of text."""
    return prices.tts_usd(model, characters)


def load_prices(override: str | None) -> Prices:
    """The built-in table, with `override` (a JSON file path or a JSON string) merged over it.

    A broken override raises ValueError at start-up: silently pricing with stale numbers
    would be worse than refusing to start.
    """
    if override is None or not override.strip():
        return DEFAULT_PRICES
    data = _read_override(override)
    try:
        return _merge(DEFAULT_PRICES, data)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"price override is not a valid price table: {exc}") from None


def _read_override(override: str) -> dict[str, Any]:
    text = override.strip()
    if not text.startswith("{"):
        path = Path(text).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read price file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"price override is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("price override must be a JSON object")
    return data


def _merge(base: Prices, data: Mapping[str, Any]) -> Prices:
    unknown = set(data) - {"as_of", "llm", "tts", "fallback_llm", "fallback_tts"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    llm = dict(base.llm)
    llm.update({model: _token_price(rate) for model, rate in data.get("llm", {}).items()})
    tts = dict(base.tts)
    tts.update({model: _rate(rate) for model, rate in data.get("tts", {}).items()})
    custom = {f"llm:{m}" for m in data.get("llm", {})} | {f"tts:{m}" for m in data.get("tts", {})}
    custom |= {key for key in ("fallback_llm", "fallback_tts") if key in data}
    return replace(
        base,
        custom=base.custom | custom,
        as_of=str(data.get("as_of", base.as_of)),
        llm=llm,
        tts=tts,
        fallback_llm=_token_price(data["fallback_llm"])
        if "fallback_llm" in data
        else base.fallback_llm,
        fallback_tts=_rate(data["fallback_tts"]) if "fallback_tts" in data else base.fallback_tts,
    )


def _token_price(value: Any) -> TokenPrice:
    if not isinstance(value, Mapping):
        raise TypeError(f'expected {{"input": ..., "output": ...}}, got {value!r}')
    return TokenPrice(input=_rate(value["input"]), output=_rate(value["output"]))


def _rate(value: Any) -> float:
    # bool is an int subclass; `true` as a price is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"a price must be a non-negative number, got {value!r}")
    return float(value)


def _lookup(table: Mapping[str, P], model: str) -> P | None:
    if model in table:
        return table[model]
    # Longest family name first, so "gpt-4o-mini-2024-07-18" is not priced as "gpt-4o".
    for family in sorted(table, key=len, reverse=True):
        if model.startswith(family + "-") and _is_snapshot_suffix(model[len(family) + 1 :]):
            return table[family]
    return None


def _is_snapshot_suffix(suffix: str) -> bool:
    # "2024-07-18" or "0613": a dated snapshot of the same model, not a different model
    # such as "gpt-4o-mini-tts" (which must not inherit gpt-4o-mini's chat price).
    return suffix.replace("-", "").isdigit()


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_unknown(kind: str, model: str) -> None:
    with _warned_lock:
        if model in _warned:
            return
        _warned.add(model)
    log.warning("no %s price for model %r; estimating with the fallback rate", kind, model)
