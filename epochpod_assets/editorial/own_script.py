"""Bring your own script: a producer's plain script (or podcastfy transcript) voiced as an
episode, with no outline or script written (0 writer calls).

`epochpod enqueue script FILE --format NAME` reads the file, takes the cast from it as the
format says (`EpisodeFormat.own_script_fields`; an interview: host, then guest, in order of
first line; a debate: the moderator, then two to four participants; an adventure: one
narrator; a documentary: the narrator, then one to four figures), voices from
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
from epochpod_assets.formats import registry
from epochpod_assets.formats.base import (
    CastMismatch,
    EpisodeFormat,
    count_words,
    minutes_for_words,
)
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets.scripting.scriptfile import ScriptFile, ScriptFileError, parse
from epochpod_assets.storage import MediaStore

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
    problem (a file's with its line number); nothing is stored. The format decides how the
    file's speakers and sections become its request (`EpisodeFormat.own_script_fields`)."""
    if fmt not in registry.names():
        raise EditError([f"format: must be one of {', '.join(registry.names())} (got {fmt!r})"])
    episode_format = registry.by_name(fmt)
    if len(text.encode()) > MAX_SCRIPT_BYTES:
        raise EditError([f"script: is larger than {MAX_SCRIPT_BYTES} bytes"])
    try:
        parsed = parse(text, adventure=branching(episode_format))
    except ScriptFileError as error:
        raise EditError([f"line {n}: {message}" for n, message in error.errors]) from None
    voice_of = {**voices_in_header(text), **(voices or {})}
    speakers = parsed.speakers()
    if unknown := [name for name in voice_of if name not in speakers]:
        raise EditError([f"voice: {name!r} does not speak in the script" for name in unknown])
    name = title or parsed.title
    if not name:
        raise EditError(["title: the file has no '# Title' line; give --title"])
    try:
        fields = episode_format.own_script_fields(parsed, name, voice_of)
    except CastMismatch as error:
        raise EditError(error.problems) from None
    words = sum(count_words(line.text) for line in parsed.spoken_lines())
    digest = hashlib.sha256(text.encode()).hexdigest()
    request = {
        "format": fmt,
        **(extra or {}),
        "target_minutes": minutes_for_words(words),
        **fields,
        "own_script": digest,
    }
    try:
        parse_request(request)
    except RequestError as error:
        raise EditError(error.problems) from None
    return request, digest


def branching(episode_format: EpisodeFormat[Any, Any, Any]) -> bool:
    """Whether the format's script is a story tree (`## node: title`, `-> choice` lines)."""
    return "nodes" in episode_format.script_model.model_fields


def store_file(store: MediaStore, text: str, digest: str) -> None:
    store.put(file_key(digest), text.encode(), "text/plain; charset=utf-8")


def load_file(store: MediaStore, request: Any) -> ScriptFile:
    """The producer's file; a story's nodes breadth first from its first node, the order of
    the format's own node ids (and so of the tracks)."""
    text = store.get(file_key(request.own_script)).decode()
    parsed = parse(text, adventure=branching(registry.by_name(request.format)))
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
    if branching(fmt):
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


def _breadth_first(parsed: ScriptFile) -> ScriptFile:
    """The story's nodes in breadth-first order from its first node."""
    nodes = {s.node: s for s in parsed.sections}
    order, queue = [], [parsed.sections[0]]
    while queue:
        section = queue.pop(0)
        order.append(section)
        queue += [nodes[c.node] for c in section.choices]
    return ScriptFile(title=parsed.title, sections=order, kind=parsed.kind)
