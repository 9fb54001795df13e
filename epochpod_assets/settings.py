"""Where things live on disk by default. Every path can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def epochpod_home() -> Path:
    """Root of everything the pipeline keeps locally: catalog, media, Dagster instance."""
    return Path(os.environ.get("EPOCHPOD_HOME", ".epochpod")).resolve()


def database_url() -> str:
    """The catalog: PostgreSQL in production, a SQLite file under EPOCHPOD_HOME by default."""
    url = os.environ.get("EPOCHPOD_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{epochpod_home() / 'catalog.db'}"


def media_root() -> Path:
    return Path(os.environ.get("EPOCHPOD_MEDIA_DIR", str(epochpod_home() / "media"))).resolve()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", str(epochpod_home() / "dagster"))).resolve()
