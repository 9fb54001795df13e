"""What a user may ask for. Every way in (Python, command line, Dagster launchpad, the web app's
row in the queue) is validated here, and a rejected request names the field and the problem.

The fields every request has and the field types live here; each format's own request model
lives in its package (`formats/<name>/request.py`) and is found through the registry."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from epochpod_assets.history.sources import SourceRef, is_url
from epochpod_assets.providers.voices import VOICES
from epochpod_assets.speech.lexicon import Pronunciations

# A request is a few short fields; anything bigger is a mistake or an attack.
MAX_REQUEST_BYTES = 16_384
# Text up to this size is still parsed when too big, only to name the field that is too long;
# beyond it the error says only that the request is too big.
MAX_PARSED_BYTES = 64 * MAX_REQUEST_BYTES


class RequestError(ValueError):
    """A request that cannot be accepted. `problems` holds one "field: problem" line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid request: " + "; ".join(problems))


def _clean_text(value: str) -> str:
    # Control characters (including bidi overrides, which disguise text in the UI and in feeds)
    # have no place in a title or a prompt.
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            raise ValueError(f"contains a control character (U+{ord(ch):04X})")
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


def _known_voice(value: str) -> str:
    if value not in VOICES:
        raise ValueError(f"unknown voice {value!r}; choose one of: {', '.join(VOICES)}")
    return value


def _not_a_boolean(value: Any) -> Any:
    # JSON's true is not 1: `"target_minutes": true` is a mistake to name, not one minute.
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


Number = Annotated[float, BeforeValidator(_not_a_boolean)]
Count = Annotated[int, BeforeValidator(_not_a_boolean)]
Name = Annotated[str, Field(max_length=120), AfterValidator(_clean_text)]
Topic = Annotated[str, Field(max_length=300), AfterValidator(_clean_text)]
Prose = Annotated[str, Field(max_length=500), AfterValidator(_clean_text)]
UserId = Annotated[str, Field(max_length=64), AfterValidator(_clean_text)]
# The schema names the voices, so the launchpad's typed form offers them and flags a typo.
Voice = Annotated[
    str,
    AfterValidator(_known_voice),
    WithJsonSchema({"type": "string", "enum": list(VOICES), "title": "Voice"}),
]

# More sources than this is a reading list, not an episode's grounding.
MAX_SOURCES = 12
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SourceSpec(SourceRef):
    """A source the episode must rest on: a file (.txt, .md, .pdf, .html) or an http(s) URL.

    A file is read when the request is accepted (`intake.enqueue`) and its text stored
    content-addressed in media storage; `sha256` then names that text, so the pipeline never
    reads the user's path again. A URL is fetched by the research stage."""

    model_config = ConfigDict(extra="forbid")

    title: Prose | None = None
    author: Name | None = None
    sha256: str | None = Field(
        default=None, description="set when a file is accepted: its stored text's SHA-256"
    )

    @model_validator(mode="after")
    def _checked(self) -> SourceSpec:
        _clean_text(self.location)
        if self.year == 0:
            raise ValueError("year: there is no year 0; years before AD 1 are negative")
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError("sha256: must be 64 lowercase hex digits")
        return self

    @property
    def is_url(self) -> bool:
        return is_url(self.location)


class RequestBase(BaseModel):
    """What every format's request has. A format's request model (in its package under
    `formats/`) subclasses this and adds `format: Literal["<name>"]` and its own fields."""

    model_config = ConfigDict(extra="forbid")

    format: str
    user_id: UserId | None = None
    # 1 to 60 for every format (README, `--help` and the launchpad say the same).
    target_minutes: Number = Field(default=5, ge=1, le=60)
    sources: list[SourceSpec] = Field(
        default_factory=list,
        max_length=MAX_SOURCES,
        description="files or http(s) URLs the episode rests on",
        exclude_if=lambda v: not v,
    )
    # How to say names the voice gets wrong: word -> respelling, or {"say": ..., "ipa": ...}
    # (IPA is what eSpeak is sent). Over the built-in and EPOCHPOD_LEXICON entries. Left out
    # of dumps when empty, so a request without it stores (and seeds templates) as before.
    pronunciations: Pronunciations = Field(default_factory=dict, exclude_if=lambda v: not v)
    # Stop after the script until an editor approves it (editorial/actions.py). Unset: the
    # deployment's default, EPOCHPOD_REVIEW_DEFAULT. Left out of dumps when unset, like
    # pronunciations, so requests without it store and seed templates as before.
    review: bool | None = Field(default=None, exclude_if=lambda v: v is None)
    # Bring your own script: the SHA-256 of a plain script file stored by `epochpod enqueue
    # script` (editorial/own_script.py). No outline or script is written for it.
    own_script: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", exclude_if=lambda v: v is None
    )


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for e in error.errors():
        loc = [str(part) for part in e["loc"]]
        field = ".".join(loc) or "request"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            message = "is required"
        elif e["type"] == "extra_forbidden":
            message = "is not a known field"
        if not loc and re.match(r"^\w+: ", message):
            problems.append(message)  # a whole-request check that names its own field
            continue
        problems.append(f"{field}: {message}")
    return problems


def parse_request(raw: Any) -> RequestBase:
    """Validate a request given as a model, a dict or JSON text; raise RequestError if bad.

    Total: whatever arrives (from the command line, the launchpad or a row someone wrote by
    hand), the answer is a valid request or a RequestError, never another exception.
    """
    if isinstance(raw, RequestBase):
        raw = raw.model_dump()
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RequestError([f"request: is not valid UTF-8 ({e.reason})"]) from None
    if isinstance(raw, str):
        raw = _json_object(raw)
    if not isinstance(raw, dict):
        raise RequestError(["request: must be an object with a 'format' field"])
    try:
        size = len(json.dumps(raw, default=str).encode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        raise RequestError(["request: is nested too deeply or holds a number too long"]) from None
    if size > MAX_REQUEST_BYTES:
        raise RequestError([_too_big(raw)])
    # The registry, not this module, knows the formats (imported here: the format packages
    # import this module's field types).
    from epochpod_assets.formats import registry

    kind = raw.get("format")
    names = registry.names()
    if not isinstance(kind, str) or kind not in names:
        shown = repr(kind) if isinstance(kind, str | None) else f"a {type(kind).__name__}"
        raise RequestError([f"format: must be one of {', '.join(names)} (got {shown})"])
    try:
        request: RequestBase = registry.by_name(kind).request_model.model_validate(raw)
    except ValidationError as e:
        raise RequestError(_problems(e)) from None
    return request


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode("utf-8", "surrogatepass"))


def _too_big(raw: Any) -> str:
    """The size error, naming the field that makes the request too big: the part holding
    most of the bytes, followed down while one part holds most of its parent."""
    path: list[str] = []
    value, size = raw, _size(raw)
    while isinstance(value, dict | list) and value:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        key, child = max(items, key=lambda item: _size(item[1]))
        child_size = _size(child)
        if child_size * 2 < size:
            break
        path.append(str(key))
        value, size = child, child_size
    if not path:
        return f"request: is larger than {MAX_REQUEST_BYTES} bytes"
    field = ".".join(path)
    return (
        f"{field}: is too long; the request is larger than {MAX_REQUEST_BYTES} bytes "
        f"({field} alone is {size} bytes)"
    )


def _json_object(text: str) -> Any:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PARSED_BYTES:
        raise RequestError([f"request: is larger than {MAX_REQUEST_BYTES} bytes"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError([f"request: is not valid JSON ({e.msg})"]) from None
    except (ValueError, RecursionError):
        # Python's own limits: integers of thousands of digits, nesting thousands deep.
        raise RequestError(
            ["request: is not valid JSON (nested too deeply or a number too long)"]
        ) from None
