"""What a user may ask for. Every way in (Python, command line, Dagster launchpad, the web app's
row in the queue) is validated here, and a rejected request names the field and the problem."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from epochpod_assets.history.dates import AsOf, find_date
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


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class InterviewRequest(_Request):
    """An interview with one historical figure."""

    format: Literal["interview"] = "interview"
    guest_name: Name
    topic: Topic
    angle: Prose | None = None
    host_name: Name = "The Epoch Host"
    host_voice: Voice = "onyx"
    guest_voice: Voice = "echo"
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date the guest speaks from (1921, 44 BC, 1921-06-14); default: the "
        "last year of their life the research stage finds",
    )

    @model_validator(mode="after")
    def _distinct_speakers(self) -> InterviewRequest:
        if self.host_name.casefold() == self.guest_name.casefold():
            raise ValueError("guest_name must differ from host_name")
        if self.host_voice == self.guest_voice:
            raise ValueError(
                "guest_voice must differ from host_voice so listeners can tell them apart"
            )
        return self


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    position: Topic
    voice: Voice | None = None
    as_of: AsOf | None = Field(
        default=None, description="the date this participant speaks from (default: the debate's)"
    )


# Shorter turns than this are not a debate, and cannot be spoken naturally.
MIN_WORDS_PER_TURN = 20

# Participants without a voice get the first of these not already taken.
DEBATE_VOICES = ("echo", "nova", "onyx", "shimmer", "fable", "coral")


class DebateRequest(_Request):
    """A moderated debate between two to four historical figures."""

    format: Literal["debate"] = "debate"
    topic: Topic
    participants: list[Participant] = Field(min_length=2, max_length=4)
    moderator_name: Name = "The Epoch Moderator"
    moderator_voice: Voice = "alloy"
    rounds: Count = Field(default=3, ge=1, le=6)
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the date of the meeting, for every participant without a date of their own",
    )

    @model_validator(mode="after")
    def _cast_is_distinct(self) -> DebateRequest:
        names = [self.moderator_name.casefold()] + [p.name.casefold() for p in self.participants]
        if len(set(names)) != len(names):
            raise ValueError("participants and moderator must all have different names")
        taken = {self.moderator_voice} | {p.voice for p in self.participants if p.voice}
        voiced: list[Participant] = []
        spare = [v for v in DEBATE_VOICES if v not in taken]
        for p in self.participants:
            voiced.append(p if p.voice else p.model_copy(update={"voice": spare.pop(0)}))
        voices = [self.moderator_voice] + [p.voice for p in voiced]
        if len(set(voices)) != len(voices):
            raise ValueError(
                "every speaker needs a different voice so listeners can tell them apart"
            )
        self.participants = voiced
        return self

    @model_validator(mode="after")
    def _rounds_fit_the_length(self) -> DebateRequest:
        # Every round needs the moderator's question and a real answer from everyone.
        per_round = (len(self.participants) + 1) * MIN_WORDS_PER_TURN
        room = self.target_minutes * 150 - 40  # less the opening and closing
        if self.rounds * per_round > room:
            most = max(int(room // per_round), 0)
            raise ValueError(
                f"rounds: {self.rounds} rounds with {len(self.participants)} participants do "
                f"not fit in {self.target_minutes:g} minutes; use at most {most} rounds, "
                "or more minutes"
            )
        return self


class AdventureRequest(_Request):
    """A branching choose-your-own-adventure story: one audio track per story node."""

    format: Literal["adventure"] = "adventure"
    setting: Topic
    protagonist: Name = "you"
    premise: Prose | None = None
    narrator_voice: Voice = "fable"
    depth: Count = Field(default=3, ge=1, le=4, description="levels of choices before an ending")
    choices: Count = Field(default=2, ge=2, le=3, description="choices offered at each node")
    as_of: AsOf | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description='the story\'s date; default: the date in the setting ("Rome, 44 BC")',
    )

    @model_validator(mode="after")
    def _story_has_a_date(self) -> AdventureRequest:
        # The time guard needs the story's present; a setting that names none must say it.
        if self.as_of is None:
            try:
                self.as_of = find_date(self.setting)
            except ValueError as e:
                raise ValueError(f"setting: {e}, or give as_of") from None
        return self

    @property
    def node_count(self) -> int:
        return sum(self.choices**level for level in range(self.depth))


EpisodeRequest = Annotated[
    InterviewRequest | DebateRequest | AdventureRequest, Field(discriminator="format")
]
_adapter: TypeAdapter[InterviewRequest | DebateRequest | AdventureRequest] = TypeAdapter(
    EpisodeRequest
)

EpisodeRequestModel = InterviewRequest | DebateRequest | AdventureRequest

FORMAT_TYPES = {"interview": "INTERVIEW", "debate": "DEBATE", "adventure": "ADVENTURE"}


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for e in error.errors():
        # The discriminator's tag name adds noise: "interview.guest_name" -> "guest_name".
        loc = [str(part) for part in e["loc"] if str(part) not in FORMAT_TYPES]
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


def parse_request(raw: Any) -> InterviewRequest | DebateRequest | AdventureRequest:
    """Validate a request given as a model, a dict or JSON text; raise RequestError if bad.

    Total: whatever arrives (from the command line, the launchpad or a row someone wrote by
    hand), the answer is a valid request or a RequestError, never another exception.
    """
    if isinstance(raw, InterviewRequest | DebateRequest | AdventureRequest):
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
    kind = raw.get("format")
    if not isinstance(kind, str) or kind not in FORMAT_TYPES:
        shown = repr(kind) if isinstance(kind, str | None) else f"a {type(kind).__name__}"
        raise RequestError([f"format: must be one of {', '.join(FORMAT_TYPES)} (got {shown})"])
    try:
        return _adapter.validate_python(raw)
    except ValidationError as e:
        raise RequestError(_problems(e)) from None


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
