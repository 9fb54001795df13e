"""Adventure: a branching choose-your-own-adventure story, one audio track per story node.

The tree's shape (node ids and which choice leads where) is fixed by the request; the writer only
fills it with words, so a model cannot return a story whose choices lead nowhere.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from epochpod_assets.catalog.schema import adventure_details
from epochpod_assets.formats import prose, schemas
from epochpod_assets.formats.adventure.request import AdventureRequest
from epochpod_assets.formats.base import (
    CastMismatch,
    EpisodeFormat,
    FeedEntry,
    Line,
    Publication,
    RenderedTrackInfo,
    Section,
    SectionBrief,
    SectionScript,
    TrackPlan,
    cast_mismatch,
    count_words,
    minutes_for_words,
    voice_fields,
)
from epochpod_assets.history.dates import HistoricalDate
from epochpod_assets.providers.base import LengthRejected, StructureRejected, WritingTask
from epochpod_assets.providers.voices import VOICE_HELP
from epochpod_assets.scripting import longform
from epochpod_assets.scripting.scriptfile import ScriptFile

NARRATOR = "Narrator"


class Choice(BaseModel):
    label: str = Field(description="what the listener chooses, a short phrase")
    next: str = Field(description="id of the node this choice leads to")


class NodePlan(BaseModel):
    id: str
    title: str
    summary: str
    choices: list[Choice] = Field(description="empty for an ending")


class AdventureOutline(BaseModel):
    title: str
    setting: str
    era: str
    premise: str
    nodes: list[NodePlan]


class NodeScript(BaseModel):
    id: str
    title: str
    narration: str = Field(
        description="what the narrator reads for this node, ending with the choices"
    )


class AdventureScript(BaseModel):
    nodes: list[NodeScript]


SYSTEM = (
    "You write Epoch Pod adventures: second-person, historically grounded, choose-your-own-"
    "adventure stories read aloud by one narrator. Keep exactly the node ids and choices you are "
    "given. Answer only with JSON that fits the schema."
)


START = "n1"


def tree(request: AdventureRequest) -> dict[str, list[str]]:
    """Node id -> child ids, breadth first: n1 is the start, leaves are endings. Node nK is
    track K (its file is nK.mp3, its tag TRCK K/total), the number the narration says."""
    children: dict[str, list[str]] = {START: []}
    level = [START]
    count = 2
    for _ in range(request.depth - 1):
        next_level = []
        for node in level:
            for _ in range(request.choices):
                child = f"n{count}"
                count += 1
                children[node].append(child)
                children[child] = []
                next_level.append(child)
        level = next_level
    return children


class AdventureFormat(EpisodeFormat[AdventureRequest, AdventureOutline, AdventureScript]):
    name = "adventure"
    episode_type = "ADVENTURE"
    summary = "a branching choose-your-own-adventure story"
    request_model = AdventureRequest
    outline_model = AdventureOutline
    script_model = AdventureScript
    detail_table = adventure_details

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--setting", help="where and when the story happens (required)")
        parser.add_argument("--protagonist", help="who the listener is (default you)")
        parser.add_argument("--premise", help="the situation the story starts from")
        parser.add_argument("--narrator-voice", help=f"the narrator's voice: {VOICE_HELP}")
        parser.add_argument(
            "--depth", type=int, help="levels of choices before an ending, 1 to 4 (default 3)"
        )
        parser.add_argument(
            "--choices", type=int, help="choices offered at each node, 2 or 3 (default 2)"
        )

    def demo_request(self) -> dict[str, Any]:
        return {
            "format": "adventure",
            "setting": "Rome on the Ides of March, 44 BC",
            "premise": "You are a messenger carrying a warning to Julius Caesar.",
            "target_minutes": 3,
        }

    def placeholder_title(self, request: AdventureRequest) -> str:
        return f"Generating adventure in {request.setting}..."

    def catalog_topic(self, request: AdventureRequest) -> str | None:
        return request.setting

    def spoken_words(self, request: AdventureRequest) -> int:
        # Every branch is voiced, not just the one path a listen takes: nodes/depth times as
        # much as one listen.
        return self.node_budget(request) * len(tree(request))

    def words_per_listen(self, request: AdventureRequest, track_words: Sequence[int]) -> int:
        # One path through `depth` nodes, at the nodes' average length, is what a listener hears.
        depth = max(1, int(request.depth))
        return round(sum(track_words) / len(track_words) * depth)

    def feed_entry(self, description: str, detail: Mapping[str, Any]) -> FeedEntry:
        # The feed lists the opening track and tells the listener their first choice.
        story_map: dict[str, Any] = detail.get("story_map") or {}
        entry_node = detail.get("entry_node")
        if entry_node and entry_node in story_map:
            choices = [c["label"] for c in story_map[entry_node].get("choices", [])]
            if choices:
                description += " Your first choice: " + " or ".join(choices) + "."
        return FeedEntry(description, entry_node)

    def own_script_fields(
        self, script: ScriptFile, title: str, voice_of: Mapping[str, str]
    ) -> dict[str, Any]:
        speakers = script.speakers()
        if len(speakers) != 1:
            raise cast_mismatch(script, "an adventure has one narrator")
        depth, choices = _tree_shape(script)
        words = sum(count_words(line.text) for line in script.spoken_lines())
        return {
            "setting": title,
            "depth": depth,
            "choices": choices,
            # One listen is one path from the first node to an ending.
            "target_minutes": minutes_for_words(words * depth // len(script.sections)),
        } | voice_fields({"narrator_voice": speakers[0]}, voice_of)

    def cast(self, request: AdventureRequest) -> dict[str, str]:
        return {NARRATOR: request.narrator_voice}

    def figures(self, request: AdventureRequest) -> dict[str, HistoricalDate | None]:
        # The narrator tells the story in its present, the setting's date.
        return {NARRATOR: request.as_of}

    # One track is one narrator clip: no pauses inside it, whatever its length.
    words_per_turn = float("inf")

    def fixed_turns(self, request: AdventureRequest) -> int:
        return 1

    def node_budget(self, request: AdventureRequest, budget: int | None = None) -> int:
        # The target length is one listen from the start to an ending: `depth` nodes.
        return (budget or self.word_budget(request)) // request.depth

    def listening_seconds(
        self, request: AdventureRequest, tracks: Sequence[RenderedTrackInfo]
    ) -> float:
        """The average path from the start to an ending. The tree is complete, so that is the
        sum over levels of the mean track length at each level."""
        seconds = {t.key: t.duration_seconds for t in tracks}
        level, total = [START], 0.0
        shape = tree(request)
        while level:
            total += sum(seconds[node] for node in level) / len(level)
            level = [child for node in level for child in shape[node]]
        return total

    def outline_task(self, request: AdventureRequest) -> WritingTask[AdventureOutline]:
        shape = tree(request)
        prompt = (
            "Task: adventure.outline\n"
            f"Plan a branching adventure in {request.setting} for {request.protagonist}"
            + (f". Premise: {request.premise}" if request.premise else "")
            + f". Use exactly these nodes and edges (node -> the nodes its choices lead to; "
            f"nodes with none are endings): {shape}.\nRequest JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="adventure outline",
            schema=AdventureOutline,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_outline(request, shape),
            check=lambda outline: _check_shape(outline, shape),
            json_schema=_outline_schema(request, shape),
            decode=lambda answer: _decode_outline(answer, shape),
            encode=_encode_outline,
        )

    def script_task(
        self, request: AdventureRequest, outline: AdventureOutline, budget: int | None = None
    ) -> WritingTask[AdventureScript]:
        path = budget or self.word_budget(request)
        budget = self.node_budget(request, path)
        prompt = (
            "Task: adventure.script\n"
            f"Word budget: {path}\n"
            f"Write the narration for every node, about {budget} words each, ending each "
            f"non-final node by reading its choices aloud, each with its track number "
            f"(node -> track: {track_numbers(outline)}).\n"
            f"Outline JSON: {outline.model_dump_json()}\nRequest JSON: {request.model_dump_json()}"
        )
        return WritingTask(
            name="adventure script",
            schema=AdventureScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=lambda: self._offline_script(request, outline, budget),
            check=lambda script: _check_script(script, outline, budget),
            json_schema=_script_schema(request, outline, budget),
            decode=lambda answer: _decode_script(answer, outline),
            encode=_encode_script,
        )

    # --- node-parallel writing (long adventures) -----------------------------------------------

    def section_briefs(
        self, request: AdventureRequest, outline: AdventureOutline, budget: int
    ) -> list[SectionBrief]:
        """One part per node: nodes are alternative branches, so each needs only its path."""
        words = self.node_budget(request, budget)
        parents = {c.next: node for node in outline.nodes for c in node.choices}
        briefs = []
        for index, node in enumerate(outline.nodes):
            path: list[str] = []
            parent = parents.get(node.id)
            while parent is not None:
                path.insert(0, f"{parent.title}: {parent.summary}")
                parent = parents.get(parent.id)
            came_by = next(
                (c.label for p in outline.nodes for c in p.choices if c.next == node.id), None
            )
            briefs.append(
                SectionBrief(
                    index=index,
                    count=len(outline.nodes),
                    role="opening" if index == 0 else "body",
                    chapter=node.id,
                    words=words,
                    covers=f"{node.title}: {node.summary}",
                    so_far=" ".join(path),
                    previous_hand_off=f"The listener chose: {came_by}" if came_by else None,
                    next_hand_off=None,
                )
            )
        return briefs

    def section_task(
        self, request: AdventureRequest, outline: AdventureOutline, brief: SectionBrief
    ) -> WritingTask[SectionScript]:
        node = outline.nodes[brief.index]
        numbers = track_numbers(outline)
        ending = "It is an ENDING: close the story." if not node.choices else (
            "End by reading its choices aloud: "
            + "; ".join(f"{c.label} (track {numbers[c.next]})" for c in node.choices)
        )  # fmt: skip
        prompt = (
            "Task: adventure.section\n"
            f"Write the narration of node {node.id!r} only, read by {NARRATOR!r}. {ending}\n"
            f"{longform.brief_prompt(brief)}\n"
            f"Brief JSON: {brief.model_dump_json()}\n"
            f"Outline JSON: {outline.model_dump_json()}\nRequest JSON: {request.model_dump_json()}"
        )

        def check(part: SectionScript) -> None:
            if {line.speaker for line in part.lines} != {NARRATOR}:
                raise StructureRejected(f"every line must be spoken by {NARRATOR!r}")
            longform.check_part(sum(count_words(line.text) for line in part.lines), brief)
            allowed = {numbers[c.next] for c in node.choices}
            if wrong := wrong_tracks(" ".join(line.text for line in part.lines), allowed):
                raise ValueError(
                    f"the narration sends the listener to track {wrong[0]}; this node's "
                    f"choices lead to tracks {sorted(allowed) or 'none (it is an ending)'}"
                )

        def template() -> SectionScript:
            script = self._offline_script(request, outline, brief.words, only=node.id)
            return SectionScript(lines=[Line(speaker=NARRATOR, text=script.nodes[0].narration)])

        return WritingTask(
            name=f"adventure node {node.id}",
            schema=SectionScript,
            instructions=SYSTEM,
            prompt=prompt,
            template=template,
            check=check,
            json_schema=schemas.obj(
                {
                    "lines": schemas.lines(
                        [NARRATOR],
                        brief.words,
                        _WORDS_PER_PARAGRAPH,
                        spread=schemas.spread_for(request.depth),
                    )
                }
            ),
        )

    def join_sections(
        self,
        request: AdventureRequest,
        outline: AdventureOutline,
        briefs: Sequence[SectionBrief],
        parts: Sequence[SectionScript],
    ) -> AdventureScript:
        return AdventureScript(
            nodes=[
                NodeScript(
                    id=node.id,
                    title=node.title,
                    narration=" ".join(line.text for line in part.lines),
                )
                for node, part in zip(outline.nodes, parts, strict=True)
            ]
        )

    def tracks(
        self, request: AdventureRequest, outline: AdventureOutline, script: AdventureScript
    ) -> list[TrackPlan]:
        return [
            TrackPlan(
                key=node.id,
                title=node.title,
                sections=[
                    Section(title=node.title, lines=[Line(speaker=NARRATOR, text=node.narration)])
                ],
            )
            for node in script.nodes
        ]

    def publication(self, request: AdventureRequest, outline: AdventureOutline) -> Publication:
        return Publication(
            title=f"Adventure: {outline.title}",
            subtitle=outline.premise,
            description=(
                f"A choose-your-own-adventure story set in {outline.setting}. "
                f"{len(outline.nodes)} tracks; every choice leads somewhere new."
            ),
            topic=outline.setting,
            era=outline.era,
            sources=[],
        )

    def detail(
        self,
        request: AdventureRequest,
        outline: AdventureOutline,
        script: AdventureScript,
        tracks: Sequence[RenderedTrackInfo],
    ) -> dict[str, Any]:
        rendered = {t.key: t for t in tracks}
        story_map = {
            node.id: {
                "title": node.title,
                "summary": node.summary,
                "choices": [c.model_dump() for c in node.choices],
                "audio_url": rendered[node.id].url,
                "audio_bytes": rendered[node.id].bytes,
                "duration_seconds": round(rendered[node.id].duration_seconds, 2),
                "captions_url": rendered[node.id].captions_url,
            }
            for node in outline.nodes
        }
        return {
            "narrator_voice": request.narrator_voice,
            "entry_node": outline.nodes[0].id,
            "story_map": story_map,
        }

    def outline_preview(self, outline: AdventureOutline) -> str:
        lines = [f"## {outline.title}", outline.premise, ""]
        for node in outline.nodes:
            arrows = ", ".join(f"{c.label} → {c.next}" for c in node.choices) or "*ending*"
            lines.append(f"- `{node.id}` **{node.title}**: {arrows}")
        return "\n".join(lines)

    def script_preview(
        self, request: AdventureRequest, outline: AdventureOutline, script: AdventureScript
    ) -> str:
        return (
            self.outline_preview(outline)
            + "\n\n"
            + super().script_preview(request, outline, script)
        )

    # --- offline templates -------------------------------------------------------------------

    def _offline_outline(
        self, request: AdventureRequest, shape: dict[str, list[str]]
    ) -> AdventureOutline:
        rng = prose.seeded("adventure.outline", request.model_dump_json())
        verbs = [
            "Follow the stranger",
            "Hide in the crowd",
            "Take the letter",
            "Run for the harbour",
            "Speak to the guard",
            "Climb to the rooftops",
            "Trust the merchant",
            "Turn back",
        ]
        nodes = []
        for index, (node_id, children) in enumerate(shape.items()):
            picks = rng.sample(verbs, len(children))
            title = "The beginning" if node_id == START else f"Path {index}"
            if not children:
                title = f"Ending {index}"
            nodes.append(
                NodePlan(
                    id=node_id,
                    title=title,
                    summary=f"{request.protagonist.capitalize()} in {request.setting}.",
                    choices=[
                        Choice(label=label, next=child)
                        for label, child in zip(picks, children, strict=True)
                    ],
                )
            )
        return AdventureOutline(
            title=f"A night in {request.setting}",
            setting=request.setting,
            era=request.setting,
            premise=request.premise
            or f"{request.protagonist.capitalize()} must find a way through {request.setting}.",
            nodes=nodes,
        )

    def _offline_script(
        self,
        request: AdventureRequest,
        outline: AdventureOutline,
        budget: int,
        only: str | None = None,
    ) -> AdventureScript:
        seed = ("adventure.node", only) if only else ("adventure.script",)
        rng = prose.seeded(*seed, request.model_dump_json())
        nodes = []
        numbers = track_numbers(outline)
        for node in outline.nodes:
            if only is not None and node.id != only:
                continue
            if node.choices:
                ending = " ".join(
                    f"If you choose to {c.label.lower()}, go to track {numbers[c.next]}."
                    for c in node.choices
                )
            else:
                ending = "And so your story ends here. Thank you for listening to Epoch Pod."
            body = prose.speech_until(
                rng,
                prose.NARRATION,
                budget - count_words(ending),
                protagonist=request.protagonist,
                setting=request.setting,
            )
            nodes.append(NodeScript(id=node.id, title=node.title, narration=f"{body} {ending}"))
        return AdventureScript(nodes=nodes)


def track_numbers(outline: AdventureOutline) -> dict[str, int]:
    """Node id -> its track number: its place in the story's node order, which is the order
    of the tracks (their TRCK tags) and, with the ids `tree` gives, the number in its file
    name."""
    return {node.id: number for number, node in enumerate(outline.nodes, start=1)}


_TRACK_MENTION = re.compile(r"\btrack\s+(\d+)", re.IGNORECASE)


def wrong_tracks(text: str, allowed: set[int]) -> list[int]:
    """The track numbers `text` sends the listener to ("go to track 4") that are not in
    `allowed` (the tracks a node's choices lead to), in order."""
    return sorted({int(n) for n in _TRACK_MENTION.findall(text)} - allowed)


def _check_shape(outline: AdventureOutline, shape: dict[str, list[str]]) -> None:
    got = {node.id: [c.next for c in node.choices] for node in outline.nodes}
    if got != shape:
        raise StructureRejected(f"the story's nodes and choices must be exactly {shape}; got {got}")


def _check_script(script: AdventureScript, outline: AdventureOutline, budget: int) -> None:
    expected = [node.id for node in outline.nodes]
    if [node.id for node in script.nodes] != expected:
        raise StructureRejected(f"the script must narrate the nodes {expected}, in that order")
    numbers = track_numbers(outline)
    choices = {node.id: {numbers[c.next] for c in node.choices} for node in outline.nodes}
    for node in script.nodes:
        words = count_words(node.narration)
        if not budget * 0.5 <= words <= budget * 1.5:
            raise LengthRejected(f"node {node.id} has {words} words; it should have about {budget}")
        # "Go to track 4" must name a track this node's choices lead to, by the numbering
        # the files and their tags carry.
        if wrong := wrong_tracks(node.narration, choices[node.id]):
            raise StructureRejected(
                f"node {node.id} sends the listener to track {wrong[0]}; its choices lead to "
                f"tracks {sorted(choices[node.id]) or 'none (it is an ending)'}"
            )


# --- per-request schemas (formats/schemas.py): what a model that follows only the schema needs --
# The planned tree is the schema: one fixed property per node id, and in each node one fixed
# property per choice, keyed by the node it leads to. A model can fill the story in, but it can
# neither rename a node nor send a choice anywhere else.

# A node written as parts (long adventures) is narrated in paragraphs of about this many words.
_WORDS_PER_PARAGRAPH = 60


def _outline_schema(request: AdventureRequest, shape: dict[str, list[str]]) -> schemas.Schema:
    def node(node_id: str, children: list[str]) -> schemas.Schema:
        properties: dict[str, schemas.Schema] = {
            "title": schemas.text("the node's title", max_words=8),
            "summary": schemas.text("what happens in this node", max_words=50),
        }
        if children:
            properties["choices"] = schemas.obj(
                {
                    child: schemas.obj(
                        {"label": schemas.text("what the listener chooses", max_words=8)}
                    )
                    for child in children
                },
                "one choice per next node, keyed by that node's id",
            )
        return schemas.obj(properties, "an ending" if not children else None)

    return schemas.obj(
        {
            "title": schemas.text("the story's title", max_words=12),
            "setting": schemas.const(request.setting),
            "era": schemas.text("when it happens, in words", max_words=10),
            "premise": schemas.text("the story's premise, in a sentence or two", max_words=50),
            "nodes": schemas.obj(
                {node_id: node(node_id, children) for node_id, children in shape.items()},
                "every node of the story, keyed by its id",
            ),
        }
    )


def _decode_outline(answer: Any, shape: dict[str, list[str]]) -> dict[str, Any]:
    nodes = []
    for node_id in shape:
        node = answer["nodes"][node_id]
        choices = [
            {"label": choice["label"], "next": child}
            for child, choice in node.get("choices", {}).items()
        ]
        nodes.append({"id": node_id, "title": node["title"], "summary": node["summary"],
                      "choices": choices})  # fmt: skip
    return {**answer, "nodes": nodes}


def _encode_outline(outline: AdventureOutline) -> dict[str, Any]:
    data = outline.model_dump(mode="json", exclude={"nodes"})
    nodes: dict[str, Any] = {}
    for node in outline.nodes:
        nodes[node.id] = {"title": node.title, "summary": node.summary}
        if node.choices:
            nodes[node.id]["choices"] = {c.next: {"label": c.label} for c in node.choices}
    return {**data, "nodes": nodes}


def _script_schema(
    request: AdventureRequest, outline: AdventureOutline, budget: int
) -> schemas.Schema:
    # One listen is a path of `depth` nodes: they are what the length is the sum of.
    narration = schemas.text(
        "what the narrator reads for this node, ending with its choices read aloud",
        words=budget,
        spread=schemas.spread_for(request.depth),
    )
    return schemas.obj(
        {
            node.id: schemas.obj({"narration": narration}, f"node {node.id}: {node.title}")
            for node in outline.nodes
        }
    )


def _decode_script(answer: Any, outline: AdventureOutline) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": node.id, "title": node.title, "narration": answer[node.id]["narration"]}
            for node in outline.nodes
        ]
    }


def _encode_script(script: AdventureScript) -> dict[str, Any]:
    return {node.id: {"narration": node.narration} for node in script.nodes}


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
        raise CastMismatch([f"line {n}: {message}" for n, message in problems])
    return depth, choices or 2
