"""Checks finished tracks as a listener's software sees them: caption cues within the limits,
chapters listed in time order by ffmpeg (what ffprobe and many players show) and stored in that
order in the ID3 tag, and track numbers on numbered tracks.

    python -m epochpod_assets.audio.trackcheck [FOLDER]   # default: the media of EPOCHPOD_HOME

prints one line per file and exits 1 if any file breaks a rule.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epochpod_assets.audio.captions import limit_problems, read_webvtt
from epochpod_assets.audio.ffmpeg import run_ffmpeg


@dataclass(frozen=True)
class StoredFrame:
    """One ID3v2 frame in the order it is stored in the file."""

    frame_id: str
    element_id: str | None = None  # CHAP/CTOC
    start_ms: int | None = None  # CHAP
    title: str | None = None  # CHAP's TIT2 sub-frame


def stored_frames(mp3: bytes) -> list[StoredFrame]:
    """The ID3v2.3/2.4 frames at the start of `mp3`, in stored order."""
    if mp3[:3] != b"ID3":
        return []
    version = mp3[3]
    size = _syncsafe(mp3[6:10])
    return _frames(mp3[10 : 10 + size], syncsafe=version == 4)


def _frames(data: bytes, *, syncsafe: bool) -> list[StoredFrame]:
    frames, position = [], 0
    while position + 10 <= len(data) and data[position : position + 4] != b"\0\0\0\0":
        frame_id = data[position : position + 4].decode("latin-1")
        raw = data[position + 4 : position + 8]
        size = _syncsafe(raw) if syncsafe else int.from_bytes(raw, "big")
        body = data[position + 10 : position + 10 + size]
        position += 10 + size
        if frame_id != "CHAP":
            frames.append(StoredFrame(frame_id))
            continue
        end_id = body.index(b"\0")
        start = int.from_bytes(body[end_id + 1 : end_id + 5], "big")
        subframes = body[end_id + 17 :]  # start, end, start offset, end offset: 4 bytes each
        title = next(
            (
                _text(subframes, f)
                for f in _frame_spans(subframes, syncsafe)
                if subframes[f[0] : f[0] + 4] == b"TIT2"
            ),
            None,
        )
        frames.append(StoredFrame("CHAP", body[:end_id].decode("latin-1"), start, title))
    return frames


def _frame_spans(data: bytes, syncsafe: bool) -> list[tuple[int, int]]:
    spans, position = [], 0
    while position + 10 <= len(data) and data[position : position + 4] != b"\0\0\0\0":
        raw = data[position + 4 : position + 8]
        size = _syncsafe(raw) if syncsafe else int.from_bytes(raw, "big")
        spans.append((position, position + 10 + size))
        position += 10 + size
    return spans


def _text(data: bytes, span: tuple[int, int]) -> str:
    encoding, text = data[span[0] + 10], data[span[0] + 11 : span[1]]
    codec = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}[encoding]
    return text.decode(codec).rstrip("\0")


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def ffmpeg_chapters(mp3: bytes) -> list[tuple[float, str]]:
    """(start seconds, title) of each chapter, in the order ffmpeg lists them."""
    listing = run_ffmpeg(["-i", "pipe:0", "-f", "ffmetadata", "-"], mp3).decode()
    chapters = []
    for block in listing.split("[CHAPTER]")[1:]:
        base = re.search(r"^TIMEBASE=(\d+)/(\d+)$", block, re.MULTILINE)
        start = re.search(r"^START=(\d+)$", block, re.MULTILINE)
        title = re.search(r"^title=(.*)$", block, re.MULTILINE)
        if base and start:
            seconds = int(start.group(1)) * int(base.group(1)) / int(base.group(2))
            chapters.append((seconds, title.group(1) if title else ""))
    return chapters


def track_number(mp3: bytes) -> str | None:
    """The TRCK text ("4/7"), if the file has one."""
    import mutagen.id3

    id3: Any = mutagen.id3  # untyped library
    try:
        frame = id3.ID3(io.BytesIO(mp3)).get("TRCK")
    except id3.ID3NoHeaderError:
        return None
    return str(frame) if frame is not None else None


def mp3_problems(mp3: bytes) -> list[str]:
    problems = []
    listed = ffmpeg_chapters(mp3)
    starts = [start for start, _ in listed]
    if starts != sorted(starts):
        problems.append(f"ffmpeg lists chapters out of order: {[t for _, t in listed]}")
    stored = [f.start_ms for f in stored_frames(mp3) if f.frame_id == "CHAP"]
    if stored != sorted(s for s in stored if s is not None):
        problems.append("CHAP frames are not stored in time order")
    return problems


def check_folder(folder: Path) -> tuple[list[str], dict[str, int]]:
    """Every problem in the tracks and captions under `folder`, and what was checked."""
    problems: list[str] = []
    counts = {"captions": 0, "cues": 0, "tracks": 0, "chapters": 0, "numbered": 0}
    for path in sorted(folder.rglob("*.vtt")):
        vtt = path.read_text()
        counts["captions"] += 1
        counts["cues"] += len(read_webvtt(vtt))
        problems += [f"{path}: {p}" for p in limit_problems(vtt)]
    numbered: dict[Path, dict[str, str]] = {}  # folder -> file name -> TRCK
    for path in sorted(folder.rglob("*.mp3")):
        mp3 = path.read_bytes()
        counts["tracks"] += 1
        counts["chapters"] += len(ffmpeg_chapters(mp3))
        problems += [f"{path}: {p}" for p in mp3_problems(mp3)]
        if (number := track_number(mp3)) is not None:
            counts["numbered"] += 1
            numbered.setdefault(path.parent, {})[path.name] = number
    for parent, tracks in numbered.items():
        problems += [f"{parent}: {p}" for p in numbering_problems(tracks)]
    return problems, counts


def numbering_problems(tracks: dict[str, str]) -> list[str]:
    """Numbered tracks of one episode ({file name: TRCK}): numbered 1 to N out of N, and a
    file named `nK.mp3` (an adventure node) is track K."""
    problems = []
    total = len(tracks)
    expected = [f"{k}/{total}" for k in range(1, total + 1)]
    if sorted(tracks.values(), key=lambda t: int(t.split("/")[0])) != expected:
        problems.append(f"track numbers {sorted(tracks.values())} are not 1/{total}..{total}")
    for name, number in tracks.items():
        if (node := re.fullmatch(r"n(\d+)\.mp3", name)) and node.group(1) != number.split("/")[0]:
            problems.append(f"{name} is tagged track {number}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        folder = Path(args[0])
    else:
        from epochpod_assets import settings

        folder = settings.load().media_root
    problems, counts = check_folder(folder)
    for problem in problems:
        print(problem)
    print(
        f"{counts['captions']} caption files, {counts['cues']} cues; {counts['tracks']} tracks, "
        f"{counts['chapters']} chapters, {counts['numbered']} with track numbers; "
        f"{len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
