"""Typed Dagster resources: the catalog, media storage, and the writer and voice providers.

Values come from environment variables through `dg.EnvVar`, so the Dagster UI shows the
variable's name, never a key or a password.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

import dagster as dg

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.providers.base import Voice, Writer
from epochpod_assets.providers.offline import OfflineWriter
from epochpod_assets.storage import LocalMediaStore, MediaStore


@cache
def _catalog(url: str) -> Catalog:
    # One engine (and connection pool) per process and database, shared by every asset.
    catalog = Catalog(url)
    catalog.migrate()
    return catalog


class CatalogResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The episode catalog. Unset means the SQLite file under EPOCHPOD_HOME."""

    database_url: str | None = None

    def get(self) -> Catalog:
        return _catalog(self.database_url or settings.database_url())


class MediaResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where media go. A local folder by default."""

    media_dir: str | None = None
    public_base_url: str | None = None

    def get(self) -> MediaStore:
        root = Path(self.media_dir) if self.media_dir else settings.media_root()
        return LocalMediaStore(root, self.public_base_url)


ProviderChoice = Literal["auto", "offline", "openai"]


class WriterResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The LLM that writes outlines and scripts: OpenAI when a key is set, offline otherwise."""

    provider: ProviderChoice = "auto"
    model: str = "gpt-4o-mini"
    api_key: str | None = None
    base_url: str | None = None
    max_reasks: int = 2

    def get(self) -> Writer:
        if self.provider == "offline" or (self.provider == "auto" and not self.api_key):
            return OfflineWriter()
        if not self.api_key:
            raise ValueError("EPOCHPOD_WRITER is 'openai' but OPENAI_API_KEY is not set")
        from epochpod_assets.providers.openai_writer import OpenAIWriter

        return OpenAIWriter(
            api_key=self.api_key,
            model=self.model,
            base_url=self.base_url,
            max_reasks=self.max_reasks,
        )


class VoiceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The TTS that speaks scripts: OpenAI when a key is set, eSpeak NG offline otherwise."""

    provider: ProviderChoice = "auto"
    model: str = "tts-1"
    api_key: str | None = None
    base_url: str | None = None
    concurrency: int = 4

    def get(self) -> Voice:
        if self.provider == "offline" or (self.provider == "auto" and not self.api_key):
            from epochpod_assets.audio.espeak import EspeakVoice

            return EspeakVoice()
        if not self.api_key:
            raise ValueError("EPOCHPOD_VOICE is 'openai' but OPENAI_API_KEY is not set")
        from epochpod_assets.providers.openai_voice import OpenAIVoice

        return OpenAIVoice(api_key=self.api_key, model=self.model, base_url=self.base_url)


def env(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable is set, else None (the resource's own default)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def resources_from_env() -> dict[str, dg.ConfigurableResource]:  # type: ignore[type-arg]
    """The resources as the environment configures them (see the README's table)."""
    return {
        "catalog": CatalogResource(database_url=env("EPOCHPOD_DATABASE_URL")),
        "media": MediaResource(
            media_dir=env("EPOCHPOD_MEDIA_DIR"), public_base_url=env("EPOCHPOD_PUBLIC_BASE_URL")
        ),
        "writer": WriterResource(
            provider=os.environ.get("EPOCHPOD_WRITER", "auto"),  # type: ignore[arg-type]
            model=os.environ.get("EPOCHPOD_LLM_MODEL", "gpt-4o-mini"),
            api_key=env("OPENAI_API_KEY"),
            base_url=env("OPENAI_BASE_URL"),
        ),
        "voice": VoiceResource(
            provider=os.environ.get("EPOCHPOD_VOICE", "auto"),  # type: ignore[arg-type]
            model=os.environ.get("EPOCHPOD_TTS_MODEL", "tts-1"),
            api_key=env("OPENAI_API_KEY"),
            base_url=env("OPENAI_BASE_URL"),
            concurrency=int(os.environ.get("EPOCHPOD_TTS_CONCURRENCY", "4")),
        ),
    }
