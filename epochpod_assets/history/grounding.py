"""Writing from the facts: every outline and script task carries the fact sheet and the time
guard, and the offline writer's figures speak from the fact sheet.

`GroundedWriter` wraps the stage's (budgeted) writer, so everything the engine writes -- the
outline, a one-call script, every part of a long script, every rewrite of a part -- goes out
with the same grounding, and whatever it returns that holds spoken lines passes the script's
integrity gate (`history/gate.py`) before the caller sees it. A long script's part is spoken as
soon as the writer returns it (`scripting/fitting.py`), so a part that fails the checks is
rewritten or fails the episode before a word of it is bought.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from epochpod_assets.formats import prose
from epochpod_assets.formats.base import Line, count_words
from epochpod_assets.formats.schemas import fact_list
from epochpod_assets.history.factsheet import Fact, FactSheet
from epochpod_assets.history.research import Research, VoiceDate
from epochpod_assets.providers.base import T, Usage, Writer, WritingTask

# Facts a prompt carries: enough for a long script, few enough to keep every part's prompt
# (which repeats them) small.
PROMPT_FACTS = 40
_FACT_LINE = re.compile(r"^\s+\[(\d+)\] (?:\(([^)]*)\) )?(.*) — (?:source \d+.*|unsourced)$")


def time_guard_text(voices: Sequence[VoiceDate]) -> str:
    """The time guard as an instruction: each figure's date and what it forbids."""
    dated = [v for v in voices if v.as_of]
    lines = [
        "TIME GUARD: each historical speaker speaks from a date and knows nothing after it.",
    ]
    for voice in dated:
        lines.append(
            f"- {voice.speaker} speaks as of {voice.as_of}: never mention any year, event, "
            f"invention, institution, term or person first known after {voice.as_of}."
        )
    for voice in voices:
        if not voice.as_of:
            lines.append(f"- {voice.speaker}: no date settled; say nothing of later times.")
    lines.append(
        "Hosts and moderators speak from today and may look back, saying so. Rest every "
        "factual statement of a historical speaker or narrator on the fact sheet, and list the "
        "numbers of the facts a line rests on in its `facts` (empty for a line that states no "
        "fact)."
    )
    return "\n".join(lines)


def grounding_prompt(found: Research) -> str:
    voices = [{"speaker": v.speaker, "as_of": v.as_of} for v in found.voices]
    return (
        f"{found.sheet.as_prompt(max_facts=PROMPT_FACTS)}\n"
        f"{time_guard_text(found.voices)}\n"
        f"Voices JSON: {json.dumps(voices)}"
    )


def grounded_task(task: WritingTask[T], found: Research) -> WritingTask[T]:
    """`task` with the fact sheet and time guard in its prompt, and a template (the offline
    writer's answer) whose figures speak from the fact sheet."""
    template = task.template

    def from_facts() -> T:
        return speak_from_facts(template(), found, seed=task.name)

    ids = [fact.id for fact in found.sheet.facts]
    json_schema = task.json_schema
    if json_schema is not None:
        # The format's per-request schema cannot know the fact sheet: its lines may cite
        # nothing until the sheet's ids are put in (invariant 7: what a schema can say, it says).
        json_schema = _with_fact_ids(json_schema, ids)
    return replace(
        task,
        instructions=f"{task.instructions}\n{time_guard_text(found.voices)}",
        prompt=f"{task.prompt}\n{grounding_prompt(found)}",
        template=from_facts,
        json_schema=json_schema,
    )


def _with_fact_ids(schema: Any, ids: Sequence[int]) -> Any:
    """`schema` with every line's `facts` an enum of the fact sheet's ids."""
    if isinstance(schema, list):
        return [_with_fact_ids(item, ids) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: _with_fact_ids(value, ids) for key, value in schema.items()}
    properties = out.get("properties")
    if isinstance(properties, dict) and "facts" in properties and "speaker" in properties:
        properties["facts"] = fact_list(ids)
    return out


def research_from_prompt(prompt: str) -> Research | None:
    """The grounding a prompt carries, read back (for test models that answer like the
    offline writer): the facts listed and the voices. None when the prompt has none."""
    voices_line = next((x for x in prompt.splitlines() if x.startswith("Voices JSON: ")), None)
    if voices_line is None:
        return None
    facts = []
    for line in prompt.splitlines():
        match = _FACT_LINE.match(line)
        if match:
            number, date, text = match.groups()
            facts.append(Fact(id=int(number), text=text, date=date, sourced=True))
    voices = [
        VoiceDate(speaker=v["speaker"], as_of=v["as_of"], year=None, rule="")
        for v in json.loads(voices_line.removeprefix("Voices JSON: "))
    ]
    for voice in voices:
        if voice.as_of:
            from epochpod_assets.history.dates import parse_date

            voice.year = parse_date(voice.as_of).year
    return Research(sheet=FactSheet(topic="", facts=facts), voices=voices)


# -- the offline writer's figures speak from the fact sheet -----------------------------------


def spoken_lines(answer: BaseModel) -> Iterator[Line]:
    """Every `Line` inside a written answer (a script, a part, a rewrite), in order."""
    for name in type(answer).model_fields:
        value = getattr(answer, name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Line):
                yield item
            elif isinstance(item, BaseModel):
                yield from spoken_lines(item)


def known_facts(found: Research, speaker: str) -> list[Fact]:
    """The facts a speaker may state: those that pass the time guard at the speaker's date
    (nothing in them dated, named or invented after it)."""
    from epochpod_assets.history.dates import parse_date
    from epochpod_assets.history.timeguard import check_text

    voice = next((v for v in found.voices if v.speaker == speaker), None)
    if voice is None or not voice.as_of:
        return list(found.sheet.facts)
    as_of = parse_date(voice.as_of)
    return [
        f
        for f in found.sheet.facts
        if (f.year is None or f.year <= as_of.year) and not check_text(f.text, as_of)
    ]


def speak_from_facts(answer: T, found: Research, seed: str) -> T:
    """The offline answer with each figure's lines rebuilt from the facts they may know:
    fact sentences (in the first person when the fact is about the speaker) up to the line's
    length, the template's own words after them, and the facts' ids on the line."""
    figures = {v.speaker for v in found.voices}
    if not found.sheet.facts or not figures:
        return answer
    answer = answer.model_copy(deep=True)
    queues: dict[str, list[Fact]] = {}
    rng = prose.seeded("grounding", seed)
    for line in spoken_lines(answer):
        if line.speaker not in figures:
            continue
        queue = queues.get(line.speaker)
        if not queue:
            queue = known_facts(found, line.speaker)
            rng.shuffle(queue)
            queues[line.speaker] = queue
        if not queue:
            continue
        _rebuild(line, queue, sole=len(figures) == 1)
    return answer


def _rebuild(line: Line, queue: list[Fact], sole: bool) -> None:
    words = count_words(line.text)
    if words < 12:  # "Thank you for listening": no room for a fact
        return
    said: list[str] = []
    used: list[int] = []
    total = 0
    # Facts take up to about two thirds of the line and never push it past its length; the
    # template's words round it off, so the line keeps its length and the script its budget.
    tried = 0
    while queue and tried < len(queue) and total < words * 0.6:
        fact = queue.pop(0)
        queue.append(fact)  # back of the queue: a long script comes round to it again
        tried += 1
        sentence = first_person(fact.text, line.speaker, sole=sole)
        n = count_words(sentence)
        if total + n > words:
            continue  # too long for this line; a later, longer line may take it
        said.append(sentence)
        used.append(fact.id)
        total += n
    if not said:
        return
    for sentence in _sentences(line.text):
        n = count_words(sentence)
        # Stop short rather than overshoot by more than we would undershoot, and never by
        # more than a little: the script's length check allows 20 %, a part's 15 %.
        if total + n - words > words - total or total + n > words * 1.1:
            break
        said.append(sentence)
        total += n
    line.text = " ".join(said)
    line.facts = sorted(set(line.facts) | set(used))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


_PRONOUN_SUBJECT = re.compile(
    r"^((?:(?:In|On|By|During|After|Before|From)\b[^,.]*?,?\s)?)(?:He|he|She|she)\b(?=\s+[a-z])"
)


def first_person(text: str, speaker: str, sole: bool = True) -> str:
    """A fact about the speaker, said by them: "In 1905 Einstein published four papers" said
    by Albert Einstein is "In 1905 I published four papers"."""
    parts = speaker.split()
    names = [speaker] + ([parts[-1]] if len(parts) > 1 else [])
    pattern = "|".join(re.escape(name) for name in names)
    text = re.sub(rf"\b(?:{pattern})'s\b", "my", text)
    text = re.sub(rf"\b(?:{pattern})\b(?=\s+[a-z])", "I", text)
    # A source's "he" or "she" opening the sentence (or after its date) is the figure the
    # passage is about, when the episode has one figure (extraction keeps such sentences only
    # in paragraphs that name them); with several, it could be any of them.
    if sole:
        text = _PRONOUN_SUBJECT.sub(lambda m: m.group(1) + "I", text)
    if text.startswith("my "):
        text = "My " + text[3:]
    return _agree(text)


def _agree(text: str) -> str:
    # "I has" and "I is" are the only agreements the facts' third person commonly breaks.
    return re.sub(r"\bI (has|is)\b", lambda m: "I have" if m.group(1) == "has" else "I am", text)


# -- the writer every stage after research uses ------------------------------------------------

Enforce = Callable[[Any, Usage, str], Any]


@dataclass
class GroundedWriter:
    """The stage's writer with the episode's grounding, and the integrity gate applied to
    every answer that holds spoken lines (`enforce`, None for the outline)."""

    inner: Writer
    found: Research
    enforce: Enforce | None = None

    def __post_init__(self) -> None:
        # The writer's own name: the pace memory and the metadata know it by these.
        self.provider: str = self.inner.provider
        self.model: str = self.inner.model

    def write(self, task: WritingTask[T], usage: Usage) -> T:
        answer = self.inner.write(grounded_task(task, self.found), usage)
        if self.enforce is not None and next(spoken_lines(answer), None) is not None:
            checked: T = self.enforce(answer, usage, task.name)
            return checked
        return answer


def voices_by_speaker(found: Research) -> Mapping[str, VoiceDate]:
    return {v.speaker: v for v in found.voices}
