"""An episode's script as a plain text file a person edits, and back.

Formats store their scripts in two shapes, and this module works on the shape, never on a
format's name: a script of `sections` (each a titled list of `Line`s: interview, debate,
documentary) or a script of story `nodes` (each one narration, with the outline's choices:
adventure). Export writes the canonical plain format (`scripting.scriptfile.render`); import
parses it with the episode's cast and checks the structure against the current script, so
every problem names the line of the file it is on, and a valid file becomes the same
`script_model` the writer would have produced. Lines that did not change keep everything the
pipeline attached to them (fact ids, say), so only changed or new lines are new to the voice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from epochpod_assets.formats.adventure import wrong_tracks
from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.scripting.scriptfile import (
    ScriptChoice,
    ScriptFile,
    ScriptFileError,
    ScriptLine,
    ScriptSection,
    parse,
    render,
)

EDIT_NOTE = (
    "Edit the spoken lines ('Speaker Name: text', one line each), section titles and line "
    "order; add or remove lines. {fixed} are fixed. Then: "
    "epochpod script import {episode_id} FILE"
)


class NotEditable(ValueError):
    """The episode's format stores its script in a shape this module does not know."""


@dataclass(frozen=True)
class SpokenLine:
    """Where one spoken line of the exported file sits in the episode's script."""

    number: int  # line number in the exported file
    position: int  # index among all spoken lines, in order
    speaker: str
    text: str


def _is_nodes(fmt: EpisodeFormat[Any, Any, Any]) -> bool:
    fields = fmt.script_model.model_fields
    if "nodes" in fields:
        return True
    if "sections" in fields:
        return False
    raise NotEditable(f"{fmt.episode_type} scripts cannot be edited as plain text")


def to_file(
    fmt: EpisodeFormat[Any, Any, Any], request: Any, outline: Any, script: Any
) -> ScriptFile:
    """The episode's current script as a parsed plain script."""
    if _is_nodes(fmt):
        speaker = _narrator(fmt, request)
        choices = {node.id: node.choices for node in outline.nodes}
        return ScriptFile(
            title=outline.title,
            kind="adventure",
            sections=[
                ScriptSection(
                    title=node.title,
                    node=node.id,
                    lines=[ScriptLine(speaker=speaker, text=node.narration)],
                    choices=[ScriptChoice(label=c.label, node=c.next) for c in choices[node.id]],
                )
                for node in script.nodes
            ],
        )
    title = fmt.tracks(request, outline, script)[0].title
    return ScriptFile(
        title=title,
        sections=[
            ScriptSection(
                title=section.title,
                lines=[ScriptLine(speaker=line.speaker, text=line.text) for line in section.lines],
            )
            for section in script.sections
        ],
    )


def export_text(
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    script: Any,
    episode_id: str | None = None,
) -> str:
    """The plain text `epochpod script export` writes."""
    note = None
    if episode_id is not None:
        fixed = (
            "The title, the narrator, the node ids and the choices"
            if _is_nodes(fmt)
            else "The title and the speakers"
        )
        note = EDIT_NOTE.format(fixed=fixed, episode_id=episode_id)
    return render(to_file(fmt, request, outline, script), note=note)


def spoken_lines(text: str) -> Iterator[SpokenLine]:
    """The spoken lines of an exported file with their line numbers."""
    for position, line in enumerate(parse(text).spoken_lines()):
        yield SpokenLine(line.line, position, line.speaker, line.text)


def replace_lines(text: str, new: dict[int, str]) -> str:
    """An exported file with the spoken lines at the given line numbers saying something new
    (same speakers)."""
    rows = text.split("\n")
    for spoken in spoken_lines(text):
        if spoken.number in new:
            rows[spoken.number - 1] = f"{spoken.speaker}: {' '.join(new[spoken.number].split())}"
    return "\n".join(rows)


def from_text(
    text: str,
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    current: Any,
) -> Any:
    """The script a plain text file describes, checked against the episode.

    Raises ScriptFileError listing every problem with its line number; the cast is the
    episode's, the title and (for a story) the node ids and choices must be as exported.
    """
    cast = fmt.cast(request)
    parsed = parse(text, adventure=_is_nodes(fmt), speakers=cast)
    expected = to_file(fmt, request, outline, current)
    errors: list[tuple[int, str]] = []
    if parsed.title is not None and parsed.title != expected.title:
        errors.append(
            (parsed.title_line, f"the title is {expected.title!r}; it cannot be changed here")
        )
    if _is_nodes(fmt):
        script = _nodes_from(parsed, expected, current, errors)
    else:
        script = _sections_from(parsed, fmt, cast, current, errors)
    if errors:
        raise ScriptFileError(errors)
    return script


def _sections_from(
    parsed: ScriptFile,
    fmt: EpisodeFormat[Any, Any, Any],
    cast: dict[str, str],
    current: Any,
    errors: list[tuple[int, str]],
) -> Any:
    for section in parsed.sections:
        if section.title is None:
            errors.append((section.line, "spoken lines must follow a '## Section' heading"))
    last = max((line.line for line in parsed.spoken_lines()), default=1)
    if silent := [name for name in cast if name not in parsed.speakers()]:
        errors.append((last, f"cast members who never speak: {silent}"))
    # An unchanged line keeps what the pipeline attached to it (e.g. fact ids).
    kept: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for section in current.sections:
        for line in section.lines:
            kept[(line.speaker, line.text)].append(line)
    line_model = type(current.sections[0].lines[0])
    sections = []
    for section in parsed.sections:
        lines = []
        for said in section.lines:
            same = kept.get((said.speaker, said.text))
            lines.append(same.pop(0) if same else line_model(speaker=said.speaker, text=said.text))
        sections.append({"title": section.title or "", "lines": lines})
    data = current.model_dump()
    data["sections"] = sections
    return fmt.script_model.model_validate(data)


def _nodes_from(
    parsed: ScriptFile, expected: ScriptFile, current: Any, errors: list[tuple[int, str]]
) -> Any:
    want = [section.node for section in expected.sections]
    got = [section.node for section in parsed.sections]
    last = max((s.line for s in parsed.sections), default=1)
    for section in parsed.sections:
        if section.node not in want:
            errors.append((section.line, f"unknown node {section.node!r}; the nodes are {want}"))
    for node in want:
        if node not in got:
            errors.append((last, f"node {node!r} is missing"))
    if not errors and got != want:
        errors.append((parsed.sections[0].line, f"the nodes must come in the order {want}"))
    choices = {s.node: s.choices for s in expected.sections}
    for section in parsed.sections:
        if section.node in choices and section.choices != choices[section.node]:
            shown = "; ".join(f"{c.label} -> {c.node}" for c in choices[section.node])
            at = section.choices[0].line if section.choices else section.line
            errors.append(
                (at, f"node {section.node}'s choices are fixed: {shown or 'none (an ending)'}")
            )
    # "Go to track N" must name a track the node's choices lead to (node order = track order).
    numbers = {node: number for number, node in enumerate(want, start=1)}
    for section in parsed.sections:
        allowed = {numbers[c.node] for c in section.choices if c.node in numbers}
        for line in section.lines:
            if wrong := wrong_tracks(line.text, allowed):
                errors.append(
                    (
                        line.line,
                        f"sends the listener to track {wrong[0]}; node {section.node}'s "
                        f"choices lead to tracks {sorted(allowed) or 'none (an ending)'}",
                    )
                )
    if errors:
        return current
    nodes = {node.id: node for node in current.nodes}
    return current.model_copy(
        update={
            "nodes": [
                nodes[section.node].model_copy(
                    update={
                        "title": section.title,
                        # One narrator clip per node: the node's lines are read as one.
                        "narration": " ".join(line.text for line in section.lines),
                    }
                )
                for section in parsed.sections
                if section.node
            ]
        }
    )


def changed_lines(old: ScriptFile, new: ScriptFile) -> int:
    """Spoken lines of `new` that `old` does not have (what the voice will speak anew)."""
    before = Counter((line.speaker, line.text) for line in old.spoken_lines())
    changed = 0
    for line in new.spoken_lines():
        key = (line.speaker, line.text)
        if before[key]:
            before[key] -= 1
        else:
            changed += 1
    return changed


def _narrator(fmt: EpisodeFormat[Any, Any, Any], request: Any) -> str:
    cast = list(fmt.cast(request))
    if len(cast) != 1:
        raise NotEditable(f"a story script needs one narrator; the cast is {cast}")
    return cast[0]


__all__ = [
    "NotEditable",
    "ScriptFileError",
    "SpokenLine",
    "changed_lines",
    "export_text",
    "from_text",
    "spoken_lines",
    "to_file",
]
