"""Bring your own script: a producer's plain script (or podcastfy transcript) voiced as an
episode, with no outline or script written (0 writer calls).

`epochpod enqueue script FILE --format interview|debate|adventure` reads the file, takes the
cast from it (an interview: host, then guest, in order of first line; a debate: the
moderator, then two to four participants; an adventure: one narrator), voices from
`--voice NAME=VOICE` flags or `<!-- voice: NAME = VOICE -->` header lines, and builds an
ordinary request with `own_script` set to the file's SHA-256. The file is kept in media
storage under that hash. The outline stage then builds the plan from the file (the format's
deterministic template, with the file's title, node titles and choices) and the script stage
converts the file; neither calls the writer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from epochpod_assets.editorial.actions import MAX_SCRIPT_BYTES, EditError
from epochpod_assets.formats.base import EpisodeFormat, count_words
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.scripting.scriptfile import ScriptFile, ScriptFileError, parse
from epochpod_assets.storage import MediaStore

FORMATS = ("interview", "debate", "adventure")
_VOICE_HEADER = re.compile(r"^\s*<!--\s*voice\s*:\s*(.+?)\s*=\s*([\w-]+)\s*-->\s*$", re.I)
# A podcastfy transcript or a file without headings: its one section is called this.
UNTITLED_SECTION = "Conversation"


def requested(request: Any) -> bool:
    return bool(getattr(request, "own_script", None))


def file_key(digest: str) -> str:
    # Named by the content's hash, never by anything the producer typed.
    return f"own-scripts/{digest}.txt"


def voices_in_header(text: str) -> dict[str, str]:
    """`<!-- voice: Name = onyx -->` lines (the parser skips them as comments)."""
    found = {}
    for row in text.splitlines():
        match = _VOICE_HEADER.match(row)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def build_request(
    text: str,
    fmt: str,
    *,
    title: str | None = None,
    voices: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """The request for a producer's script, and the file's hash. Raises EditError naming each
    problem (a file's with its line number); nothing is stored."""
    if fmt not in FORMATS:
        raise EditError([f"format: must be one of {', '.join(FORMATS)} (got {fmt!r})"])
    if len(text.encode()) > MAX_SCRIPT_BYTES:
        raise EditError([f"script: is larger than {MAX_SCRIPT_BYTES} bytes"])
    try:
        parsed = parse(text, adventure=fmt == "adventure")
    except ScriptFileError as error:
        raise EditError([f"line {n}: {message}" for n, message in error.errors]) from None
    voice_of = {**voices_in_header(text), **(voices or {})}
    speakers = parsed.speakers()
    if unknown := [name for name in voice_of if name not in speakers]:
        raise EditError([f"voice: {name!r} does not speak in the script" for name in unknown])
    name = title or parsed.title
    if not name:
        raise EditError(["title: the file has no '# Title' line; give --title"])
    words = sum(count_words(line.text) for line in parsed.spoken_lines())
    request: dict[str, Any] = {"format": fmt, **(extra or {})}
    if fmt == "interview":
        if len(speakers) != 2:
            raise EditError(_cast_problem(parsed, "an interview has two speakers, host then guest"))
        host, guest = speakers
        request |= {"host_name": host, "guest_name": guest, "topic": name}
        request |= _voices({"host_voice": host, "guest_voice": guest}, voice_of)
    elif fmt == "debate":
        if not 3 <= len(speakers) <= 5:
            raise EditError(
                _cast_problem(parsed, "a debate has a moderator, then two to four participants")
            )
        moderator, *participants = speakers
        request |= {
            "topic": name,
            "moderator_name": moderator,
            "participants": [
                {"name": p, "position": "as argued in the script"}
                | ({"voice": voice_of[p]} if p in voice_of else {})
                for p in participants
            ],
            "rounds": 1,  # the file's sections are the rounds; this only sizes the plan
        }
        request |= _voices({"moderator_voice": moderator}, voice_of)
    else:
        if len(speakers) != 1:
            raise EditError(_cast_problem(parsed, "an adventure has one narrator"))
        depth, choices = _tree_shape(parsed)
        request |= {"setting": name, "depth": depth, "choices": choices}
        request |= _voices({"narrator_voice": speakers[0]}, voice_of)
        words = words * depth // max(1, len(parsed.sections))  # one listen is one path
    request["target_minutes"] = min(60.0, max(1.0, round(words / 150, 1)))
    digest = hashlib.sha256(text.encode()).hexdigest()
    request["own_script"] = digest
    try:
        parse_request(request)
    except RequestError as error:
        raise EditError(error.problems) from None
    return request, digest


def store_file(store: MediaStore, text: str, digest: str) -> None:
    store.put(file_key(digest), text.encode(), "text/plain; charset=utf-8")


def load_file(store: MediaStore, request: Any) -> ScriptFile:
    """The producer's file; a story's nodes breadth first from its first node, the order of
    the format's own node ids (and so of the tracks)."""
    text = store.get(file_key(request.own_script)).decode()
    parsed = parse(text, adventure=request.format == "adventure")
    return _breadth_first(parsed) if parsed.kind == "adventure" else parsed


def outline_for(store: MediaStore, fmt: EpisodeFormat[Any, Any, Any], request: Any) -> Any:
    """The plan of an own-script episode, written by no one: the format's deterministic
    template for the request, with the file's title (and, for a story, its node titles and
    choices)."""
    parsed = load_file(store, request)
    outline = fmt.outline_task(request).template()
    update: dict[str, Any] = {}
    if "title" in fmt.outline_model.model_fields and parsed.title:
        update["title"] = parsed.title
    if "nodes" in fmt.outline_model.model_fields:
        # The file's nodes, breadth first, are the template's nodes in order: same tree
        # (checked at enqueue), the format's own ids, the file's titles and choice labels.
        update["nodes"] = [
            node.model_copy(
                update={
                    "title": given.title,
                    "choices": [
                        choice.model_copy(update={"label": label.label})
                        for choice, label in zip(node.choices, given.choices, strict=True)
                    ],
                }
            )
            for node, given in zip(outline.nodes, parsed.sections, strict=True)
        ]
    return outline.model_copy(update=update)


def script_for(
    store: MediaStore, fmt: EpisodeFormat[Any, Any, Any], request: Any, outline: Any
) -> Any:
    parsed = load_file(store, request)
    if "nodes" in fmt.script_model.model_fields:
        return fmt.script_model.model_validate(
            {
                "nodes": [
                    {
                        "id": node.id,
                        "title": s.title,
                        "narration": " ".join(line.text for line in s.lines),
                    }
                    for node, s in zip(outline.nodes, parsed.sections, strict=True)
                ]
            }
        )
    return fmt.script_model.model_validate(
        {
            "sections": [
                {
                    "title": s.title or UNTITLED_SECTION,
                    "lines": [{"speaker": x.speaker, "text": x.text} for x in s.lines],
                }
                for s in parsed.sections
            ]
        }
    )


def _voices(fields: dict[str, str], voice_of: Mapping[str, str]) -> dict[str, str]:
    return {field: voice_of[name] for field, name in fields.items() if name in voice_of}


def _cast_problem(parsed: ScriptFile, rule: str) -> list[str]:
    first: dict[str, int] = {}
    for line in parsed.spoken_lines():
        first.setdefault(line.speaker, line.line)
    shown = ", ".join(f"{name} (line {number})" for name, number in first.items())
    return [f"cast: {rule}; the file has {len(first)}: {shown}"]


def _tree_shape(parsed: ScriptFile) -> tuple[int, int]:
    """(depth, choices) of a story file: a complete tree from its first node, every node
    but the endings with the same number of choices (2 or 3), every ending equally deep."""
    nodes = {s.node: s for s in parsed.sections}
    first = parsed.sections[0]
    problems: list[tuple[int, str]] = []
    counts = {len(s.choices) for s in parsed.sections if s.choices}
    choices = counts.pop() if len(counts) == 1 else 0
    if counts or choices not in (0, 2, 3):
        problems.append(
            (first.line, "every node but the endings needs 2 or 3 choices, the same everywhere")
        )
    depth, level, seen = 0, [first], {first.node}
    while level and not problems:
        depth += 1
        following = []
        for section in level:
            for choice in section.choices:
                if choice.node in seen:
                    problems.append((choice.line, f"node {choice.node!r} is reached twice"))
                seen.add(choice.node)
                following.append(nodes[choice.node])
        if following and any(not s.choices for s in level):
            problems.append((level[0].line, "every ending must be as deep as the others"))
        level = following
    if not problems and (unreached := [s for s in parsed.sections if s.node not in seen]):
        problems.append((unreached[0].line, f"node {unreached[0].node!r} is never reached"))
    if not problems and depth > 4:
        problems.append((first.line, f"the story is {depth} levels deep; at most 4"))
    if problems:
        raise EditError([f"line {n}: {message}" for n, message in problems])
    return depth, choices or 2


def _breadth_first(parsed: ScriptFile) -> ScriptFile:
    """The story's nodes in breadth-first order from its first node."""
    nodes = {s.node: s for s in parsed.sections}
    order, queue = [], [parsed.sections[0]]
    while queue:
        section = queue.pop(0)
        order.append(section)
        queue += [nodes[c.node] for c in section.choices]
    return ScriptFile(title=parsed.title, sections=order, kind=parsed.kind)
