"""The integrity gate: a script (or a part of one) passes the time guard and the claim check
before any of it is spoken, or its failing lines are rewritten, or the episode fails.

- *Time guard* (`history.timeguard`): no line of a figure (or of a narrator telling a story in
  its own present) refers to anything after that speaker's date: explicit years and dates, and
  the dated lexicon. With a model configured, a model pass adds what a lexicon cannot know;
  each finding says which kind it is (`origin`).
- *Claims* (`history.claims`): each factual claim in a figure's or narrator's line is supported
  by a fact (its id), unsupported, or contradicted. A contradicted claim blocks; unsupported
  claims block when their share of all claims is over `max_unsupported_share`.

A blocked answer's failing lines -- only those -- go back to the writer with their findings as
feedback, at most `max_rewrites` times; after that `IntegrityError` carries the findings and
the episode fails with them as its reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from epochpod_assets.formats import schemas
from epochpod_assets.formats.base import Line, count_words
from epochpod_assets.history.checks import Review, review
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.history.factsheet import Finding
from epochpod_assets.history.grounding import grounded_task, spoken_lines
from epochpod_assets.history.research import Research
from epochpod_assets.providers.base import Usage, Writer, WritingTask

DEFAULT_MAX_REWRITES = 2
# Unsupported claims are reported always; they block only when most of a script rests on
# nothing: a conversation has colour that no source states, and that is not a falsehood.
DEFAULT_MAX_UNSUPPORTED_SHARE = 0.5

REWRITE_INSTRUCTIONS = (
    "You are the fact-check editor of Epoch Pod, a history podcast. Some lines of a script "
    "failed its checks. Rewrite only those lines, keeping each speaker's voice, the line's "
    "purpose and about its length, so that every finding is fixed: remove anything a speaker "
    "could not know at their date, and state only what the fact sheet supports, citing the "
    "fact numbers a line rests on. Answer only with JSON that fits the schema."
)


class IntegrityError(ValueError):
    """A script still failing its checks after the allowed rewrites; the message lists the
    findings (the episode's failure reason)."""

    def __init__(self, findings: Sequence[Finding], what: str) -> None:
        self.findings = list(findings)
        shown = "; ".join(f.describe() for f in self.findings[:6])
        more = f"; and {len(self.findings) - 6} more" if len(self.findings) > 6 else ""
        super().__init__(f"{what} failed the integrity checks: {shown}{more}")


@dataclass(frozen=True)
class GateSettings:
    max_rewrites: int = DEFAULT_MAX_REWRITES
    max_unsupported_share: float = DEFAULT_MAX_UNSUPPORTED_SHARE

    @classmethod
    def from_env(cls) -> GateSettings:
        """EPOCHPOD_INTEGRITY_MAX_REWRITES and EPOCHPOD_MAX_UNSUPPORTED_SHARE (settings.py)."""
        from epochpod_assets import settings

        config = settings.load()
        return cls(config.integrity_max_rewrites, config.max_unsupported_share)


class _Rewrite(BaseModel):
    number: int
    text: str
    facts: list[int] = Field(default_factory=list)


@dataclass
class Gate:
    """Checks written lines against an episode's research, and repairs what fails."""

    found: Research
    writer: Writer  # the budgeted writer: rewrites and the model pass are billed like any call
    settings: GateSettings = field(default_factory=GateSettings.from_env)
    # Every blocked attempt, for the script's metadata: (what, attempt, findings).
    rewrites: list[tuple[str, int, list[Finding]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # model passes that gave no usable answer
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.as_of: dict[str, HistoricalDate | None] = self.found.as_of()

    # -- checking ------------------------------------------------------------------------------

    def review(self, lines: Sequence[Line], usage: Usage | None = None) -> Review:
        """Every finding on `lines` (numbered from 1 in the order given); with `usage`, the
        model pass runs too (billed to it)."""
        return review(
            lines,
            self.as_of,
            self.found.sheet,
            writer=self.writer if usage is not None else None,
            usage=usage,
            max_unsupported_share=self.settings.max_unsupported_share,
        )

    # -- enforcing -----------------------------------------------------------------------------

    def enforce(self, answer: Any, usage: Usage, what: str) -> Any:
        """`answer` once its lines pass, rewriting failing lines up to the allowed times;
        raises IntegrityError with the findings when they still fail."""
        for attempt in range(self.settings.max_rewrites + 1):
            lines = list(spoken_lines(answer))
            review = self.review(lines, usage)
            with self._lock:
                self.notes += [n for n in review.notes if n not in self.notes]
            blocking = review.blocking
            if not blocking:
                # A line rests on the facts its claims were matched to, whether or not the
                # writer listed them: the show notes cite what the check found.
                for number, ids in review.supported.items():
                    line = lines[number - 1]
                    line.facts = sorted(set(line.facts) | set(ids))
                return answer
            with self._lock:
                self.rewrites.append((what, attempt + 1, blocking))
            if attempt == self.settings.max_rewrites:
                raise IntegrityError(blocking, what)
            answer = self.rewrite(answer, lines, blocking, usage, what)
        raise AssertionError("unreachable")

    def rewrite(
        self,
        answer: Any,
        lines: Sequence[Line],
        findings: Sequence[Finding],
        usage: Usage,
        what: str,
    ) -> Any:
        """The answer with only its failing lines rewritten, the findings as feedback."""
        answer = answer.model_copy(deep=True)
        lines = list(spoken_lines(answer))
        numbers = sorted({f.line for f in findings})
        failing = [
            {
                "number": n,
                "speaker": lines[n - 1].speaker,
                "text": lines[n - 1].text,
                "facts": lines[n - 1].facts,
                "findings": [
                    {"kind": f.kind, "term": f.term, "evidence": f.evidence, "origin": f.origin}
                    for f in findings
                    if f.line == n
                ],
            }
            for n in numbers
        ]
        # The schema itself names the lines that may come back (invariant 7).
        number_type: Any = Literal[tuple(numbers)]
        line_model = create_model("LineRewrite", __base__=_Rewrite, number=(number_type, ...))
        schema: Any = create_model("LineRewrites", lines=(list[line_model], ...))
        context = [
            {"number": i + 1, "speaker": x.speaker, "text": x.text}
            for i, x in enumerate(lines)
            if any(abs(i + 1 - n) <= 1 for n in numbers) and i + 1 not in numbers
        ]
        task: WritingTask[Any] = WritingTask(
            name=f"rewrite of {len(numbers)} line(s) of the {what}",
            schema=schema,
            instructions=REWRITE_INSTRUCTIONS,
            prompt=(
                "Task: history.rewrite\n"
                "Rewrite each failing line so that none of its findings holds. Neighbouring "
                "lines are shown for context only.\n"
                f"Rewrite JSON: {json.dumps(failing)}\n"
                f"Context JSON: {json.dumps(context)}"
            ),
            template=lambda: schema.model_validate(offline_rewrite(failing)),
            check=lambda got: _all_rewritten(got, numbers),
            # One fixed property per failing line, about its length, citing only the sheet's
            # facts: a model that follows only the schema rewrites exactly those lines.
            json_schema=schemas.obj(
                {
                    f"line_{n}": schemas.obj(
                        {
                            "text": schemas.text(
                                f"line {n} rewritten",
                                words=count_words(lines[n - 1].text),
                            ),
                            "facts": schemas.fact_list([f.id for f in self.found.sheet.facts]),
                        }
                    )
                    for n in numbers
                }
            ),
            decode=lambda got: {
                "lines": [
                    {"number": int(key.removeprefix("line_")), **item} for key, item in got.items()
                ]
            },
            encode=lambda got: {
                f"line_{item.number}": {"text": item.text, "facts": list(item.facts)}
                for item in got.lines
            },
        )
        rewritten = self.writer.write(grounded_task(task, self.found), usage)
        for item in rewritten.lines:
            line = lines[item.number - 1]
            line.text = item.text
            line.facts = list(item.facts)
        return answer


def _all_rewritten(got: Any, numbers: Sequence[int]) -> None:
    back = {item.number for item in got.lines}
    if missing := set(numbers) - back:
        raise ValueError(f"lines {sorted(missing)} were not rewritten")
    if any(not item.text.strip() for item in got.lines):
        raise ValueError("a rewritten line has no text")


def offline_rewrite(failing: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the offline writer does with failing lines: drops the sentences that carry a
    finding's term; a line left empty says plainly that the speaker cannot say more."""
    import re

    out = []
    for item in failing:
        terms = [f["term"].casefold() for f in item["findings"] if f["term"]]
        sentences = re.split(r"(?<=[.!?])\s+", item["text"].strip())
        kept = [s for s in sentences if not any(t in s.casefold() for t in terms)]
        text = " ".join(kept) or "That is something I cannot speak to with any certainty."
        out.append({"number": item["number"], "text": text, "facts": item.get("facts", [])})
    return {"lines": out}
