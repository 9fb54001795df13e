"""Typed Dagster resources: the catalog, media storage, and the writer and voice providers.

Values come from environment variables through `dg.EnvVar`, so the Dagster UI shows the
variable's name, never a key or a password.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import dagster as dg
from pydantic import PrivateAttr

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.providers.base import Voice, Writer
from epochpod_assets.providers.budget import BudgetedVoice, BudgetedWriter
from epochpod_assets.providers.offline import OfflineWriter
from epochpod_assets.providers.pricing import Prices, load_prices
from epochpod_assets.providers.ratelimit import limiter_for
from epochpod_assets.providers.selection import planned_provider, uses_openai
from epochpod_assets.storage import (
    MAX_PRESIGN_SECONDS,
    LocalMediaStore,
    MediaStore,
    S3MediaStore,
    parse_s3_url,
)


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
        if not self.database_url:
            # A folder that cannot be made is a setting to name, not an OSError from SQLite.
            settings.ensure_catalog_folder()
        return _catalog(self.database_url or settings.database_url())


class S3Connection(dg.Config):
    """How to reach S3 or an S3-compatible store (MinIO, R2). Credentials are not here: boto3
    finds them in the standard AWS environment variables, profile or instance role.

    Not dagster_aws's S3Resource: importing any of dagster_aws loads Dagster's test utilities
    and daemon with it (~0.65 s), which every run worker would pay before its first step;
    an S3 client is one boto3 call.
    """

    endpoint_url: str | None = None
    region_name: str | None = None
    max_attempts: int = 5

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            config=Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        )


class MediaResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where media go: a local folder by default, an S3 bucket when `storage_url` is
    `s3://bucket/prefix` (AWS, or MinIO, R2 and other S3-compatible stores via the `s3`
    connection's `endpoint_url`).

    `public_base_url` is the public address of the storage root (the folder, or bucket plus
    prefix). Without one, S3 URLs are presigned for `presign_seconds` (0: plain s3:// URIs).
    S3 credentials are never configured here: boto3 reads them from the standard AWS
    environment variables, profile or instance role, so they never reach Dagster's config.
    """

    media_dir: str | None = None
    public_base_url: str | None = None
    storage_url: str | None = None
    presign_seconds: int = MAX_PRESIGN_SECONDS
    s3: S3Connection | None = None

    def get(self) -> MediaStore:
        url = self.storage_url or ""
        if url.startswith("s3://"):
            bucket, prefix = parse_s3_url(url)
            client = (self.s3 or S3Connection()).client()
            return S3MediaStore(client, bucket, prefix, self.public_base_url, self.presign_seconds)
        if "://" in url and not url.startswith("file://"):
            # Name the scheme only: the rest of a URL can carry a password.
            raise ValueError(
                "storage_url must be s3://bucket/prefix, file:///folder or a folder path, "
                f"got {url.split('://')[0]}://..."
            )
        if url:
            root = Path(url.removeprefix("file://"))
        elif self.media_dir:
            root = Path(self.media_dir)
        else:
            root = settings.media_root()
        return LocalMediaStore(root, self.public_base_url)


ProviderChoice = Literal["auto", "offline", "openai"]
P = TypeVar("P", BudgetedWriter, BudgetedVoice)

DEFAULT_LLM_MODEL = "gpt-4o-mini"
DEFAULT_TTS_MODEL = "tts-1"
# Long enough for a whole script section; OpenAI's own default (10 minutes) hides hung calls.
DEFAULT_TIMEOUT = 120.0
# The openai client retries 429, 5xx, timeouts and dropped connections itself, with
# exponential backoff and jitter, honouring Retry-After.
DEFAULT_MAX_RETRIES = 4


class _OpenAIProviderResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """What the writer and the voice share: the selection rule, the connection, the prices."""

    provider: ProviderChoice = "auto"
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    # A price table override merged over the built-in one: JSON, or the path of a JSON file.
    prices: str | None = None
    # Provider rate limits per model (JSON or a file's path, see ratelimit.py); unset: none.
    rate_limits: str | None = None
    # Providers this resource handed out during the step, closed at teardown.
    _providers: list[BudgetedWriter | BudgetedVoice] = PrivateAttr(default_factory=list)

    def _uses_openai(self, role: str) -> bool:
        if not uses_openai(self.provider, bool(self.api_key)):
            return False
        if not self.api_key:
            raise dg.DagsterInvalidConfigError(  # type: ignore[no-untyped-call]
                f"{role} provider is 'openai' but no API key is set (OPENAI_API_KEY, or "
                f"EPOCHPOD_{'LLM' if role == 'writer' else 'TTS'}_API_KEY)",
                [],
                None,
            )
        return True

    def _prices(self) -> Prices:
        return load_prices(self.prices)

    def _opened(self, provider: P) -> P:
        self._providers.append(provider)
        return provider

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        providers, self._providers[:] = list(self._providers), []
        for provider in providers:
            provider.close()


class WriterResource(_OpenAIProviderResource):
    """The LLM that writes outlines and scripts: OpenAI when a key is set, offline otherwise.

    `get()` makes one provider (and one HTTP client) for the asset that calls it; the clients
    are closed when the step's resources are torn down.
    """

    model: str = DEFAULT_LLM_MODEL
    max_reasks: int = 2

    def get(self) -> BudgetedWriter:
        prices = self._prices()
        inner: Writer
        if self._uses_openai("writer"):
            from epochpod_assets.providers.capabilities import memory_for
            from epochpod_assets.providers.openai_writer import OpenAIWriter

            inner = OpenAIWriter(
                api_key=self.api_key or "",
                model=self.model,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                max_reasks=self.max_reasks,
                prices=prices,
                # What this server and model take as response_format, shared by every run.
                memory=memory_for(settings.epochpod_home()),
                limiter=limiter_for(
                    "openai", self.model, base_url=self.base_url, limits=self.rate_limits
                ),
            )
        else:
            inner = OfflineWriter()
        # The provider's own prices: a server that is not OpenAI's prices its models itself.
        return self._opened(BudgetedWriter(inner, getattr(inner, "prices", prices)))


class VoiceResource(_OpenAIProviderResource):
    """The TTS that speaks scripts: OpenAI when a key is set, eSpeak NG offline otherwise.

    `get()` makes one provider (and one HTTP client) for the asset that calls it; the clients
    are closed when the step's resources are torn down.
    """

    model: str = DEFAULT_TTS_MODEL
    # Segments in flight at once within one episode. 8 keeps a 150 ms-latency provider's
    # 40-turn episode near its critical path (benchmarks/synthesis.py).
    concurrency: int = 8
    mp3_bitrate: str = "128k"
    # A generated intro/outro sting around every track (audio/beds.py).
    audio_beds: bool = False
    # A speech server that is not OpenAI's: its voice names, and which speaks for which of
    # the request's (OpenAI) voice names; see OpenAIVoice.
    voices: str | None = None
    voice_map: str | None = None

    def get(self) -> BudgetedVoice:
        prices = self._prices()
        inner: Voice
        if self._uses_openai("voice"):
            from epochpod_assets.providers.openai_voice import OpenAIVoice

            inner = OpenAIVoice(
                api_key=self.api_key or "",
                model=self.model,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                prices=prices,
                limiter=limiter_for(
                    "openai", self.model, base_url=self.base_url, limits=self.rate_limits
                ),
                voices=settings.voice_list(self.voices) if self.voices else (),
                voice_map=settings.voice_map(self.voice_map) if self.voice_map else None,
            )
        else:
            from epochpod_assets.audio.espeak import EspeakVoice

            inner = EspeakVoice()
        return self._opened(BudgetedVoice(inner, getattr(inner, "prices", prices)))


def pricing_notes() -> list[str]:
    """How the configured writer and voice are priced (`epochpod status` shows it): a model on
    a server that is not OpenAI's costs $0 unless EPOCHPOD_PRICES prices it, and says so."""
    config = settings.load()
    prices = load_prices(config.prices)
    notes = []
    for role, kind, model in (
        ("writer", "llm", config.llm_model),
        ("voice", "tts", config.tts_model),
    ):
        if planned_provider(role)[0] != "openai":  # type: ignore[arg-type]
            notes.append(f"{role}: offline, $0")
            continue
        base_url = config.endpoint(kind)[0]  # type: ignore[arg-type]
        notes.append(f"{role} {model}: {prices.for_endpoint(base_url).note(kind, model)}")
    return notes


def env(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable is set, else None (the resource's own default).

    Only for variables `settings` has validated: the resource then reads the same value."""
    return dg.EnvVar(name) if settings.is_set(name) else None


def _local_base_url(config: settings.Settings) -> str | None:
    """A local folder's media is linked through `epochpod serve` (`make ui` starts it), so the
    UI's audio and caption links and the feed's enclosures are http URLs a browser and a
    podcast app open. EPOCHPOD_PUBLIC_BASE_URL=file:///folder gives file URLs instead."""
    if config.storage_url and config.storage_url.startswith("s3://"):
        return None
    return config.local_media_url


def resources_from_env() -> dict[str, dg.ConfigurableResource]:  # type: ignore[type-arg]
    """The resources as the environment configures them (see the README's table).

    Every value is checked by `settings.load()` first (a bad one raises `SettingsError`
    naming the variable). Secrets (the key, the webhook) and free text (the base URL, the
    price table) stay `dg.EnvVar`s, so the UI shows the variable's name; numbers and choices
    are passed as the values settings read.
    """
    config = settings.load()
    openai_settings: dict[str, Any] = {
        "timeout": config.openai_timeout,
        "max_retries": config.openai_max_retries,
        "prices": env("EPOCHPOD_PRICES"),
        "rate_limits": env("EPOCHPOD_RATE_LIMITS"),
    }
    return {
        "catalog": CatalogResource(database_url=env("EPOCHPOD_DATABASE_URL")),
        "media": MediaResource(
            media_dir=env("EPOCHPOD_MEDIA_DIR"),
            public_base_url=env("EPOCHPOD_PUBLIC_BASE_URL") or _local_base_url(config),
            storage_url=env("EPOCHPOD_STORAGE_URL"),
            presign_seconds=config.s3_presign_seconds,
            s3=S3Connection(
                endpoint_url=env("EPOCHPOD_S3_ENDPOINT_URL") or env("AWS_ENDPOINT_URL"),
                region_name=env("EPOCHPOD_S3_REGION") or env("AWS_REGION"),
            ),
        ),
        "writer": WriterResource(
            provider=config.writer,
            model=config.llm_model,
            max_reasks=config.llm_max_reasks,
            # Writing and speech each on their own server, both defaulting to OPENAI_*.
            api_key=env("EPOCHPOD_LLM_API_KEY") or env("OPENAI_API_KEY"),
            base_url=env("EPOCHPOD_LLM_BASE_URL") or env("OPENAI_BASE_URL"),
            **openai_settings,
        ),
        "voice": VoiceResource(
            provider=config.voice,
            model=config.tts_model,
            concurrency=config.tts_concurrency,
            mp3_bitrate=config.mp3_bitrate,
            audio_beds=config.audio_beds,
            api_key=env("EPOCHPOD_TTS_API_KEY") or env("OPENAI_API_KEY"),
            base_url=env("EPOCHPOD_TTS_BASE_URL") or env("OPENAI_BASE_URL"),
            voices=config.tts_voices,
            voice_map=config.tts_voice_map,
            **openai_settings,
        ),
    }
