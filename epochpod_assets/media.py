"""Where an episode's media live, and the audio manifest, typed.

Keys are built here from the episode id and fixed names only (never user text), so a
regenerated episode keeps its URLs. The audio manifest (`audio.json`) is what the audio stage
rendered, track by track; the publication, the checks and the feed read it back as
`TrackEntry` values instead of untyped dicts. Its JSON is unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from epochpod_assets.formats.base import RenderedTrackInfo
from epochpod_assets.storage import MediaStore, episode_key, put_json

OUTLINE = "outline.json"
SCRIPT = "script.json"
AUDIO_MANIFEST = "audio.json"


def outline_key(episode_id: str) -> str:
    return episode_key(episode_id, OUTLINE)


def script_key(episode_id: str) -> str:
    return episode_key(episode_id, SCRIPT)


def manifest_key(episode_id: str) -> str:
    return episode_key(episode_id, AUDIO_MANIFEST)


def track_key(episode_id: str, track: str, extension: str) -> str:
    """One track's file: episodes/<id>/audio/<track>.<mp3|vtt|chapters.json>."""
    return episode_key(episode_id, f"audio/{track}.{extension}")


class ChapterEntry(BaseModel):
    title: str
    start: float
    end: float


class TrackEntry(BaseModel):
    """One rendered track as the manifest keeps it."""

    key: str
    url: str = ""
    bytes: int
    duration_seconds: float
    captions_url: str | None = None
    # Measured by the audio stage; absent only in a manifest written by hand (tests, tools).
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    chapters: list[ChapterEntry] = Field(default_factory=list)

    @classmethod
    def of(cls, info: RenderedTrackInfo, rendered: Any) -> TrackEntry:
        """From what `audio.rendering.render_tracks` returns for one track."""
        return cls(
            key=info.key,
            url=info.url,
            bytes=info.bytes,
            duration_seconds=info.duration_seconds,
            captions_url=info.captions_url,
            integrated_lufs=rendered.loudness.integrated_lufs,
            true_peak_dbtp=rendered.loudness.true_peak_dbtp,
            chapters=[
                ChapterEntry(title=c.title, start=c.start, end=c.end) for c in rendered.chapters
            ],
        )

    def info(self) -> RenderedTrackInfo:
        return RenderedTrackInfo(
            key=self.key,
            url=self.url,
            bytes=self.bytes,
            duration_seconds=self.duration_seconds,
            captions_url=self.captions_url,
        )


_MANIFEST: TypeAdapter[list[TrackEntry]] = TypeAdapter(list[TrackEntry])


def save_manifest(store: MediaStore, episode_id: str, tracks: list[TrackEntry]) -> str:
    return put_json(store, manifest_key(episode_id), _MANIFEST.dump_python(tracks, mode="json"))


def load_manifest(store: MediaStore, episode_id: str) -> list[TrackEntry]:
    """The episode's tracks; KeyError when the audio stage has not written them yet."""
    return _MANIFEST.validate_json(store.get(manifest_key(episode_id)))
