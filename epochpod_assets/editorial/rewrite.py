"""The writer's editorial tasks: the whole script again with an editor's feedback (a rejected
review), and one line again with its neighbours as context (`epochpod script rewrite`).

Both are ordinary `WritingTask`s, so they go through the budgeted writer, its re-asks and the
cost ledger like every other call. The offline writer cannot take feedback: its template
answers are the deterministic script and the line as they were, and the metadata says so.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.editorial import plain
from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.providers.base import Usage, Writer, WritingTask

# Lines either side of the one rewritten that the writer sees.
CONTEXT_LINES = 3

LINE_SYSTEM = (
    "You are the script editor of Epoch Pod, a history podcast. Rewrite exactly one line of "
    "a script as its editor asks. Keep the speaker, the facts and the flow into the next "
    "line; write spoken prose with no stage directions and no speaker name. Answer only with "
    "JSON that fits the schema."
)


class RewrittenLine(BaseModel):
    """One line of a script, written again."""

    text: str = Field(description="the new line, as spoken prose, without the speaker's name")


def feedback_task(
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    previous: Any,
    note: str,
    budget: int,
) -> WritingTask[Any]:
    """The format's own whole-script task, with the rejected draft and the editor's note."""
    task = fmt.script_task(request, outline, budget)
    return dataclasses.replace(
        task,
        name=f"{task.name} (after review)",
        prompt=(
            f"{task.prompt}\n"
            f"Editor feedback: {note}\n"
            "Write the script again so that it answers the feedback; keep what the editor did "
            "not object to.\n"
            f"Rejected draft JSON: {previous.model_dump_json()}"
        ),
    )


def rewrite_line(
    writer: Writer,
    usage: Usage,
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    script: Any,
    episode_id: str,
    number: int,
    note: str,
) -> tuple[Any, str, str]:
    """`script` with the spoken line on line `number` of its export (as `epochpod script
    export` writes it) written again. Returns (new script, old text, new text)."""
    text = plain.export_text(fmt, request, outline, script, episode_id)
    spoken = list(plain.spoken_lines(text))
    target = next((s for s in spoken if s.number == number), None)
    if target is None:
        raise ValueError(f"line {number} is not a spoken line of the script")
    at = target.position
    before = spoken[max(0, at - CONTEXT_LINES) : at]
    after = spoken[at + 1 : at + 1 + CONTEXT_LINES]
    context = {
        "before": [{"speaker": s.speaker, "text": s.text} for s in before],
        "line": {"speaker": target.speaker, "text": target.text},
        "after": [{"speaker": s.speaker, "text": s.text} for s in after],
    }
    task = WritingTask(
        name=f"line {number}",
        schema=RewrittenLine,
        instructions=LINE_SYSTEM,
        prompt=(
            "Task: editorial.line\n"
            f"Rewrite the line of {target.speaker!r} as the editor asks. The lines around it "
            "stay as they are.\n"
            f"Editor note: {note}\n"
            f"Context JSON: {json.dumps(context)}"
        ),
        template=lambda: RewrittenLine(text=target.text),
        check=_one_line,
    )
    new = " ".join(writer.write(task, usage).text.split())
    edited = plain.replace_lines(text, {number: new})
    return plain.from_text(edited, fmt, request, outline, script), target.text, new


def _one_line(answer: RewrittenLine) -> None:
    if not answer.text.strip():
        raise ValueError("the line is empty")
    if len(answer.text) > 4_000:
        raise ValueError("the line is far too long for one turn")
