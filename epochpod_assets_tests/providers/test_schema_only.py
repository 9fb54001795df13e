"""The schema-only model (support/schema_only.py): random answers that always fit the schema,
and never anything the schema does not say."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonschema
import pytest

from epochpod_assets.formats.base import count_words
from epochpod_assets_tests.support.schema_only import (
    WORDS,
    SchemaOnly,
    random_instance,
    schema_in_prompt,
)

# What the per-request schemas use: $defs/$ref, enum, const, anyOf, counts, lengths, closed
# objects, fixed properties.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 20, "maxLength": 40},
        "guest": {"type": "string", "const": "Ada Lovelace"},
        "nodes": {
            "type": "object",
            "properties": {
                "n0": {"$ref": "#/$defs/Node"},
                "n1": {"$ref": "#/$defs/Node"},
            },
            "required": ["n0", "n1"],
            "additionalProperties": False,
        },
        "lines": {
            "type": "array",
            "minItems": 3,
            "maxItems": 6,
            "items": {"$ref": "#/$defs/Line"},
        },
        "year": {
            "anyOf": [{"type": "integer", "minimum": 1815, "maximum": 1852}, {"type": "null"}]
        },
    },
    "required": ["title", "guest", "nodes", "lines", "year"],
    "additionalProperties": False,
    "$defs": {
        "Line": {
            "type": "object",
            "properties": {
                "speaker": {"type": "string", "enum": ["Host", "Ada Lovelace"]},
                "text": {"type": "string", "minLength": 120, "maxLength": 200},
            },
            "required": ["speaker", "text"],
            "additionalProperties": False,
        },
        "Node": {
            "type": "object",
            "properties": {"summary": {"type": "string", "maxLength": 30}},
            "required": ["summary"],
            "additionalProperties": False,
        },
    },
}


def test_every_answer_fits_the_schema_and_uses_its_freedom() -> None:
    rng = random.Random(3)
    answers = [random_instance(SCHEMA, rng) for _ in range(60)]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for answer in answers:
        validator.validate(answer)
    # Random within the schema, not one fixed example: every enum value and every count shows.
    speakers = {line["speaker"] for answer in answers for line in answer["lines"]}
    assert speakers == {"Host", "Ada Lovelace"}
    assert {len(answer["lines"]) for answer in answers} == {3, 4, 5, 6}
    assert {answer["year"] is None for answer in answers} == {True, False}
    lengths = [len(line["text"]) for answer in answers for line in answer["lines"]]
    assert min(lengths) < 140 and max(lengths) > 180


def test_strings_are_sentences_of_real_words() -> None:
    answer = random_instance(SCHEMA, random.Random(5))
    text = " ".join(line["text"] for line in answer["lines"])
    words = [word.strip(".").lower() for word in text.split()]
    assert words and set(words) <= set(WORDS)
    assert count_words(text) == len(words)
    assert text[0].isupper()


def test_seeded() -> None:
    body = {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}}
    assert SchemaOnly(seed=1)(body) == SchemaOnly(seed=1)(body)
    assert SchemaOnly(seed=1)(body) != SchemaOnly(seed=2)(body)


def test_a_keyword_it_cannot_honour_fails_loudly() -> None:
    with pytest.raises(NotImplementedError, match="pattern"):
        random_instance({"type": "string", "pattern": "^[a-z]+$"}, random.Random(0))


def test_without_a_response_format_it_reads_the_schema_in_the_prompt() -> None:
    prompt = f"Write it.\n```json\n{json.dumps(SCHEMA)}\n```"
    messages = [{"role": "system", "content": prompt}, {"role": "user", "content": "Go."}]
    assert schema_in_prompt(messages) == SCHEMA
    as_json = SchemaOnly(seed=4)({"messages": messages, "response_format": {"type": "json_object"}})
    jsonschema.validate(json.loads(as_json), SCHEMA)
    as_text = SchemaOnly(seed=4)({"messages": messages})
    assert as_text.startswith("Here is") and "```json" in as_text
    with pytest.raises(ValueError, match="no response_format schema"):
        SchemaOnly()({"messages": [{"role": "user", "content": "plain"}]})
