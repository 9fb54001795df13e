"""Captions people can read: WebVTT cues of at most two lines of 42 characters and 7 seconds.

A spoken line (one segment of speech, with its real start and end in the track) can last a
minute; a cue that long is a wall of text. Each segment's written text is cut into cues at
sentence ends where it can be, else at clause boundaries (, ; : and dashes), else between words,
and each cue is timed inside the segment in proportion to how much of it is spoken: its share
of the segment's spoken characters (numbers and abbreviations counted as the voice says them,
"1066" as "ten sixty-six"). Cues keep the written text and their speaker's voice span.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from epochpod_assets.speech.normalize import spoken

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0


class Segment(Protocol):
    """One spoken line placed in the track (audio.assemble.Cue)."""

    @property
    def speaker(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class Caption:
    """One cue as shown: its lines (at most two) and when it is on screen."""

    speaker: str
    lines: tuple[str, ...]
    start: float
    end: float

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@functools.lru_cache(maxsize=8192)
def spoken_weight(text: str) -> int:
    """How long `text` takes to say, in spoken letters (plus one per word for the gaps)."""
    # Most words are plain words, said as written: only the rest need the normalizer.
    said = text if _PLAIN.fullmatch(text) else spoken(text)
    return len(re.findall(r"\w", said)) + len(said.split())


# One word the normalizer leaves alone: letters (and inner apostrophes), then at most a
# comma-like mark and closing quotes; no digits, symbols or abbreviation dots.
_PLAIN = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*[,;:!?]?[\"'\u2019\u201d)]*")


def wrap(text: str, width: int = MAX_LINE_CHARS) -> tuple[str, ...] | None:
    """`text` on as few lines of at most `width` characters as possible, at most MAX_LINES,
    broken where the lines come out most even; None if it does not fit."""
    words = text.split()
    if len(text) <= width:
        return (text,)
    best: tuple[str, ...] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        fits = len(first) <= width and len(second) <= width
        if fits and (best is None or max(len(first), len(second)) < max(map(len, best))):
            best = (first, second)
    return best


def captions(segments: Sequence[Segment]) -> list[Caption]:
    """Readable cues for every segment, in order, each inside its segment's own time."""
    out: list[Caption] = []
    for segment in segments:
        out += _segment_captions(segment)
    return out


def _segment_captions(segment: Segment) -> list[Caption]:
    words = segment.text.split()
    duration = max(segment.end - segment.start, 0.0)
    if not words:
        return []
    pieces = _cut(words, duration)
    weights = [max(spoken_weight(p), 1) for p in pieces]
    # Pieces were sized on their words' weights one by one; said together they may weigh a
    # little more ("Louis XIV" is said "Louis the Fourteenth"), so one may come out just
    # over the limit: halve such a piece between words until none is.
    while True:
        scale = duration / sum(weights)
        over = next(
            (
                i
                for i, w in enumerate(weights)
                if w * scale > MAX_CUE_SECONDS and len(pieces[i].split()) > 1
            ),
            None,
        )
        if over is None:
            break
        half = pieces[over].split()
        halves = [" ".join(half[: len(half) // 2]), " ".join(half[len(half) // 2 :])]
        pieces[over : over + 1] = halves
        weights[over : over + 1] = [max(spoken_weight(h), 1) for h in halves]
    result, at = [], segment.start
    for index, (piece, weight) in enumerate(zip(pieces, weights, strict=True)):
        # The last cue ends exactly where the speech does, whatever rounding came before.
        end = segment.end if index == len(pieces) - 1 else at + weight * scale
        result.append(Caption(segment.speaker, wrap(piece) or _force_wrap(piece), at, end))
        at = end
    return result


# What ending a cue after a word costs: nothing at a sentence end, a little at a clause
# boundary, most between two words of a clause. Every cue also costs one, so cues are as
# few and as full as the limits and the boundaries allow.
_CUT_COST = {"sentence": 0.0, "clause": 1.0, "word": 4.0}
_CUE_COST = 1.0


_DASHES = ("-", "--", "\u2013", "\u2014")


def _boundary(words: list[str], after: int) -> str:
    """What kind of place lies between words[after] and the next word."""
    word = words[after]
    if re.search(r"[.!?\u2026][\"'\u201d\u2019)\]]*$", word):
        return "sentence"
    if re.search(r"[,;:\u2013\u2014]$", word) or words[after + 1] in _DASHES:
        return "clause"
    return "word"


def _cut(words: list[str], duration: float) -> list[str]:
    """The cheapest way to cut `words` into cues that fit: a shortest path over the places
    between words, where a cue may run from one cut to the next only if it fits."""
    weights = [max(spoken_weight(w), 1) for w in words]
    total = sum(weights)
    n = len(words)
    best: list[float] = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        cut_cost = 0.0 if end == n else _CUT_COST[_boundary(words, end - 1)]
        chars, weight = -1, 0
        for start in range(end - 1, -1, -1):
            chars += len(words[start]) + 1
            weight += weights[start]
            single = start == end - 1
            too_long = chars > MAX_LINE_CHARS * MAX_LINES or (
                duration * weight / total > MAX_CUE_SECONDS
            )
            if too_long and not single:
                break
            if not single and wrap(" ".join(words[start:end])) is None:
                continue
            cost = best[start] + cut_cost + _CUE_COST
            if cost < best[end]:
                best[end], back[end] = cost, start
    pieces, end = [], n
    while end > 0:
        pieces.append(" ".join(words[back[end] : end]))
        end = back[end]
    return pieces[::-1]


def _force_wrap(piece: str) -> tuple[str, ...]:
    """A single word too long for a line (a URL, a name in a language without spaces): cut it
    so no line is longer than the limit, whatever the word."""
    lines = [piece[i : i + MAX_LINE_CHARS] for i in range(0, len(piece), MAX_LINE_CHARS)]
    return tuple(lines[:MAX_LINES]) if len(lines) <= MAX_LINES else tuple(lines)


def webvtt(segments: Sequence[Segment]) -> str:
    """WebVTT captions: readable cues, each in its speaker's <v> voice span."""
    blocks = ["WEBVTT"]
    for number, cue in enumerate(captions(segments), start=1):
        speaker = _escape(cue.speaker)
        body = "\n".join(_escape(line) for line in cue.lines)
        blocks.append(
            f"{number}\n{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n<v {speaker}>{body}</v>"
        )
    return "\n\n".join(blocks) + "\n"


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _escape(text: str) -> str:
    # A blank line would end the cue; escaping ">" also defuses a "-->" in the text.
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class CueCheck:
    """A cue of a WebVTT file read back, for checking the limits."""

    start: float
    end: float
    lines: tuple[str, ...]


def read_webvtt(vtt: str) -> list[CueCheck]:
    """The cues of a WebVTT file (times and visible text lines, tags removed)."""
    cues = []
    for block in vtt.strip().split("\n\n")[1:]:
        rows = block.split("\n")
        timing = next(i for i, row in enumerate(rows) if "-->" in row)
        start, end = (_seconds(stamp.strip()) for stamp in rows[timing].split("-->"))
        text = [re.sub(r"<[^>]*>", "", row) for row in rows[timing + 1 :]]
        unescaped = tuple(
            t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for t in text
        )
        cues.append(CueCheck(start, end, unescaped))
    return cues


def limit_problems(vtt: str) -> list[str]:
    """Every cue that breaks the limits (lines, characters per line, seconds), described."""
    problems = []
    for number, cue in enumerate(read_webvtt(vtt), start=1):
        if len(cue.lines) > MAX_LINES:
            problems.append(f"cue {number} has {len(cue.lines)} lines")
        for line in cue.lines:
            if len(line) > MAX_LINE_CHARS:
                problems.append(f"cue {number} has a line of {len(line)} characters: {line!r}")
        if cue.end - cue.start > MAX_CUE_SECONDS + 0.0005:
            problems.append(f"cue {number} lasts {cue.end - cue.start:.3f} s")
    return problems


def _seconds(stamp: str) -> float:
    parts = stamp.split(":")
    hours, minutes = (int(parts[0]), int(parts[1])) if len(parts) == 3 else (0, int(parts[0]))
    return hours * 3600 + minutes * 60 + float(parts[-1])
