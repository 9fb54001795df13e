"""Episode formats: one package per format, registered in `registry.py`; `base.py` is what
every format provides. The engine looks a format up by the episode's `type`."""

from __future__ import annotations

from epochpod_assets.formats.base import EpisodeFormat
from epochpod_assets.formats.registry import format_for, formats

__all__ = ["EpisodeFormat", "format_for", "formats"]
