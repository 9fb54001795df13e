"""The plain script format: a script as a text file a person reads, edits and hands back.

```
# The Title

## Introduction

Host Name: What the host says, on one line.
Guest Name: What the guest answers.

## n0: At the harbour            (adventure files: `## <node id>: <title>`)

Narrator: You stand on the quay...
-> Board the ship: n1
-> Stay ashore: n2
```

Blank lines and lines starting with `<!--` are ignored. A file is an adventure when it has at
least one `->` choice line (or the caller says so); only then is a `## a: b` heading read as a
node id and a title, so a plain section may be called "Part one: the war". podcastfy-style
transcripts (`<Person1>...</Person1><Person2>...</Person2>`) are read too, one section without a
heading, speakers `Person1`, `Person2`, ...

`parse()` keeps each item's 1-based line number in the file and reports every problem it finds
at once, each naming its line. `render()` writes the canonical text: for any text `parse()`
accepts, `parse(render(parse(text)))` equals `parse(text)` (line numbers aside), and a
rendered text renders back to itself character for character.

This module knows nothing of formats or voices: callers (`script check`, export/import, bring
your own script) map speakers and nodes onto a format's cast and tree.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Literal

# Generous but bounded: a speaker is a name, not a sentence that happens to contain a colon.
MAX_SPEAKER_CHARS = 60
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_SPEAKER_LINE = re.compile(r"([^:#<>\-\s][^:<>]*?)\s*:\s*(.*)")
_PODCASTFY_TAG = re.compile(r"<(Person\d+)>(.*?)</\1>", re.DOTALL)
_PODCASTFY_START = re.compile(r"\s*<Person\d+>")

Kind = Literal["plain", "adventure", "podcastfy"]


@dataclass(frozen=True)
class ScriptLine:
    """One spoken turn."""

    speaker: str
    text: str
    line: int = field(default=0, compare=False)  # 1-based line in the parsed file; 0 if built


@dataclass(frozen=True)
class ScriptChoice:
    """An adventure choice: the label the listener hears and the node it leads to."""

    label: str
    node: str
    line: int = field(default=0, compare=False)


@dataclass
class ScriptSection:
    """A `## heading` and what follows it. In an adventure, a story node (`node` is its id)."""

    title: str | None  # None only for turns before the first heading
    lines: list[ScriptLine] = field(default_factory=list)
    node: str | None = None
    choices: list[ScriptChoice] = field(default_factory=list)
    line: int = field(default=0, compare=False)


@dataclass
class ScriptFile:
    """A parsed script: its title, its sections (or adventure nodes) and their turns."""

    title: str | None
    sections: list[ScriptSection]
    kind: Kind = "plain"
    title_line: int = field(default=0, compare=False)

    def spoken_lines(self) -> Iterator[ScriptLine]:
        for section in self.sections:
            yield from section.lines

    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        return list(dict.fromkeys(line.speaker for line in self.spoken_lines()))

    def node(self, node_id: str) -> ScriptSection:
        for section in self.sections:
            if section.node == node_id:
                return section
        raise KeyError(node_id)


class ScriptFileError(ValueError):
    """Every problem found in a script file; each names its 1-based line number."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = sorted(errors)
        super().__init__("\n".join(f"line {n}: {message}" for n, message in self.errors))


def parse(
    text: str,
    *,
    adventure: bool | None = None,
    speakers: Collection[str] | None = None,
) -> ScriptFile:
    """Read a plain script (or a podcastfy transcript). `adventure` None means: an adventure if
    the file has a `->` choice line. `speakers`, when given, is the cast every turn must use.
    Raises ScriptFileError listing every problem with its line number."""
    if _PODCASTFY_START.match(text):
        script = _parse_podcastfy(text)
    else:
        script = _parse_plain(text, adventure)
    if speakers is not None:
        cast = set(speakers)
        unknown = [
            (line.line, f"unknown speaker {line.speaker!r}; the cast is {sorted(cast)}")
            for line in script.spoken_lines()
            if line.speaker not in cast
        ]
        if unknown:
            raise ScriptFileError(unknown)
    return script


def _parse_plain(text: str, adventure: bool | None) -> ScriptFile:
    rows = text.splitlines()
    if adventure is None:
        adventure = any(row.strip().startswith("->") for row in rows)
    errors: list[tuple[int, str]] = []
    title: str | None = None
    title_line = 0
    sections: list[ScriptSection] = []
    nodes: dict[str, int] = {}
    # Sections whose heading or some line was already reported: saying again that they are
    # empty, or that their turns follow their choices, would only repeat the first error.
    reported: set[int] = set()

    def bad_heading(number: int, message: str, heading: str) -> None:
        errors.append((number, message))
        reported.add(len(sections))
        sections.append(ScriptSection(title=heading, line=number))

    def bad_line(number: int, message: str) -> None:
        errors.append((number, message))
        reported.add(len(sections) - 1)

    in_comment = False
    for number, raw in enumerate(rows, start=1):
        row = raw.strip()
        if in_comment or row.startswith("<!--"):
            # A comment may run over several lines, up to the line that closes it.
            in_comment = "-->" not in (row[4:] if row.startswith("<!--") else row)
            continue
        if not row:
            continue
        if row.startswith("## ") or row == "##":
            heading = row[2:].strip()
            if not heading:
                bad_heading(number, "a section heading needs a title after '##'", heading)
                continue
            if adventure:
                node_id, sep, node_title = heading.partition(":")
                node_id, node_title = node_id.strip(), node_title.strip()
                if not sep or not NODE_ID.fullmatch(node_id) or not node_title:
                    bad_heading(
                        number,
                        f"an adventure heading is '## <node id>: <title>', not {row!r}",
                        heading,
                    )
                    continue
                if node_id in nodes:
                    bad_heading(
                        number,
                        f"node {node_id!r} is already defined on line {nodes[node_id]}",
                        heading,
                    )
                    continue
                nodes[node_id] = number
                sections.append(ScriptSection(title=node_title, node=node_id, line=number))
            else:
                sections.append(ScriptSection(title=heading, line=number))
        elif row.startswith("# ") or row == "#":
            if title is not None:
                errors.append((number, f"a second title; the title is on line {title_line}"))
            elif sections:
                errors.append((number, "the '# Title' line must come before the first section"))
            elif not row[1:].strip():
                errors.append((number, "the title line needs a title after '#'"))
            else:
                title, title_line = row[1:].strip(), number
        elif row.startswith("#"):
            errors.append((number, f"headings are '# Title' or '## Section', not {row!r}"))
        elif row.startswith("->"):
            choice = _parse_choice(row, number, errors)
            if choice is None:
                continue
            if not adventure:
                errors.append((number, "choice lines ('->') belong only in an adventure"))
            elif not sections:
                errors.append((number, "a choice must follow a '## <node id>: <title>' heading"))
            else:
                sections[-1].choices.append(choice)
        else:
            match = _SPEAKER_LINE.fullmatch(row)
            if match is None:
                bad_line(number, "expected 'Speaker Name: what they say'")
                continue
            speaker, said = match.group(1).strip(), match.group(2).strip()
            if len(speaker) > MAX_SPEAKER_CHARS:
                bad_line(number, "expected 'Speaker Name: what they say'")
            elif not said:
                bad_line(number, f"{speaker} says nothing")
            elif sections and sections[-1].choices:
                if len(sections) - 1 not in reported:
                    bad_line(number, "spoken lines must come before the node's choices")
            else:
                if not sections:
                    sections.append(ScriptSection(title=None, line=number))
                sections[-1].lines.append(ScriptLine(speaker=speaker, text=said, line=number))

    for index, section in enumerate(sections):
        if not section.lines and index not in reported:
            errors.append((section.line, f"section {section.title!r} has no spoken lines"))
        for choice in section.choices:
            if choice.node not in nodes:
                errors.append((choice.line, f"choice leads to unknown node {choice.node!r}"))
    if not sections and not errors:
        errors.append((max(len(rows), 1), "the script has no spoken lines"))
    if adventure and sections and sections[0].title is None:
        errors.append((sections[0].line, "an adventure's turns must follow a node heading"))
    if errors:
        raise ScriptFileError(errors)
    return ScriptFile(
        title=title,
        sections=sections,
        kind="adventure" if adventure else "plain",
        title_line=title_line,
    )


def _parse_choice(row: str, number: int, errors: list[tuple[int, str]]) -> ScriptChoice | None:
    label, sep, node_id = row[2:].rpartition(":")
    label, node_id = label.strip(), node_id.strip()
    if not sep or not label or not NODE_ID.fullmatch(node_id):
        errors.append((number, f"a choice is '-> <choice label>: <node id>', not {row!r}"))
        return None
    return ScriptChoice(label=label, node=node_id, line=number)


def _parse_podcastfy(text: str) -> ScriptFile:
    errors: list[tuple[int, str]] = []
    lines: list[ScriptLine] = []
    position = 0
    for match in _PODCASTFY_TAG.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        between = text[position : match.start()]
        if between.strip():
            errors.append(
                (
                    text.count("\n", 0, position + len(between) - len(between.lstrip())) + 1,
                    "text outside a <PersonN>...</PersonN> turn",
                )
            )
        said = " ".join(match.group(2).split())
        if not said:
            errors.append((number, f"{match.group(1)} says nothing"))
        else:
            lines.append(ScriptLine(speaker=match.group(1), text=said, line=number))
        position = match.end()
    rest = text[position:]
    if rest.strip():
        offset = position + len(rest) - len(rest.lstrip())
        errors.append(
            (text.count("\n", 0, offset) + 1, "text outside a <PersonN>...</PersonN> turn")
        )
    if not lines and not errors:
        errors.append((1, "the transcript has no <PersonN>...</PersonN> turns"))
    if errors:
        raise ScriptFileError(errors)
    section = ScriptSection(title=None, lines=lines, line=lines[0].line)
    return ScriptFile(title=None, sections=[section], kind="podcastfy")


def _one_line(text: str, what: str) -> str:
    # Whitespace runs (a model's line breaks included) become one space: one turn, one line.
    flat = " ".join(text.split())
    if not flat:
        raise ValueError(f"{what} is empty")
    return flat


def render(script: ScriptFile, *, note: str | None = None) -> str:
    """The canonical plain text of a script (a podcastfy transcript comes out in the plain
    format). `note` goes first as an `<!-- ... -->` comment (e.g. how to edit the file), which
    `parse()` ignores. Raises ValueError for what the format cannot say, e.g. a speaker with a
    colon."""
    out: list[str] = []
    if note is not None:
        if "-->" in note:
            raise ValueError("a note cannot contain '-->'")
        out += [f"<!-- {note.strip()} -->", ""]
    if script.title is not None:
        out += [f"# {_one_line(script.title, 'the title')}", ""]
    adventure = script.kind == "adventure"
    for index, section in enumerate(script.sections):
        if section.title is None:
            if index > 0 or adventure:
                raise ValueError("only the first section of a plain script may lack a heading")
        elif adventure:
            if section.node is None or not NODE_ID.fullmatch(section.node):
                raise ValueError(f"adventure node {section.node!r} needs an id like 'n0'")
            out.append(f"## {section.node}: {_one_line(section.title, 'a node title')}")
            out.append("")
        else:
            out.append(f"## {_one_line(section.title, 'a section title')}")
            out.append("")
        for line in section.lines:
            speaker = _one_line(line.speaker, "a speaker name")
            match = _SPEAKER_LINE.fullmatch(f"{speaker}: x")
            if match is None or match.group(1) != speaker or len(speaker) > MAX_SPEAKER_CHARS:
                raise ValueError(f"{speaker!r} cannot be written as a speaker name")
            out.append(f"{speaker}: {_one_line(line.text, f'a line of {speaker}')}")
        if section.choices and not adventure:
            raise ValueError("only an adventure has choices")
        for choice in section.choices:
            if not NODE_ID.fullmatch(choice.node):
                raise ValueError(f"choice target {choice.node!r} is not a node id")
            out.append(f"-> {_one_line(choice.label, 'a choice label')}: {choice.node}")
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
