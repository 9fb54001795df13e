"""Episode formats. The asset code looks a format up here by the episode's `type`."""

from __future__ import annotations

from typing import Any

from epochpod_assets.formats.adventure import AdventureFormat
from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.formats.debate import DebateFormat
from epochpod_assets.formats.interview import InterviewFormat

FORMATS: dict[str, EpisodeFormat[Any, Any, Any]] = {
    f.episode_type: f for f in (InterviewFormat(), DebateFormat(), AdventureFormat())
}


def format_for(episode_type: str) -> EpisodeFormat[Any, Any, Any]:
    try:
        return FORMATS[episode_type]
    except KeyError:
        raise ValueError(f"unknown episode type {episode_type!r}") from None


__all__ = ["FORMATS", "EpisodeFormat", "format_for"]
