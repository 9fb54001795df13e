"""The production writer: OpenAI chat completions with structured outputs.

Works with any OpenAI-compatible server (Ollama, vLLM) through `base_url`.

Failure policy
- Transient errors (429, 5xx, timeouts, dropped connections) are retried by the openai client
  itself (`max_retries`): exponential backoff with jitter, honouring Retry-After.
- Permanent errors (400, 401, 403, 404, content policy) fail at once.
- An answer that is not valid JSON, does not fit the schema, or fails `task.check` is re-asked
  up to `max_reasks` times, with the reason appended to the conversation.
- A refusal fails at once: asking again rarely changes the model's mind and costs money.
Every answer that carried usage is billed into `Usage`, including rejected ones.
Error messages never contain the API key, even when a server echoes it back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import openai
import pydantic
from openai.lib._pydantic import to_strict_json_schema
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from epochpod_assets.providers.base import ProviderError, T, Usage, WritingTask
from epochpod_assets.providers.pricing import Prices, load_prices
from epochpod_assets.ratelimit import RateLimiter, Reservation

DEFAULT_MODEL = "gpt-4o-mini"
# Long enough for a full script section; OpenAI's own default (10 minutes) hides hung calls.
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_REASKS = 2
_MAX_REASON_CHARS = 1_500

R = TypeVar("R")


class OpenAIProvider:
    """What the OpenAI writer and voice share: one client, its prices and its rate limiter."""

    provider = "openai"
    default_model: str  # each provider's own, used when no model is given

    def __init__(
        self,
        api_key: str,
        model: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        prices: Prices | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.model = model or self.default_model
        self.prices = prices or load_prices(None)
        # Shared with every other run and process calling this model (see ratelimit.py).
        self.limiter = limiter
        self._client = make_client(api_key, base_url, timeout, max_retries, limiter)
        self._api_key = api_key

    def close(self) -> None:
        self._client.close()


class OpenAIWriter(OpenAIProvider):
    """Writes each `WritingTask` as JSON that fits its pydantic schema, via chat completions."""

    default_model = DEFAULT_MODEL

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_reasks: int = DEFAULT_MAX_REASKS,
        prices: Prices | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(api_key, model, base_url, timeout, max_retries, prices, limiter)
        self.max_reasks = max_reasks

    def write(self, task: WritingTask[T], usage: Usage) -> T:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": task.instructions},
            {"role": "user", "content": task.prompt},
        ]
        response_format = _response_format(task)
        reason = ""
        for _attempt in range(self.max_reasks + 1):
            content = self._complete(task, messages, response_format, usage)
            try:
                return _accept(task, content)
            except ValueError as exc:  # pydantic.ValidationError is a ValueError
                reason = _reason(exc)
            messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": _reask_prompt(task, reason)},
            ]
        raise ProviderError(
            f"{self.model} gave no acceptable {task.name} in {self.max_reasks + 1} attempts; "
            f"last problem: {reason}"
        )

    def _complete(
        self,
        task: WritingTask[T],
        messages: list[ChatCompletionMessageParam],
        response_format: ResponseFormatJSONSchema,
        usage: Usage,
    ) -> str:
        """One chat completion (with the client's transient retries); its content."""
        with _expecting(self.limiter) as reservation:
            completion = call_openai(
                lambda: self._client.chat.completions.create(
                    model=self.model, messages=messages, response_format=response_format
                ),
                doing=f"writing {task.name}",
                api_key=self._api_key,
            )
        if self.limiter is not None and reservation is not None and completion.usage:
            # Tokens were reserved on a guess; the shared pace needs what was really used.
            self.limiter.settle(reservation, completion.usage.total_tokens)
        self._bill(completion, usage)
        if not completion.choices:
            raise ProviderError(f"{self.model} returned no answer for {task.name}")
        choice = completion.choices[0]
        if choice.message.refusal:
            raise ProviderError(f"the model refused to write {task.name}: {choice.message.refusal}")
        if choice.finish_reason == "content_filter":
            raise ProviderError(f"the content filter stopped {task.name}")
        return choice.message.content or ""

    def _bill(self, completion: ChatCompletion, usage: Usage) -> None:
        if completion.usage is None:  # some compatible servers omit it; nothing to bill
            return
        prompt = completion.usage.prompt_tokens
        answer = completion.usage.completion_tokens
        usage.add_llm(prompt, answer, self.prices.llm_usd(self.model, prompt, answer))


def make_client(
    api_key: str,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    limiter: RateLimiter | None = None,
) -> openai.OpenAI:
    """An openai client that retries transient failures itself; shared with OpenAIVoice.

    With a limiter, every HTTP attempt (the client's retries included) first waits for its
    slot, and every answer's status and rate-limit headers feed the shared pace.
    """
    if not api_key:
        raise ProviderError("OpenAI needs an API key: set OPENAI_API_KEY")
    http_client = openai.DefaultHttpxClient(event_hooks=limiter.event_hooks()) if limiter else None
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        http_client=http_client,
    )


@contextlib.contextmanager
def _expecting(limiter: RateLimiter | None) -> Iterator[Reservation | None]:
    if limiter is None:
        yield None
        return
    with limiter.expecting(None) as reservation:
        yield reservation


def call_openai(call: Callable[[], R], doing: str, api_key: str) -> R:
    """`call()`, with any openai failure that survived the client's retries as ProviderError."""
    try:
        return call()
    except openai.OpenAIError as exc:
        error = provider_error(exc, doing, api_key)
    # Raised outside the except block on purpose: the openai exception (whose body may echo
    # the key) must not ride along as __context__ into tracebacks and Dagster's error view.
    raise error


def provider_error(exc: openai.OpenAIError, doing: str, api_key: str) -> ProviderError:
    """A safe, readable ProviderError for an openai failure that survived the client's retries."""
    if isinstance(exc, openai.APIStatusError):
        message = f"OpenAI answered HTTP {exc.status_code} while {doing}: {_server_message(exc)}"
        if exc.request_id:
            message += f" (request id {exc.request_id})"
    elif isinstance(exc, openai.APITimeoutError):
        message = f"OpenAI timed out while {doing}, even after retries"
    elif isinstance(exc, openai.APIConnectionError):
        message = f"could not reach OpenAI while {doing}, even after retries"
    else:
        message = f"OpenAI failed while {doing}: {exc}"
    transient = isinstance(
        exc, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError
    )
    return ProviderError(redact(message, api_key), transient=transient)


def redact(text: str, secret: str) -> str:
    # A misconfigured or hostile server may echo the key; never let it reach a log or the UI.
    return text.replace(secret, "[redacted]") if secret else text


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return exc.message


def _response_format(task: WritingTask[Any]) -> ResponseFormatJSONSchema:
    # An explicit json_schema rather than `chat.completions.parse()`: parse() raises on an
    # invalid answer before handing back the completion, and its usage would go unbilled.
    return {
        "type": "json_schema",
        "json_schema": {
            "name": task.schema.__name__,
            "schema": to_strict_json_schema(task.schema),
            "strict": True,
        },
    }


def _accept(task: WritingTask[T], content: str) -> T:
    """The parsed, checked answer; ValueError with the reason if it is not acceptable."""
    answer = task.schema.model_validate_json(content)
    if task.check is not None:
        task.check(answer)
    return answer


def _reason(exc: ValueError) -> str:
    if isinstance(exc, pydantic.ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'answer'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        reason = "; ".join(problems)
    else:
        reason = str(exc) or type(exc).__name__
    return reason[:_MAX_REASON_CHARS]


def _reask_prompt(task: WritingTask[Any], reason: str) -> str:
    return (
        f"That {task.name} was rejected: {reason}\n"
        "Answer again with the whole JSON object, fixing this and keeping to the schema."
    )


__all__ = ["OpenAIWriter", "call_openai", "make_client", "provider_error", "redact"]
