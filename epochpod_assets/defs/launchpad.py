"""The launchpad's typed config for ordering an episode, built from each format's request model.

`request_episode` takes one key: a format's name with that format's fields (typed, required
ones marked, unknown ones refused), or `request_json` with a whole request. The Dagster UI
checks that shape as the operator types, before anything is launched: missing, unknown and
mistyped fields, and voices (the request models put them in their schema). What a type cannot
say (a blank topic, one voice for two speakers, rounds that do not fit the minutes) the request
model checks in the config mapping, which runs in the code server when the launch is built: a
bad request is refused there with one line per field and no run is created. Dagster's webserver
shows that refusal in its error dialog with the code server's stack under the lines; it checks
config against the schema alone, so nothing of ours can refuse earlier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
from pydantic import BaseModel

from epochpod_assets.formats import formats
from epochpod_assets.requests import RequestError, parse_request

REQUEST_JSON = "request_json"
OP = "order_episode"
_SCALARS: dict[str, Any] = {
    "string": dg.String,
    "integer": dg.Int,
    "number": dg.Float,
    "boolean": dg.Bool,
}


def request_models() -> dict[str, type[BaseModel]]:
    """Each format's request model, by the name a request gives in `format`."""
    return {fmt.name: fmt.request_model for fmt in formats()}


def _config_type(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """The Dagster config type for one JSON Schema node of a request model."""
    if "$ref" in schema:
        return _shape(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        if len(options) == 1 and "$ref" not in options[0]:
            return _config_type(options[0], defs)
        # A union (say, a date written "44 BC" or as its parts): the model decides.
        return dg.Any
    kind = schema.get("type")
    if kind == "string" and schema.get("enum"):
        return _enum(str(schema.get("title") or "Choice"), tuple(schema["enum"]))
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return dg.Array(_config_type(schema.get("items", {}), defs))
    return dg.Any


@cache
def _enum(name: str, values: tuple[str, ...]) -> dg.Enum:
    # One object per name: Dagster refuses two different config types of the same name.
    return dg.Enum(name, [dg.EnumValue(value) for value in values])


def _shape(schema: Mapping[str, Any], defs: Mapping[str, Any], skip: str = "") -> dg.Shape:
    required = set(schema.get("required", []))
    fields = {}
    for name, prop in schema.get("properties", {}).items():
        if name == skip:
            continue
        description = prop.get("description") or prop.get("title")
        if "default" in prop and prop["default"] not in (None, [], {}):
            description = f"{description or name} (default {json.dumps(prop['default'])})"
        fields[name] = dg.Field(
            _config_type(prop, defs),
            is_required=name in required,
            description=description,
        )
    return dg.Shape(fields, description=schema.get("description"))  # type: ignore[no-untyped-call]


def order_schema() -> dg.Selector:
    """One key: a format with its typed fields, or the whole request as JSON."""
    choices: dict[str, dg.Field] = {}
    for name, model in request_models().items():
        schema = model.model_json_schema()
        shape = _shape(schema, schema.get("$defs", {}), skip="format")
        choices[name] = dg.Field(shape, description=model.__doc__)
    choices[REQUEST_JSON] = dg.Field(
        dg.String, description="the whole request as JSON, with its `format`"
    )
    return dg.Selector(choices)  # type: ignore[no-untyped-call]


def _refusal(problems: list[str], config: Mapping[str, Any]) -> dg.DagsterInvalidConfigError:
    # Dagster has no public way for a config mapping to refuse a value; these are the errors
    # its own schema checks produce, one per bad field, with no stack (it is not a crash).
    from dagster._config.errors import DagsterEvaluationErrorReason, EvaluationError
    from dagster._config.stack import EvaluationStackPathEntry, EvaluationStackRoot
    from dagster_shared.error import SerializableErrorInfo

    (key,) = config
    errors = []
    for problem in problems:
        field = problem.split(":", 1)[0].split(".")[0]
        stack = EvaluationStackPathEntry(parent=EvaluationStackRoot(), field_name=key)
        if field and field != "request" and " " not in field:
            stack = EvaluationStackPathEntry(parent=stack, field_name=field)
        errors.append(
            EvaluationError(
                stack=stack,
                reason=DagsterEvaluationErrorReason.FAILED_POST_PROCESSING,
                message=f"invalid request: {problem}",
                error_data=SerializableErrorInfo(
                    message=problem, stack=[], cls_name="RequestError"
                ),
            )
        )
    return dg.DagsterInvalidConfigError(  # type: ignore[no-untyped-call]
        "invalid request", errors, dict(config)
    )


def to_request(config: Mapping[str, Any]) -> Any:
    """The request a launchpad config stands for (a dict, or JSON text)."""
    (key, value) = next(iter(config.items()))
    if key == REQUEST_JSON:
        return value
    return {"format": key, **{k: v for k, v in value.items() if v is not None}}


def _order_config(config: Mapping[str, Any]) -> dict[str, Any]:
    request = to_request(config)
    try:
        parse_request(request)
    except RequestError as error:
        raise _refusal(error.problems, config) from None
    text = request if isinstance(request, str) else json.dumps(request)
    return {"ops": {OP: {"config": {REQUEST_JSON: text}}}}


def order_mapping() -> dg.ConfigMapping:
    # No default: Dagster applies none to a selector at the root. The launchpad's "Scaffold
    # missing config" and its completion offer each format's fields instead.
    return dg.ConfigMapping(
        config_fn=_order_config,
        config_schema=order_schema(),
        # The values as typed: Dagster's Float would turn `true` into 1.0 minutes, which the
        # request model refuses when it sees the `true`.
        receive_processed_config_values=False,
    )
