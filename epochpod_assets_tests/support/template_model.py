"""A chat "model" for the fake OpenAI server that answers like a good model would: with the
format's own offline template for the task in the prompt, at the word budget the prompt asks.

Prompts name their task (`Task: <format>.<outline|script|section>`) and embed the request, the
outline, the word budget and (for a section) its brief as JSON, so the template can be rebuilt
from the prompt alone.
"""

from __future__ import annotations

import json
from typing import Any

from epochpod_assets.formats import format_for
from epochpod_assets.formats.base import SectionBrief
from epochpod_assets.requests import parse_request


def template_responder(body: dict[str, Any]) -> str:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    fields = dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line)
    kind, stage = fields["Task"].split(".")
    request = parse_request(fields["Request JSON"])
    fmt = format_for(kind.upper())
    task: Any
    if stage == "outline":
        task = fmt.outline_task(request)
    else:
        outline = fmt.outline_model.model_validate_json(fields["Outline JSON"])
        if stage == "section":
            brief = SectionBrief.model_validate_json(fields["Brief JSON"])
            task = fmt.section_task(request, outline, brief)
        else:
            budget = int(fields["Word budget"]) if "Word budget" in fields else None
            task = fmt.script_task(request, outline, budget)
    # In the task's wire shape (the per-request schema's), as a model would answer.
    return json.dumps(task.wire(task.template()))
