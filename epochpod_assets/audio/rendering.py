"""From script to published audio: speak every line (in parallel, through the segment cache),
assemble each track into a tagged MP3 with chapters, write captions, upload both."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from epochpod_assets import media
from epochpod_assets.audio.assemble import (
    ChapterMark,
    Clip,
    RenderedTrack,
    TrackTags,
    render_track,
)
from epochpod_assets.audio.beds import sting
from epochpod_assets.audio.captions import webvtt
from epochpod_assets.audio.segments import SegmentCache
from epochpod_assets.formats.base import RenderedTrackInfo, TrackPlan
from epochpod_assets.providers.base import Speech
from epochpod_assets.storage import MediaStore

PAUSE_BETWEEN_TURNS = 0.35
PAUSE_BETWEEN_SECTIONS = 1.0
# The original rendered adventure nodes three at a time; so do we.
TRACKS_AT_ONCE = 3


@dataclass(frozen=True)
class TrackOutcome:
    info: RenderedTrackInfo
    rendered: RenderedTrack


class SegmentProgress:
    """Counts finished segments across all tracks and reports each new one."""

    def __init__(self, total: int, report: Callable[[int, int], None]) -> None:
        self.total = total
        self.done = 0
        self._report = report
        self._lock = threading.Lock()

    def finished_one(self) -> None:
        with self._lock:
            self.done += 1
            done = self.done
        self._report(done, self.total)


def render_tracks(
    episode_id: str,
    plans: Sequence[TrackPlan],
    cast: dict[str, str],
    album: str,
    description: str,
    cache: SegmentCache,
    store: MediaStore,
    concurrency: int,
    on_progress: Callable[[int, int], None],
    bitrate: str = "128k",
    beds: bool = False,
) -> list[TrackOutcome]:
    """Speaks every line of every track (through `cache`, `concurrency` calls at a time,
    reporting each finished segment), assembles each track into a tagged MP3 with chapters
    and WebVTT captions, and uploads both. `beds` frames each track with a musical sting."""
    total = sum(len(s.lines) for plan in plans for s in plan.sections)
    progress = SegmentProgress(total, on_progress)
    date = dt.date.today().isoformat()
    # Tracks of a multi-track episode (an adventure's nodes) are numbered in plan order, the
    # numbering the narration's "go to track N" uses.
    numbers = (
        {plan.key: f"{n}/{len(plans)}" for n, plan in enumerate(plans, start=1)}
        if len(plans) > 1
        else {}
    )
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="tts") as speakers:

        def one_track(plan: TrackPlan) -> TrackOutcome:
            lines = [line for s in plan.sections for line in s.lines]
            jobs = [
                speakers.submit(_speak, cache, line.text, cast[line.speaker], progress)
                for line in lines
            ]
            speech = [job.result() for job in jobs]
            clips = [
                Clip(speaker=line.speaker, text=line.text, speech=said, pause_after=pause)
                for line, said, pause in zip(lines, speech, planned_pauses(plan), strict=True)
            ]
            chapters = _chapter_marks(plan)
            tags = TrackTags(
                title=plan.title,
                artist="Epoch Pod",
                album=album,
                date=date,
                description=description,
                track=numbers.get(plan.key),
            )
            bed = sting() if beds else None
            rendered = render_track(clips, chapters, tags, bitrate=bitrate, intro=bed, outro=bed)
            audio_url = store.put(
                media.track_key(episode_id, plan.key, "mp3"), rendered.mp3, "audio/mpeg"
            )
            captions_url = store.put(
                media.track_key(episode_id, plan.key, "vtt"),
                webvtt(rendered.cues).encode(),
                "text/vtt",
            )
            info = RenderedTrackInfo(
                key=plan.key,
                url=audio_url,
                bytes=len(rendered.mp3),
                duration_seconds=rendered.duration_seconds,
                captions_url=captions_url,
            )
            return TrackOutcome(info=info, rendered=rendered)

        with ThreadPoolExecutor(max_workers=TRACKS_AT_ONCE, thread_name_prefix="track") as tracks:
            return list(tracks.map(one_track, plans))


def planned_pauses(plan: TrackPlan) -> list[float]:
    """The silence after each line: longer where a section ends, none after the last."""
    pauses = []
    for section in plan.sections:
        pauses += [PAUSE_BETWEEN_TURNS] * len(section.lines)
        if section.lines:
            pauses[-1] = PAUSE_BETWEEN_SECTIONS
    if pauses:
        pauses[-1] = 0.0
    return pauses


def planned_pause_seconds(plan: TrackPlan) -> float:
    return sum(planned_pauses(plan))


def _speak(cache: SegmentCache, text: str, voice: str, progress: SegmentProgress) -> Speech:
    speech = cache.speak(text, voice)
    progress.finished_one()
    return speech


def _chapter_marks(plan: TrackPlan) -> list[ChapterMark]:
    marks = []
    first = 0
    for section in plan.sections:
        if section.lines:
            marks.append(ChapterMark(title=section.title, first_clip=first))
        first += len(section.lines)
    return marks
