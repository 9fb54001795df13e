"""Per-request JSON schemas: whatever a schema can say about an answer, said in the schema.

A model that follows only the schema (a small local model under grammar-constrained decoding:
Ollama's `format`, vLLM's guided decoding, llama.cpp grammars) ignores the prose of the prompt.
So the schema sent with each writing task is built for that one request: a line's speaker is
an enum of the episode's cast, a story's node ids and choice targets are fixed properties,
counts of sections, rounds, questions and choices are fixed (`minItems`/`maxItems`, or one
property per planned item), and text fields are bounded by `minLength`/`maxLength` derived from
the word budget, so that even random text of a valid length lands on the budget.

Every schema here is valid under OpenAI's strict mode: every property required,
`additionalProperties: false` everywhere, and only the keywords `STRICT_KEYWORDS` lists.
OpenAI documents `pattern`/`format` for strings, `minItems`/`maxItems` for arrays and the
numeric bounds; `minLength`/`maxLength` are accepted by the API in strict mode (and by vLLM,
Ollama and llama.cpp grammars) though its guide does not list them. A server that rejects a
keyword answers 400, and the writer then falls back to JSON mode with the schema in the prompt
(providers/capabilities.py) and checks the schema itself. The validators stay for what a schema
cannot say: the balance of the cast, continuity, and the exact word budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Characters per spoken word in English prose, counting its space and punctuation (the offline
# templates run 5.3 to 5.9, model prose about 6): what turns a word budget into string lengths.
CHARS_PER_WORD = 6.0
# How far one text field may stray from its share of the budget. Lines vary around their
# share and a part's length is their sum, so the part strays far less: for n lines chosen at
# random within the bounds, about LINE_SPREAD / sqrt(3 n).
LINE_SPREAD = 0.2

Schema = dict[str, Any]

# What OpenAI's strict mode accepts (plus minLength/maxLength, see the module docstring).
STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum", "const",
        "anyOf", "$ref", "$defs", "description", "title", "minItems", "maxItems", "minLength",
        "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf",
    }
)  # fmt: skip


def spread_for(fields: int) -> float:
    """How far each of `fields` text fields sharing one budget may stray from its share, so
    that their sum (what the length checks and the listener see) stays within a few percent
    even when every field's length is picked at random within its bounds: many fields may each
    stray further than a few long ones."""
    return min(LINE_SPREAD, max(0.06, 0.035 * math.sqrt(max(1, fields))))


def obj(properties: Mapping[str, Schema], description: str | None = None) -> Schema:
    """A closed object whose every property is required (strict mode's rule)."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def text(
    description: str | None = None,
    *,
    words: float | None = None,
    spread: float = LINE_SPREAD,
    max_words: float | None = None,
) -> Schema:
    """A string; with `words`, bounded to that many words give or take `spread`; with only
    `max_words`, bounded above (titles, labels)."""
    schema: Schema = {"type": "string"}
    if description:
        schema["description"] = description
    if words is not None:
        low, high = length_bounds(words, spread)
        schema["minLength"], schema["maxLength"] = low, high
    elif max_words is not None:
        schema["minLength"], schema["maxLength"] = 1, math.ceil(max_words * CHARS_PER_WORD)
    return schema


def length_bounds(words: float, spread: float = LINE_SPREAD) -> tuple[int, int]:
    """String lengths (characters) for `words` words, give or take `spread`."""
    centre = max(1.0, words) * CHARS_PER_WORD
    return max(1, math.floor(centre * (1 - spread))), max(2, math.ceil(centre * (1 + spread)))


def const(value: str, description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "const": value}
    if description:
        schema["description"] = description
    return schema


def one_of(values: Iterable[str], description: str | None = None) -> Schema:
    """A string from a closed list (an enum; a const when the list has one value)."""
    choices = list(dict.fromkeys(values))
    if len(choices) == 1:
        return const(choices[0], description)
    schema: Schema = {"type": "string", "enum": choices}
    if description:
        schema["description"] = description
    return schema


def array(items: Schema, count: int | tuple[int, int], description: str | None = None) -> Schema:
    """An array of exactly `count` items, or between (low, high)."""
    low, high = (count, count) if isinstance(count, int) else count
    schema: Schema = {"type": "array", "items": items, "minItems": low, "maxItems": high}
    if description:
        schema["description"] = description
    return schema


def line_count(words: float, words_per_turn: float, minimum: int = 1) -> int:
    """Turns for `words` words at about `words_per_turn` each."""
    if not math.isfinite(words_per_turn) or words_per_turn <= 0:
        return minimum
    return max(minimum, round(words / words_per_turn))


def line(
    speakers: Sequence[str],
    words: float,
    spread: float = LINE_SPREAD,
    fact_ids: Sequence[int] = (),
) -> Schema:
    """One spoken turn: a speaker of the cast, about `words` words, and the ids of the facts
    it rests on (`formats.base.Line.facts`), which can only be ids of the episode's fact sheet:
    pass them as `fact_ids`; with none, a line cites nothing."""
    return obj(
        {
            "speaker": one_of(speakers, "who speaks: exactly one of the cast"),
            "text": text(
                "what the speaker says, as spoken prose without stage directions",
                words=words,
                spread=spread,
            ),
            "facts": fact_list(fact_ids),
        }
    )


# The most facts one line may cite: a line resting on more is several claims in one breath.
MAX_FACTS_PER_LINE = 3


def fact_list(fact_ids: Sequence[int]) -> Schema:
    """Ids of the fact sheet's facts a line rests on: an enum of the sheet's ids."""
    ids = sorted(set(fact_ids))
    if not ids:
        return array({"type": "integer"}, 0, "no fact sheet: cite nothing")
    return array(
        {"type": "integer", "enum": ids},
        (0, min(MAX_FACTS_PER_LINE, len(ids))),
        "ids of the fact sheet's facts this line rests on; empty if it states none",
    )


def lines(
    speakers: Sequence[str],
    words: float,
    words_per_turn: float,
    *,
    minimum: int = 1,
    spread: float | None = None,
    fact_ids: Sequence[int] = (),
) -> Schema:
    """A fixed number of turns sharing `words` words. The count is fixed, not a range: the
    length of a part is the count times the length of a line, and a count left free would
    move it by a whole line's share at every step."""
    count = line_count(words, words_per_turn, minimum)
    each = spread_for(count) if spread is None else spread
    return array(line(speakers, words / count, each, fact_ids), count, f"exactly {count} turns")


def strict_problems(schema: Mapping[str, Any], where: str = "schema") -> list[str]:
    """Why `schema` would be refused by OpenAI's strict mode (empty when it is fine)."""
    problems = [f"{where}: {key!r} is not allowed" for key in schema if key not in STRICT_KEYWORDS]
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties must be false")
        if sorted(schema.get("required", [])) != sorted(properties):
            problems.append(f"{where}: every property must be required")
        for name, sub in properties.items():
            problems += strict_problems(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), Mapping):
        problems += strict_problems(schema["items"], f"{where}[]")
    for index, option in enumerate(schema.get("anyOf", [])):
        problems += strict_problems(option, f"{where}|{index}")
    for name, sub in schema.get("$defs", {}).items():
        problems += strict_problems(sub, f"{where}.$defs.{name}")
    return problems
