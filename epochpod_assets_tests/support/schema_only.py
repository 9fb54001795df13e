"""A "model" that follows only the JSON schema: random valid values, the prompt never read.

This is how a small local model behaves under grammar-constrained decoding (Ollama's `format`,
vLLM's guided decoding, llama.cpp grammars): the answer always fits the schema, and anything
said only in prose (the cast, the story's node ids, the word budget) is ignored. The pipeline
must publish through it, so whatever the validators need must be in the schema.

    server = FakeOpenAI(responder=SchemaOnly(seed=7))

Honours type, properties, required, additionalProperties, items, enum, const, anyOf/oneOf,
$ref/$defs, minItems/maxItems, minLength/maxLength, minimum/maximum (and the exclusive ones)
and the common string formats. A keyword it cannot honour (`pattern`, `allOf` of several
schemas, `not`, ...) makes it raise, so a schema that outgrows it fails a test loudly instead of
passing by luck. Strings are random real-looking English words in sentences, so speech, word
counts and the continuity checks see prose; the word list has no greetings, thanks or sign-offs
(a schema-only model has no reason to say them, and the checks would rightly object).

Where there is no schema in `response_format` (a server that refused `json_schema`, so the
writer fell back to `json_object` or plain text with the schema in the prompt), it reads the
schema from the prompt's fenced ```json block: that is the one thing such a model reads. In
plain-text mode it wraps the JSON in a sentence and a fence, as chat models do.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from collections.abc import Mapping
from typing import Any

# A few hundred ordinary words, the short ones English is full of among them: about 4.9 letters
# a word, so about 6 characters with its space and punctuation, as in real English prose.
_WORD_LIST = """
    the the the of of and and a a to to in in is was it for on as by at he she they we but not
    or an had his her
    about above across after again against along already also always among ancient another
    answer around army asked away back battle became because before began behind being believed
    below best better between beyond blood body book both bridge brought build built called came
    careful carried case cause century certain change children church city clear close coast
    cold common could council country course court crowd dark daughter days death decided deep
    different distant done door down during each early earth east empire enemy enough even
    evening every face fact family famous father fear field fields fight finally fire first
    five followed force forest forward found four free friend from front full gave general given
    gold good government great ground group half hand hard harbour have head heard heart held
    high hill himself history hold home hope horse hours house human idea important inside
    island itself journey just keep kept king kingdom known land language large last later law
    learned least left less letter life light like line little living long looked lost made
    many market matter mean measure meet memory men merchant might mind money months more most
    mother mountain moved much must name nation near never night north nothing number ocean
    often old once only open order other outside over paper part passed past people perhaps
    place plain plan point poor port power present probably problem question quickly quiet
    rather reached read ready reason remained return river road rock room rule said same saw
    school science sea second seemed send sent set several ship ships short should show side
    signs silver simple since small soldiers some something soon south space speak stand stars
    started still stone stood story strange street strong such summer sure system taken teacher
    tell than that their themselves there these thing think third those though thought three
    through time today together told took town trade travel tree true turned under until upon
    used valley very village voice wall walls war watched water ways weeks well went were west
    what when where which while whole why wide wind window winter with within without woman
    women wood word words work world would write written years young
"""
WORDS: tuple[str, ...] = tuple(_WORD_LIST.split())
# Sentence lengths in words: a chat model's, give or take.
SENTENCE_WORDS = (6, 18)

_FORMATS = {
    "date-time": "1848-02-24T10:00:00Z",
    "date": "1848-02-24",
    "time": "10:00:00",
    "duration": "PT1H",
    "email": "archive@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
# Keywords that change what is valid and that this model does not honour: raise, never guess.
_UNSUPPORTED = ("pattern", "not", "if", "then", "else", "patternProperties", "prefixItems")
# Array lengths when a schema gives no bound: a model writes a handful.
_DEFAULT_EXTRA_ITEMS = 3
_MAX_DEPTH = 12
_FENCE = re.compile(r"```json\s*\n(.*?)\n```", re.DOTALL)


# Schemas of the integrity checks' model passes (history/): asked to list problems, this model
# lists none. A model that reads nothing cannot judge a script; one that judged at random would
# block every episode on findings about words it never read, which tests nothing of the writer.
QUIET = frozenset({"ModelAnachronisms", "JudgedClaims"})


class SchemaOnly:
    """A responder for `FakeOpenAI`: random values valid for the request's schema (seeded;
    calls draw from one generator in arrival order, so a run is reproducible as long as its
    calls arrive in the same order). For the schemas named in `quiet` every array is as short
    as its schema allows (the judge that finds nothing)."""

    def __init__(self, seed: int = 0, quiet: frozenset[str] = QUIET) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.quiet = quiet

    def __call__(self, body: Mapping[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        kind = fmt.get("type")
        name = None
        if kind == "json_schema":
            schema = fmt["json_schema"]["schema"]
            name = fmt["json_schema"].get("name")
        else:
            schema = schema_in_prompt(body.get("messages") or [])
            name = schema.get("title")
        with self._lock:
            answer = json.dumps(random_instance(schema, self._rng, shortest=name in self.quiet))
        if kind in ("json_schema", "json_object"):
            return answer
        # No response_format at all: a chat model answers in prose around a fenced block.
        return f"Here is the JSON you asked for.\n\n```json\n{answer}\n```\n"


def schema_in_prompt(messages: list[Any]) -> Mapping[str, Any]:
    """The last fenced ```json block in the conversation that is a JSON schema."""
    found: Mapping[str, Any] | None = None
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, str):
            continue
        for block in _FENCE.findall(content):
            try:
                candidate = json.loads(block)
            except json.JSONDecodeError:
                continue
            if isinstance(candidate, dict) and ("type" in candidate or "$ref" in candidate):
                found = candidate
    if found is None:
        raise ValueError("no response_format schema and no ```json schema in the prompt")
    return found


def random_instance(schema: Mapping[str, Any], rng: random.Random, shortest: bool = False) -> Any:
    """A random value valid for `schema` (the subset named in the module docstring); with
    `shortest`, every array has its fewest items."""
    # Past _MAX_DEPTH every array takes its fewest items (how recursive schemas end, too).
    return _value(schema, schema, rng, _MAX_DEPTH + 1 if shortest else 0)


def _value(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> Any:
    if depth > _MAX_DEPTH * 4:
        raise ValueError("schema nests too deeply (a recursive schema with no way out?)")
    for keyword in _UNSUPPORTED:
        if keyword in schema:
            raise NotImplementedError(f"the schema-only model cannot honour {keyword!r}")
    if "$ref" in schema:
        return _value(_resolve(root, schema["$ref"]), root, rng, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _value(_option(schema[key], rng, depth), root, rng, depth + 1)
    if "allOf" in schema:
        if len(schema["allOf"]) != 1:
            raise NotImplementedError("the schema-only model cannot merge allOf schemas")
        return _value(schema["allOf"][0], root, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = "null" if depth > _MAX_DEPTH and "null" in kind else rng.choice(kinds)
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, root, rng, depth)
    if kind == "array":
        return _array(schema, root, rng, depth)
    if kind == "integer":
        return _integer(schema, rng)
    if kind == "number":
        return _number(schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        return _string(schema, rng)
    raise NotImplementedError(f"the schema-only model does not know type {kind!r}")


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        raise NotImplementedError(f"only local $refs, got {ref!r}")
    node: Any = root
    for part in ref.removeprefix("#").strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def _option(options: list[Mapping[str, Any]], rng: random.Random, depth: int) -> Mapping[str, Any]:
    nulls = [o for o in options if o.get("type") == "null"]
    if depth > _MAX_DEPTH and nulls:  # recursive schemas end in null
        return nulls[0]
    return rng.choice(options)


def _object(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", properties))
    # Optional properties come and go at random: a model may or may not write them.
    chosen = [name for name in properties if name in required or rng.random() < 0.5]
    value = {name: _value(properties[name], root, rng, depth + 1) for name in chosen}
    extra = schema.get("additionalProperties", True)
    if isinstance(extra, Mapping) and extra and depth <= _MAX_DEPTH:
        for number in range(rng.randint(0, 2)):
            value[f"{rng.choice(WORDS)}_{number}"] = _value(extra, root, rng, depth + 1)
    return value


def _array(
    schema: Mapping[str, Any], root: Mapping[str, Any], rng: random.Random, depth: int
) -> list[Any]:
    low = int(schema.get("minItems", 0))
    high = int(schema.get("maxItems", max(low, 1) + _DEFAULT_EXTRA_ITEMS))
    if depth > _MAX_DEPTH:
        high = low
    count = rng.randint(low, max(low, high))
    items = schema.get("items", {})
    return [_value(items, root, rng, depth + 1) for _ in range(count)]


def _integer(schema: Mapping[str, Any], rng: random.Random) -> int:
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        low = math.floor(schema["exclusiveMinimum"]) + 1
    high = schema.get("maximum", low + 20)
    if "exclusiveMaximum" in schema:
        high = min(high, math.ceil(schema["exclusiveMaximum"]) - 1)
    low, high = math.ceil(low), math.floor(high)
    if low > high:
        raise ValueError(f"no integer fits {dict(schema)}")
    return rng.randint(low, high)


def _number(schema: Mapping[str, Any], rng: random.Random) -> float:
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 10.0)))
    value = rng.uniform(low, high)
    # Exclusive bounds: stay strictly inside.
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = (low + high) / 2
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = (low + high) / 2
    return value


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", -1))
    if high < 0:  # unbounded: a short phrase to a few sentences
        high = max(low, 12) + 60
    target = rng.randint(low, max(low, high))
    return prose(rng, target, low, max(low, high))


def prose(rng: random.Random, target: int, low: int, high: int) -> str:
    """Sentences of random words, `target` characters long to within a word, and always
    between `low` and `high` characters."""
    if high <= 0:
        return ""
    text = ""
    left_in_sentence = 0
    while len(text) < target:
        if left_in_sentence == 0:
            left_in_sentence = rng.randint(*SENTENCE_WORDS)
            word = rng.choice(WORDS).capitalize()
            text = f"{text} {word}" if text else word
        else:
            text = f"{text} {rng.choice(WORDS)}"
        left_in_sentence -= 1
        if left_in_sentence == 0:
            text += "."
    if len(text) > high:  # the last word went over: end on the word before it, if it fits
        cut = text[:high]
        whole = cut[: cut.rfind(" ")] if " " in cut else cut
        text = whole if len(whole) >= low else cut
    if not text.endswith(".") and len(text) < high:
        text += "."
    while len(text) < low:  # only when the bounds are narrower than one short word
        text += "."
    return text
