"""The one place formats are registered. The engine finds every format here and names none.

Each line names a package under `formats/` that exposes `FORMAT`, its `EpisodeFormat`. The
order is the order of `epochpod enqueue --help`, the demo and the launchpad's example (the
first). Packages are imported on first use, not when this module is: they import the engine's
request field types, and the engine asks this module while it validates.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from epochpod_assets.formats.base import EpisodeFormat

PACKAGES = (
    "interview",
    "debate",
    "adventure",
    "documentary",
)

AnyFormat = EpisodeFormat[Any, Any, Any]


@cache
def formats() -> tuple[AnyFormat, ...]:
    """Every registered format, in registration order."""
    found: list[AnyFormat] = []
    for package in PACKAGES:
        module = importlib.import_module(f"epochpod_assets.formats.{package}")
        fmt: AnyFormat = module.FORMAT
        if fmt.name != package or fmt.episode_type != package.upper():
            raise RuntimeError(
                f"formats/{package}: FORMAT is named {fmt.name!r} ({fmt.episode_type}); "
                f"a format's package, name and episode type must agree"
            )
        found.append(fmt)
    return tuple(found)


def names() -> list[str]:
    """The request `format` values: interview, debate, ..."""
    return [f.name for f in formats()]


def by_name(name: str) -> AnyFormat:
    """The format a request's `format` field names."""
    for fmt in formats():
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown format {name!r}; registered: {', '.join(names())}")


def format_for(episode_type: str) -> AnyFormat:
    """The format of a catalog row's `type` (INTERVIEW, DEBATE, ...)."""
    for fmt in formats():
        if fmt.episode_type == episode_type:
            return fmt
    raise ValueError(f"unknown episode type {episode_type!r}")


def episode_type(name: str) -> str:
    """The catalog `type` of a request `format`: interview -> INTERVIEW."""
    return by_name(name).episode_type
