"""Section-parallel scripting: long episodes are written as parts, all at once.

One long script call is the slowest thing in a long episode (a 30-minute script is ~7,000
completion tokens: two minutes at 60 tokens per second) and the likeliest to miss its length.
Instead, the format splits the outline into parts of about `PART_WORDS` words (`SectionBrief`),
each with its own budget, and every part is written concurrently: the writing critical path
is the outline plus the slowest part, not the sum.

Parts do not see each other's words, so each brief carries what keeps the joined script one
conversation: the whole outline, a running "so far" summary of the parts before it, the
hand-off line it picks up from and the one the next part starts with, and its role (only the
opening greets and introduces; only the closing signs off). The format joins the parts, the
whole script is checked (cast, word budget, continuity) and, if the joined script fails,
the episode fails with the reason like any other invalid script.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from epochpod_assets.formats.base import (
    EpisodeFormat,
    Line,
    Role,
    SectionBrief,
    SectionScript,
    count_words,
    reject_unknown_speakers,
)
from epochpod_assets.providers.base import LengthRejected, Usage, Writer
from epochpod_assets.scripting.continuity import check_continuity

# Below this the one-call script is fast enough and reads best.
LONGFORM_MINUTES = 10.0
# Words per part: ~400 completion tokens, about 7 s at 60 tokens/s. Smaller parts shorten the
# critical path but multiply the prompt (outline + brief) that every part pays for.
PART_WORDS = 260
# Parts written at once. Chat limits (hundreds of requests a minute) are far above this;
# the shared rate limiter, not this number, keeps the pace legal.
MAX_PARALLEL_PARTS = 32
# How far a part may stray from its budget before it is re-asked: tighter than the whole
# script's 20 %, because parts are where the length is decided.
PART_TOLERANCE = 0.15

A = TypeVar("A")
B = TypeVar("B")


def is_longform(request: Any) -> bool:
    return float(getattr(request, "target_minutes", 5)) >= LONGFORM_MINUTES


def part_count(words: int) -> int:
    return max(1, math.ceil(words / PART_WORDS))


def split_words(total: int, parts: int) -> list[int]:
    """`total` words shared over `parts` as evenly as whole words allow."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def write_script(
    writer: Writer,
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    budget: int,
    usage: Usage,
    *,
    parallel: int | None = None,
) -> Any:
    """The episode's script: section-parallel when it is long and the format can split it,
    otherwise one call. Returns the format's script model."""
    briefs = fmt.section_briefs(request, outline, budget) if is_longform(request) else None
    if not briefs:
        return writer.write(fmt.script_task(request, outline, budget), usage)
    parts = run_parallel(
        lambda brief: writer.write(fmt.section_task(request, outline, brief), usage),
        briefs,
        MAX_PARALLEL_PARTS if parallel is None else parallel,
    )
    return join_parts(fmt, request, outline, briefs, parts, budget)


def join_parts(
    fmt: EpisodeFormat[Any, Any, Any],
    request: Any,
    outline: Any,
    briefs: Sequence[SectionBrief],
    parts: Sequence[SectionScript],
    budget: int,
) -> Any:
    """The parts joined into the format's script, checked as a whole (format rules, then
    continuity on every track); raises ValueError naming the problem."""
    script = fmt.join_sections(request, outline, briefs, parts)
    fmt.check_script(request, outline, script, budget)
    for track in fmt.tracks(request, outline, script):
        # Per track: an adventure's tracks are alternative branches, each its own telling.
        check_continuity(track.sections, fmt.cast(request))
    return script


def run_parallel(work: Callable[[A], B], items: Sequence[A], parallel: int) -> list[B]:
    """`work` on every item at once (up to `parallel` threads); results in order. The first
    failure is raised once every started call has finished, so no call is left unbilled."""
    if len(items) <= 1 or parallel <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(
        max_workers=min(parallel, len(items)), thread_name_prefix="part"
    ) as pool:
        futures = [pool.submit(work, item) for item in items]
        return [future.result() for future in futures]


# One planned part of a long script: role, chapter, words, its cues (questions, passages),
# and what it covers.
PlannedPart = tuple[Role, str, int, list[str], str]


def briefs_from_plan(
    plan: Sequence[PlannedPart],
    hand_off: Callable[[PlannedPart, bool], str] = lambda part, _last: part[4],
) -> list[SectionBrief]:
    """One brief per planned part: its place and words, what the last six body parts before
    it covered, and where it meets its neighbours (`hand_off(part, last)`: what a previous
    part ends on when `last`, else what a next one opens with; by default what it covers)."""
    briefs = []
    for index, (role, chapter, words, cues, covers) in enumerate(plan):
        before = [p for p in plan[:index] if p[0] == "body"]
        briefs.append(
            SectionBrief(
                index=index,
                count=len(plan),
                role=role,
                chapter=chapter,
                words=words,
                covers=covers,
                questions=cues,
                so_far=" ".join(f"{p[1]}: {p[4]}" for p in before[-6:]),
                previous_hand_off=hand_off(plan[index - 1], True) if index else None,
                next_hand_off=hand_off(plan[index + 1], False) if index + 1 < len(plan) else None,
            )
        )
    return briefs


def check_part_lines(lines: Sequence[Line], cast: Iterable[str], brief: SectionBrief) -> None:
    """A dialogue part's lines: every speaker in the cast, and a body part within its length
    (the opening and closing are short and fixed in purpose)."""
    reject_unknown_speakers((line.speaker for line in lines), cast)
    if brief.role == "body":
        check_part(sum(count_words(line.text) for line in lines), brief)


def check_part(lines_words: int, brief: SectionBrief) -> None:
    low, high = part_bounds(brief)
    if not low <= lines_words <= high:
        raise LengthRejected(
            f"part {brief.index + 1} has {lines_words} words; it must have {low} to {high} "
            f"(its budget is {brief.words})"
        )


def part_bounds(brief: SectionBrief) -> tuple[int, int]:
    return round(brief.words * (1 - PART_TOLERANCE)), round(brief.words * (1 + PART_TOLERANCE))


def brief_prompt(brief: SectionBrief) -> str:
    """The brief as prose the model follows: role, budget, neighbours, summary."""
    role = {
        "opening": "This is the OPENING: welcome the listeners and introduce the voices they "
        "will hear, once. Do not start the episode's matter itself.",
        "body": "This is a MIDDLE part: the show is already under way. No greetings, no "
        "welcomes, no introductions of anyone, no thanks and no goodbyes.",
        "closing": "This is the CLOSING: bring the episode to its end and sign off, once. No new "
        "topics.",
    }[brief.role]
    parts = [
        f"Write part {brief.index + 1} of {brief.count} of the script, for the chapter "
        f"{brief.chapter!r}. {role}",
        f"It covers: {brief.covers}",
        "About {} spoken words (between {} and {}).".format(brief.words, *part_bounds(brief)),
    ]
    if brief.questions:
        parts.append("To take up, in order: " + " | ".join(brief.questions))
    if brief.so_far:
        parts.append(f"So far in the episode: {brief.so_far}")
    if brief.previous_hand_off:
        parts.append(f"The previous part ended with: {brief.previous_hand_off}")
    if brief.next_hand_off:
        parts.append(
            f"The next part begins with: {brief.next_hand_off} (lead towards it; do not say it)."
        )
    return "\n".join(parts)
