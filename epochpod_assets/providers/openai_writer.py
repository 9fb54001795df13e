"""The production writer: OpenAI chat completions with structured outputs.

Works with any OpenAI-compatible server (Ollama, vLLM) through `base_url`.

Failure policy
- Transient errors (429, 5xx, timeouts, dropped connections) are retried by the openai client
  itself (`max_retries`): exponential backoff with jitter, honouring Retry-After.
- Permanent errors (400, 401, 403, 404, content policy) fail at once.
- An answer that is not valid JSON, does not fit the schema, or fails `task.check` is re-asked
  up to `max_reasks` times, with the reason appended to the conversation; each re-ask is
  counted by reason (`Usage.reasks`: structure, length, continuity, cast).
- A server that answers that the response format is unsupported gets JSON mode, then plain
  text, with the schema in the prompt (see `capabilities`); answers are checked the same way.
- A refusal fails at once: asking again rarely changes the model's mind and costs money.
Every answer that carried usage is billed into `Usage`, including rejected ones.
Error messages never contain the API key, even when a server echoes it back.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import jsonschema
import openai
import pydantic
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from epochpod_assets.providers.base import (
    ProviderError,
    StructureRejected,
    T,
    Usage,
    WritingTask,
    rejection_kind,
)
from epochpod_assets.providers.capabilities import Mode, StructuredOutputMemory
from epochpod_assets.providers.pricing import Prices, load_prices
from epochpod_assets.providers.ratelimit import RateLimiter, Reservation

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
        self.base_url = base_url
        # A server that is not OpenAI's is free unless the operator's price table says not.
        self.prices = (prices or load_prices(None)).for_endpoint(base_url)
        # Shared with every other run and process calling this model (see ratelimit.py).
        self.limiter = limiter
        self._client = make_client(api_key, base_url, timeout, max_retries, limiter)
        self._api_key = api_key

    def close(self) -> None:
        self._client.close()


class OpenAIWriter(OpenAIProvider):
    """Writes each `WritingTask` as JSON that fits its per-request schema, via chat completions.

    With a server that refuses `json_schema` (or `response_format` altogether) it steps down
    to JSON mode and then to plain text, with the schema in the prompt, once per server and
    model (see `capabilities`), and checks the answer against the schema itself.
    """

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
        memory: StructuredOutputMemory | None = None,
    ) -> None:
        super().__init__(api_key, model, base_url, timeout, max_retries, prices, limiter)
        self.max_reasks = max_reasks
        self.memory = memory or StructuredOutputMemory(None)

    def write(self, task: WritingTask[T], usage: Usage) -> T:
        schema = task.response_schema()
        validator = _validator(schema)
        conversation: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": task.instructions},
            {"role": "user", "content": task.prompt},
        ]
        reason = ""
        for attempt in range(self.max_reasks + 1):
            content, mode = self._complete(task, schema, conversation, usage)
            try:
                return _accept(task, validator, content, mode)
            except ValueError as exc:  # pydantic.ValidationError is a ValueError
                reason = _reason(exc)
                if attempt < self.max_reasks:
                    usage.add_reask(rejection_kind(exc))
            conversation += [
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
        schema: dict[str, Any],
        conversation: list[ChatCompletionMessageParam],
        usage: Usage,
    ) -> tuple[str, Mode]:
        """One answered chat completion, in the best mode the server takes; (content, mode)."""
        mode = self.memory.mode(self.base_url, self.model)
        while True:
            try:
                completion = self._create(task, _wire(task, schema, conversation, mode))
                break
            except _Unsupported as refused:
                mode = self.memory.step_down(self.base_url, self.model, mode, refused.reason)
        usage.structured_output = mode
        self._bill(completion, usage)
        if not completion.choices:
            raise ProviderError(f"{self.model} returned no answer for {task.name}")
        choice = completion.choices[0]
        if choice.message.refusal:
            raise ProviderError(f"the model refused to write {task.name}: {choice.message.refusal}")
        if choice.finish_reason == "content_filter":
            raise ProviderError(f"the content filter stopped {task.name}")
        return choice.message.content or "", mode

    def _create(self, task: WritingTask[Any], request: dict[str, Any]) -> ChatCompletion:
        """One chat completion (with the client's transient retries)."""

        def create() -> ChatCompletion:
            try:
                completion: ChatCompletion = self._client.chat.completions.create(
                    model=self.model, **request
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                reason = _unsupported_format(exc)
                if reason is None:
                    raise
                unsupported = _Unsupported(redact(reason, self._api_key))
            else:
                return completion
            # Outside the except block: the openai error (whose body may echo the key) must
            # not ride along as __context__.
            raise unsupported

        with _expecting(self.limiter) as reservation:
            completion = call_openai(create, doing=f"writing {task.name}", api_key=self._api_key)
        if self.limiter is not None and reservation is not None and completion.usage:
            # Tokens were reserved on a guess; the shared pace needs what was really used.
            self.limiter.settle(reservation, completion.usage.total_tokens)
        return completion

    def _bill(self, completion: ChatCompletion, usage: Usage) -> None:
        if completion.usage is None:  # some compatible servers omit it; nothing to bill
            return
        prompt = completion.usage.prompt_tokens
        answer = completion.usage.completion_tokens
        usage.add_llm(prompt, answer, self.prices.llm_usd(self.model, prompt, answer))


class _Unsupported(Exception):
    """The server refused the response format (not an answer: nothing was billed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# A 400 or 422 that names the response format and says it is not supported, as OpenAI-
# compatible servers without structured outputs answer ("response_format json_schema is not
# supported", "Unrecognized request argument supplied: response_format", "extra_forbidden").
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output", re.I)
_REFUSAL_WORDS = re.compile(
    r"not supported|unsupported|unrecognized|not permitted|not allowed|unknown|invalid|"
    r"extra(_forbidden| inputs)|not implemented",
    re.I,
)


def _unsupported_format(exc: openai.APIStatusError) -> str | None:
    message = _server_message(exc)
    if _FORMAT_WORDS.search(message) and _REFUSAL_WORDS.search(message):
        return message[:300]
    return None


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


def _wire(
    task: WritingTask[Any],
    schema: dict[str, Any],
    conversation: list[ChatCompletionMessageParam],
    mode: Mode,
) -> dict[str, Any]:
    """The request's messages and response format for `mode`."""
    if mode == "json_schema":
        # An explicit json_schema rather than `chat.completions.parse()`: parse() raises on an
        # invalid answer before handing back the completion, and its usage would go unbilled.
        response_format: ResponseFormatJSONSchema = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(task), "schema": schema, "strict": True},
        }
        return {"messages": conversation, "response_format": response_format}
    # The schema in the prompt: the one thing a model without structured outputs can follow;
    # titled with its name, as the response format would have named it.
    system = conversation[0]
    titled = {"title": _schema_name(task), **schema}
    instructions = (
        f"{system.get('content', '')}\n\n"
        "Answer with one JSON object, and nothing else, that fits this JSON schema "
        "(every property is required; no other properties):\n"
        f"```json\n{json.dumps(titled, separators=(',', ':'))}\n```"
    )
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": instructions},
        *conversation[1:],
    ]
    if mode == "json_object":
        return {"messages": messages, "response_format": {"type": "json_object"}}
    return {"messages": messages}


def _schema_name(task: WritingTask[Any]) -> str:
    # OpenAI allows [a-zA-Z0-9_-]{1,64}; the fake server and tests key answers on it.
    return task.schema.__name__


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _accept(
    task: WritingTask[T], validator: jsonschema.protocols.Validator, content: str, mode: Mode
) -> T:
    """The parsed, checked answer; ValueError with the reason if it is not acceptable.

    In JSON and text mode nothing enforced the schema, so it is checked here; in `json_schema`
    mode the server did. Either way the model's own validation and the task's checks follow."""
    data = extract_json(content) if mode == "text" else _loads(content)
    problem = None
    if mode != "json_schema":
        problem = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if problem is not None:
        where = ".".join(str(part) for part in problem.absolute_path) or "answer"
        raise StructureRejected(f"{where}: {_schema_problem(problem)}")
    answer = task.parse(data)
    if task.check is not None:
        task.check(answer)
    return answer


def _schema_problem(error: jsonschema.exceptions.ValidationError) -> str:
    """What is wrong, in the words a model (and a person reading the UI) acts on."""
    bound, value = error.validator_value, error.instance
    size = len(value) if isinstance(value, list | str | dict) else None
    messages = {
        "minItems": f"needs at least {bound} items, has {size}",
        "maxItems": f"may have at most {bound} items, has {size}",
        "minLength": f"needs at least {bound} characters, has {size}",
        "maxLength": f"may have at most {bound} characters, has {size}",
        "enum": f"must be one of {bound!r}, got {value!r}",
        "const": f"must be {bound!r}, got {value!r}",
    }
    return messages.get(str(error.validator), error.message)[:300]


def _loads(content: str) -> Any:
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise StructureRejected(f"Invalid JSON: {exc.msg} at character {exc.pos}") from None


_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S | re.I)


def extract_json(text: str) -> Any:
    """The JSON object in a plain-text answer: the whole answer, a fenced block, or the first
    object in the prose. StructureRejected when there is none."""
    candidates = [text.strip(), *(block.strip() for block in _FENCED.findall(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    for start in (i for i, char in enumerate(text) if char == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        return value
    raise StructureRejected("the answer holds no JSON object")


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


__all__ = [
    "OpenAIWriter",
    "call_openai",
    "extract_json",
    "make_client",
    "provider_error",
    "redact",
]
