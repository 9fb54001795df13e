"""A chat "model" for the fake OpenAI server that answers like a good model would: with the
format's own offline template for the task in the prompt, at the word budget the prompt asks.

Prompts name their task (`Task: <format>.<outline|script|section>`) and embed the request, the
outline, the word budget and (for a section) its brief as JSON, so the template can be rebuilt
from the prompt alone. The research stage's and the integrity gate's tasks (`Task: history.*`)
and the model passes of the time guard and the claim check are answered the way the offline
writer answers them, and a script written from a fact sheet (which the prompt carries) speaks
from its facts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from epochpod_assets.formats import format_for
from epochpod_assets.formats.base import SectionBrief
from epochpod_assets.history.gate import offline_rewrite
from epochpod_assets.history.grounding import research_from_prompt, speak_from_facts
from epochpod_assets.history.research import Chunk, OwnFacts, offline_chunk_facts
from epochpod_assets.requests import parse_request


def prompt_of(body: dict[str, Any]) -> str:
    return str(next(m["content"] for m in body["messages"] if m["role"] == "user"))


def fields_of(prompt: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line)


def history_answer(body: dict[str, Any]) -> str | None:
    """The answer to a research, rewrite or model-pass call; None for any other task."""
    schema = body.get("response_format", {}).get("json_schema", {}).get("name")
    if schema == "ModelAnachronisms":  # the time guard's model pass: nothing it can add
        return json.dumps({"findings": []})
    if schema == "JudgedClaims":  # the claim judge: no verdicts, so the offline ones stand
        return json.dumps({"claims": []})
    fields = fields_of(prompt_of(body))
    task = fields.get("Task", "")
    if task == "history.research":
        chunk = Chunk.model_validate_json(fields["Chunk JSON"])
        figures = [f for f in fields["Figures"].split(", ") if f != "none"]
        return offline_chunk_facts(fields["Topic"], figures, chunk).model_dump_json()
    if task == "history.own_facts":
        return OwnFacts(facts=[], lives=[]).model_dump_json()
    if task == "history.rewrite":
        rewritten = offline_rewrite(json.loads(fields["Rewrite JSON"]))["lines"]
        # In the rewrite task's wire shape: one property per failing line.
        return json.dumps(
            {f"line_{x['number']}": {"text": x["text"], "facts": x["facts"]} for x in rewritten}
        )
    return None


def template_responder(body: dict[str, Any], alter: Callable[[str, Any], Any] | None = None) -> str:
    """The template answer; `alter(task, answer)` may change it first (a test's model that
    writes something wrong)."""
    if (answer := history_answer(body)) is not None:
        return answer
    prompt = prompt_of(body)
    fields = fields_of(prompt)
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
    written = task.template()
    found = research_from_prompt(prompt)
    if found is not None:  # the prompt carries a fact sheet: speak from it
        written = speak_from_facts(written, found, seed=fields["Task"])
    if alter is not None:
        written = alter(fields["Task"], written)
    # In the task's wire shape (the per-request schema's), as a model would answer.
    return json.dumps(task.wire(written))
