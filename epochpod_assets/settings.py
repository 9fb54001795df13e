"""Every setting the pipeline reads from the environment, read and validated in one place.

`load()` returns the typed `Settings` for the current environment. Whatever starts the code (the
command line, the Dagster code location, a run worker, a test) gets the same object and the same
checks, so a mistake is found where the process starts, not halfway through an episode. A bad
value raises `SettingsError`: one line per variable, naming it, showing its value (secrets
masked) and saying what is expected.

To add a variable: add one field below with `var(default, "what is expected", ...)` (the
constraint keywords of `pydantic.Field`, e.g. `ge=1`), add a `field_validator` if the check is
more than a type and a range, and add a row to the README's environment table. The variable's
name is `EPOCHPOD_` + the field's name in capitals unless `env=` names it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "EPOCHPOD_"

# Variables whose values are never shown, whole: keys, and URLs that embed a token.
_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL|WEBHOOK", re.IGNORECASE)
# Only the password of a URL is masked (the host and database help find the mistake).
_URL_PASSWORD = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#\s]*):([^@/?#\s]*)@")
_URL_PASSWORD_ANYWHERE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#\s]*):([^@/?#\s]*)@")


class SettingsError(ValueError):
    """Settings that cannot be used. `problems` holds one line per bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def var(
    default: Any,
    expect: str,
    *,
    env: str | tuple[str, ...] | None = None,
    secret: bool = False,
    **constraints: Any,
) -> Any:
    """A setting: its default, what a valid value looks like (said in every error about it),
    and optionally its variable's name(s) when not `EPOCHPOD_<FIELD>` (the first one set wins)."""
    alias: Any = None
    if isinstance(env, str):
        alias = env
    elif env:
        alias = AliasChoices(*env)
    return Field(
        default,
        description=expect,
        validation_alias=alias,
        json_schema_extra={"secret": secret},
        **constraints,
    )


Choice = Literal["auto", "offline", "openai"]
Seconds = Annotated[int, Field(ge=1)]


class Settings(BaseSettings):
    """The environment's settings, typed. See the README's environment table for each one."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        # An empty variable is an unset one: `FOO= make demo` must not mean "FOO is ''".
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    # --- where things live -------------------------------------------------------------------
    home: Path = var(Path(".epochpod"), "a folder that can be created and written")
    database_url: str | None = var(
        None, "a database URL such as postgresql://user@host/db or sqlite:///path/catalog.db"
    )
    media_dir: Path | None = var(None, "a folder that can be created and written")
    storage_url: str | None = var(None, "s3://bucket/prefix, file:///folder or a folder path")
    s3_endpoint_url: str | None = var(
        None,
        "an http(s):// URL of an S3-compatible endpoint",
        env=("EPOCHPOD_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
    )
    s3_region: str | None = var(
        None, "an AWS region name", env=("EPOCHPOD_S3_REGION", "AWS_REGION")
    )
    s3_presign_seconds: int = var(604_800, "whole seconds from 0 to 604800", ge=0, le=604_800)
    public_base_url: str | None = var(None, "an http(s):// or file:// URL")
    # `epochpod serve`'s port; with local storage and no public base URL, media URLs point at it.
    serve_port: int = var(8765, "a TCP port from 1 to 65535", ge=1, le=65_535)
    dagster_home: Path | None = var(
        None, "an absolute folder that can be created and written", env="DAGSTER_HOME"
    )

    # --- providers ---------------------------------------------------------------------------
    openai_api_key: SecretStr | None = var(None, "an API key", env="OPENAI_API_KEY", secret=True)
    openai_base_url: str | None = var(
        None, "an http(s):// URL of an OpenAI-compatible API", env="OPENAI_BASE_URL"
    )
    # Writing and speech may each have their own OpenAI-compatible server (a local Ollama or
    # vLLM writes, a Kokoro or openedai-speech server speaks); each defaults to OPENAI_*.
    llm_base_url: str | None = var(None, "an http(s):// URL of an OpenAI-compatible chat API")
    llm_api_key: SecretStr | None = var(
        None, "an API key (any text for a local server)", secret=True
    )
    tts_base_url: str | None = var(None, "an http(s):// URL of an OpenAI-compatible speech API")
    tts_api_key: SecretStr | None = var(
        None, "an API key (any text for a local server)", secret=True
    )
    tts_voices: str | None = var(
        None, "the speech server's voice names, separated by commas, e.g. af_bella,am_adam"
    )
    tts_voice_map: str | None = var(
        None,
        "request voice=server voice pairs separated by commas, e.g. onyx=am_adam,echo=bm_george",
    )
    writer: Choice = var("auto", "auto, offline or openai")
    voice: Choice = var("auto", "auto, offline or openai")
    llm_model: str = var("gpt-4o-mini", "a chat model name")
    tts_model: str = var("tts-1", "a speech model name")
    openai_timeout: float = var(
        120.0, "a number of seconds above 0", gt=0, le=86_400, allow_inf_nan=False
    )
    openai_max_retries: int = var(4, "a whole number from 0 to 20", ge=0, le=20)
    llm_max_reasks: int = var(2, "a whole number from 0 to 10", ge=0, le=10)
    prices: str | None = var(None, "a JSON price table, or the path of a JSON file holding one")
    max_episode_usd: float | None = var(
        None, "a non-negative number of US dollars", ge=0, allow_inf_nan=False
    )
    rate_limits: str | None = var(
        None,
        'JSON such as {"gpt-4o-mini": {"rpm": 500, "tpm": 200000}}, or a JSON file\'s path',
    )
    rate_limit_url: str | None = var(
        None, "memory:, sqlite:///path or a PostgreSQL URL", secret=False
    )

    # --- audio -------------------------------------------------------------------------------
    tts_concurrency: int = var(8, "a whole number from 1 to 64", ge=1, le=64)
    mp3_bitrate: str = var("128k", "an MP3 bitrate at 24 kHz: 8k to 160k")
    audio_beds: bool = var(False, "true or false")

    lexicon: str | None = var(None, "the path of a JSON or PLS pronunciation lexicon")

    # --- sources and integrity checks (history/) ---------------------------------------------
    sources_max_bytes: int = var(
        10 * 1024 * 1024, "a whole number of bytes from 1 to 1073741824", ge=1, le=1 << 30
    )
    sources_timeout_seconds: float = var(
        20.0, "a number of seconds above 0", gt=0, le=3600, allow_inf_nan=False
    )
    # Off in production: a source URL is user text, and the fetcher runs inside the deployment.
    sources_allow_private: bool = var(False, "true or false")
    max_unsupported_share: float = var(0.5, "a number from 0 to 1", ge=0, le=1, allow_inf_nan=False)
    # A script (or part) failing the time guard or the claim check has its failing lines
    # rewritten at most this many times before the episode fails with the findings.
    integrity_max_rewrites: int = var(2, "a whole number from 0 to 10", ge=0, le=10)

    # --- orchestration -----------------------------------------------------------------------
    sensor_batch: int = var(50, "a whole number from 1 to 10000", ge=1, le=10_000)
    sensor_lease_seconds: int = var(600, "whole seconds, at least 1", ge=1)
    # Dagster's sensor daemon evaluates sensors every 5 s at most; 1 lets it take the queue on
    # every pass (two index-backed reads), which is the floor on enqueue -> start latency.
    sensor_interval_seconds: int = var(1, "whole seconds, at least 1", ge=1)
    # A tick that finds the queue empty listens this long for a request (PostgreSQL NOTIFY)
    # and takes it at once. At most 4: a tick still running when the daemon's next pass
    # begins (5 s after this one) would make that pass skip the sensor.
    sensor_wait_seconds: float = var(4.0, "seconds from 0 to 4", ge=0, le=4, allow_inf_nan=False)
    sweeper_interval_seconds: int = var(60, "whole seconds, at least 1", ge=1)
    run_max_runtime_seconds: int | None = var(None, "whole seconds, at least 1", ge=1)
    # Every job of the code location (jobs.executor): in_process unless a deployment says so.
    executor: Literal["in_process", "multiprocess"] = var(
        "in_process", "in_process or multiprocess"
    )
    failure_webhook_url: SecretStr | None = var(None, "an http(s):// URL", secret=True)
    log_bucket: str | None = var(None, "an S3 bucket name")
    # A request that does not say whether it wants review gets this (editorial/actions.py).
    review_default: bool = var(False, "true or false")

    # --- the podcast feed --------------------------------------------------------------------
    feed_title: str | None = var(None, "text")
    feed_description: str | None = var(None, "text")
    feed_link: str | None = var(None, "an http(s):// URL")
    feed_image_url: str | None = var(None, "an http(s):// URL")
    feed_author: str | None = var(None, "text")
    feed_owner_email: str | None = var(None, "an email address")
    feed_category: str | None = var(None, "an Apple Podcasts category")
    feed_language: str | None = var(None, "a language code such as en or fr-CA")
    feed_explicit: bool = var(False, "true or false")

    # --- checks beyond a type and a range ----------------------------------------------------

    @field_validator("home", "media_dir", "dagster_home")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise ValueError("is a file, not a folder")
        return path

    @field_validator("database_url")
    @classmethod
    def _a_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_database_url(value)
        return value

    @field_validator("rate_limit_url")
    @classmethod
    def _a_limiter_state(cls, value: str | None) -> str | None:
        if value is None or value == "memory:" or value.startswith("sqlite:///"):
            return value
        check_database_url(value)
        return value

    @field_validator("storage_url")
    @classmethod
    def _a_store(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("s3://"):
            parts = urlsplit(value)
            if not parts.netloc:
                raise ValueError("names no bucket")
            return value
        if value.startswith("file://"):
            return value
        # "s3:/bucket" or "s3:bucket" would otherwise be a folder named "s3:" in the working
        # directory, and every episode's audio would quietly land there.
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+:", value):
            raise ValueError("looks like a URL but is not s3:// or file://")
        return value

    @field_validator(
        "s3_endpoint_url",
        "openai_base_url",
        "llm_base_url",
        "tts_base_url",
        "feed_link",
        "feed_image_url",
        "public_base_url",
    )
    @classmethod
    def _a_url(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        schemes = {"http", "https"} | ({"file"} if info.field_name == "public_base_url" else set())
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "file"):
            raise ValueError("is not a URL of that kind")
        return value

    @field_validator("failure_webhook_url")
    @classmethod
    def _a_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("is not an http(s):// URL")
        return value

    @field_validator("tts_voices")
    @classmethod
    def _voice_list(cls, value: str | None) -> str | None:
        if value is not None:
            voice_list(value)
        return value

    @field_validator("tts_voice_map")
    @classmethod
    def _voice_pairs(cls, value: str | None) -> str | None:
        if value is not None:
            voice_map(value)
        return value

    @field_validator("feed_owner_email")
    @classmethod
    def _an_email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("is not an email address")
        return value

    @field_validator("feed_language")
    @classmethod
    def _a_language(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
            raise ValueError("is not a language code")
        return value

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Settings:
        # Asking for OpenAI without a key would fail the first episode's first stage; say it
        # where the setting is made instead.
        for role, endpoint in (("writer", "llm"), ("voice", "tts")):
            if getattr(self, role) == "openai" and self.endpoint(endpoint)[1] is None:  # type: ignore[arg-type]
                raise PydanticCustomError(
                    "needs_key",
                    f"needs OPENAI_API_KEY (or EPOCHPOD_{endpoint.upper()}_API_KEY), "
                    "which is not set",
                    {"field": role},
                )
        return self

    @field_validator("writer", "voice", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rate_limits")
    @classmethod
    def _limits(cls, value: str | None) -> str | None:
        if value is not None:
            from epochpod_assets.providers.ratelimit import parse_limits

            parse_limits(value)
        return value

    @field_validator("prices")
    @classmethod
    def _prices(cls, value: str | None) -> str | None:
        if value is not None:
            from epochpod_assets.providers.pricing import load_prices

            load_prices(value)
        return value

    @field_validator("mp3_bitrate")
    @classmethod
    def _bitrate(cls, value: str) -> str:
        from epochpod_assets.audio.assemble import check_bitrate

        check_bitrate(value)
        return value

    @field_validator("lexicon")
    @classmethod
    def _lexicon(cls, value: str | None) -> str | None:
        if value is not None:
            from epochpod_assets.speech.lexicon import load_file

            load_file(value)
        return value

    # --- derived -----------------------------------------------------------------------------

    def endpoint(self, role: Literal["llm", "tts"]) -> tuple[str | None, SecretStr | None]:
        """(base URL, key) of the server that writes ("llm") or speaks ("tts"): its own
        EPOCHPOD_<ROLE>_BASE_URL / _API_KEY, else OPENAI_BASE_URL / OPENAI_API_KEY."""
        if role == "llm":
            return (
                self.llm_base_url or self.openai_base_url,
                self.llm_api_key or self.openai_api_key,
            )
        return self.tts_base_url or self.openai_base_url, self.tts_api_key or self.openai_api_key

    @property
    def voices(self) -> tuple[str, ...]:
        """The speech server's voices (EPOCHPOD_TTS_VOICES); empty: OpenAI's names."""
        return voice_list(self.tts_voices) if self.tts_voices else ()

    @property
    def voice_pairs(self) -> dict[str, str]:
        """Request voice -> the speech server's voice (EPOCHPOD_TTS_VOICE_MAP)."""
        return voice_map(self.tts_voice_map) if self.tts_voice_map else {}

    @property
    def catalog_url(self) -> str:
        """The catalog: PostgreSQL in production, a SQLite file under EPOCHPOD_HOME by default."""
        return self.database_url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.home / "media"

    @property
    def local_media_url(self) -> str:
        """Where `epochpod serve` serves the local media folder."""
        return f"http://127.0.0.1:{self.serve_port}"

    @property
    def dagster_root(self) -> Path:
        return self.dagster_home or self.home / "dagster"

    @property
    def default_catalog(self) -> Path | None:
        """The SQLite file used when no EPOCHPOD_DATABASE_URL is set, else None."""
        return None if self.database_url else self.home / "catalog.db"

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable a field is read from (the first, if several)."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return PREFIX + field.upper()

    @classmethod
    def variables(cls) -> list[str]:
        names: list[str] = []
        for field, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                names += [str(choice) for choice in alias.choices]
            else:
                names.append(cls.variable(field))
        return names


_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


def voice_list(raw: str) -> tuple[str, ...]:
    """Voice names separated by commas; ValueError naming a malformed one."""
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise ValueError("names no voice")
    for name in names:
        if not _VOICE_NAME.match(name):
            raise ValueError(f"{name!r} is not a voice name")
    return names


def voice_map(raw: str) -> dict[str, str]:
    """`request voice=server voice` pairs separated by commas; ValueError naming a bad pair."""
    from epochpod_assets.providers.voices import VOICES

    pairs: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",") if p.strip()):
        name, sep, target = (part.strip() for part in pair.partition("="))
        if not sep or name not in VOICES or not _VOICE_NAME.match(target):
            raise ValueError(f"{pair!r} is not request voice=server voice (request voices: "
                             f"{', '.join(VOICES)})")  # fmt: skip
        pairs[name] = target
    if not pairs:
        raise ValueError("names no pair")
    return pairs


def check_database_url(url: str) -> None:
    """Raise ValueError unless `url` is a database URL SQLAlchemy can use with an installed
    driver. No connection is made: an unreachable server is a runtime failure, found on use."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError("is not a database URL") from None
    # The web app's style of URL names no driver; the catalog uses psycopg 3 for it.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ValueError(f"names an unknown database kind {parsed.drivername!r}") from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise ValueError(
            f"needs the {parsed.drivername} driver, which is not installed ({error.name})"
        ) from None


def mask_urls(text: str) -> str:
    """`text` with the password of every URL in it masked."""
    return _URL_PASSWORD_ANYWHERE.sub(r"\1:***@", text)


def mask(name: str, value: str, secret: bool = False) -> str:
    """`value` as it may be shown in an error about `name`: secrets hidden, URL passwords
    masked, control characters escaped, and cut to a readable length."""
    if secret or _SECRET_NAME.search(name):
        return "'***'"
    value = _URL_PASSWORD.sub(r"\1:***@", value)
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:76] + "...'"


def _field(loc: str) -> str:
    """The field an error's location names: the field itself, or one of its variables."""
    if loc in Settings.model_fields:
        return loc
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if any(str(choice).upper() == loc.upper() for choice in choices if choice):
            return field
    return loc


def _problem(error: dict[str, Any], environ: dict[str, str]) -> str:
    if error["type"] == "needs_key":  # a check across variables: name the one that asks
        field = error["ctx"]["field"]
        name = Settings.variable(field)
        return f"{name}={mask(name, environ.get(name, ''))}: {error['msg']}"
    field = _field(str(error["loc"][0])) if error["loc"] else ""
    info: FieldInfo | None = Settings.model_fields.get(field)
    name = _set_variable(field, environ) if info else field
    extra = info.json_schema_extra if info and isinstance(info.json_schema_extra, dict) else {}
    raw = environ.get(name, error.get("input"))
    shown = mask(name, raw if isinstance(raw, str) else str(raw), bool(extra.get("secret")))
    expect = info.description if info else None
    reason = ""
    if error["type"] == "value_error":
        reason = str(error["msg"]).removeprefix("Value error, ")
        # Checks shared with other callers name the variable themselves; it is named already.
        reason = re.sub(rf"^{name}:? ", "", reason) + "; "
    return f"{name}={shown}: {reason}expected {expect}"


def _set_variable(field: str, environ: dict[str, str]) -> str:
    """The variable a bad value came from: of several names, the one that is set."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        for choice in alias.choices:
            if str(choice) in environ:
                return str(choice)
    return Settings.variable(field)


def _relevant(environ: dict[str, str]) -> tuple[tuple[str, str], ...]:
    names = {n.upper() for n in Settings.variables()}
    return tuple(
        sorted((k, v) for k, v in environ.items() if k.upper() in names or k.startswith(PREFIX))
    )


# Variables of the test suite and the benchmarks, not of the product.
_HARNESS = ("EPOCHPOD_TEST_", "EPOCHPOD_RELIABILITY_", "EPOCHPOD_BENCH_", "EPOCHPOD_REQUIRE_")


def _misspelled(environ: dict[str, str]) -> list[str]:
    """A set variable that is not a setting but nearly spells one is a typo: without this line
    `EPOCHPOD_DATABSE_URL=...` would silently leave the catalog in the default place."""
    import difflib

    known = Settings.variables()
    problems = []
    for name, value in sorted(environ.items()):
        if not name.startswith(PREFIX) or name in known or name.startswith(_HARNESS):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            shown = mask(name, value, secret=bool(_SECRET_NAME.search(close[0])))
            problems.append(f"{name}={shown}: is not a setting; expected {close[0]}")
    return problems


_cache: tuple[tuple[Any, ...], Settings] | None = None


def load() -> Settings:
    """The settings of the current environment, validated; raises `SettingsError`.

    Read once per process and environment: a process reads the same object every time, and a
    test (or a command) that changes a variable or the working directory gets a fresh read.
    """
    global _cache
    environ = dict(os.environ)
    key = (_relevant(environ), os.getcwd())
    if _cache is not None and _cache[0] == key:
        return _cache[1]
    try:
        settings = Settings()
    except ValidationError as error:
        raise SettingsError([_problem(dict(e), environ) for e in error.errors()]) from None
    typos = _misspelled(environ)
    if typos:
        raise SettingsError(typos)
    _cache = (key, settings)
    return settings


def is_set(variable: str) -> bool:
    """Whether `variable` is set to something (an empty value is unset, as `load` reads it)."""
    return bool(os.environ.get(variable, "").strip())


def reload() -> Settings:
    """Forget the cached settings and read the environment again."""
    global _cache
    _cache = None
    return load()


def ensure_folder(path: Path, variable: str) -> Path:
    """Create `path` (a folder a variable points at, or under) and check it can be written;
    raise `SettingsError` naming the variable, not an OSError naming only the path."""
    value = os.environ.get(variable, str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SettingsError(
            [
                f"{variable}={mask(variable, value)}: cannot create {path} ({reason}); "
                "expected a folder that can be created and written"
            ]
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(
            [
                f"{variable}={mask(variable, value)}: {path} is not writable; "
                "expected a folder that can be created and written"
            ]
        )
    return path


def catalog_file() -> tuple[Path, str] | None:
    """The SQLite file the catalog lives in and the variable that put it there; None for a
    database server."""
    config = load()
    if config.default_catalog is not None:
        return config.default_catalog, "EPOCHPOD_HOME"
    import sqlalchemy as sa

    url = sa.make_url(config.catalog_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve(), "EPOCHPOD_DATABASE_URL"
    return None


def ensure_catalog_folder() -> None:
    """Create the folder of a SQLite catalog, or raise `SettingsError` naming the variable."""
    place = catalog_file()
    if place is not None:
        ensure_folder(place[0].parent, place[1])


# --- the paths most code asks for ------------------------------------------------------------


def epochpod_home() -> Path:
    """Root of everything the pipeline keeps locally: catalog, media, Dagster instance."""
    return load().home


def database_url() -> str:
    """The catalog: PostgreSQL in production, a SQLite file under EPOCHPOD_HOME by default."""
    return load().catalog_url


def media_root() -> Path:
    return load().media_root


def dagster_home() -> Path:
    return load().dagster_root
