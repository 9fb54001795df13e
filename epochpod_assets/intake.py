"""The way in: validate a request and put it on the queue. Returns at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.history.research import fetch_policy
from epochpod_assets.history.sources import SourceError, ingest
from epochpod_assets.requests import RequestBase, RequestError, parse_request
from epochpod_assets.storage import MediaStore


def open_catalog() -> Catalog:
    """The catalog the environment points at, migrated to the newest schema. A folder it
    cannot create or write raises `settings.SettingsError` naming the variable."""
    settings.ensure_catalog_folder()
    db = Catalog(settings.database_url())
    db.migrate()
    return db


def media_from_env() -> MediaStore:
    """The media store the environment points at (what the `media` resource builds)."""
    from epochpod_assets.defs.resources import MediaResource, S3Connection

    config = settings.load()
    return MediaResource(
        media_dir=str(config.media_dir) if config.media_dir else None,
        public_base_url=config.public_base_url,
        storage_url=config.storage_url,
        presign_seconds=config.s3_presign_seconds,
        s3=S3Connection(endpoint_url=config.s3_endpoint_url, region_name=config.s3_region),
    ).get()


def enqueue(request: Any, db: Catalog | None = None, store: MediaStore | None = None) -> str:
    """Validate a request (a model, a dict or JSON text) and queue it as one PENDING episode.

    Source files are read now (the pipeline may run on another machine) and their text stored
    content-addressed in media storage. Returns the new episode id. Raises `RequestError`
    naming every bad field; nothing is written then.
    """
    valid = parse_request(request)
    if any(not s.is_url and s.sha256 is None for s in valid.sources):
        valid = accept_sources(valid, store or media_from_env())
    return (db or open_catalog()).enqueue(valid)


class _Staged:
    """Holds what `ingest` stores until every source of the request has been read, so a bad
    second file leaves no first file behind."""

    def __init__(self, store: MediaStore) -> None:
        self.store = store
        self.pending: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> str:
        self.pending[key] = (data, content_type)
        return key

    def exists(self, key: str) -> bool:
        return key in self.pending or self.store.exists(key)

    def get(self, key: str) -> bytes:
        return self.pending[key][0] if key in self.pending else self.store.get(key)

    def url(self, key: str) -> str:
        return self.store.url(key)

    def flush(self) -> None:
        for key, (data, content_type) in self.pending.items():
            self.store.put(key, data, content_type)


def accept_sources(
    request: RequestBase, store: MediaStore, base_dir: Path | None = None
) -> RequestBase:
    """The request with every source file read, its text stored and named by its SHA-256.
    URLs are left for the research stage to fetch. Raises RequestError naming each bad file."""
    staged = _Staged(store)
    problems: list[str] = []
    accepted = []
    for index, spec in enumerate(request.sources):
        if spec.is_url or spec.sha256 is not None:
            accepted.append(spec)
            continue
        try:
            source, _ = ingest(
                staged, spec, index + 1, policy=fetch_policy(), base_dir=base_dir or Path.cwd()
            )
        except SourceError as error:
            problems.append(f"sources.{index}.location: {error}")
            continue
        accepted.append(
            spec.model_copy(
                update={"sha256": source.sha256, "title": spec.title or _title(source.title)}
            )
        )
    if problems:
        raise RequestError(problems)
    staged.flush()
    return request.model_copy(update={"sources": accepted})


def _title(found: str) -> str | None:
    # A document's own title is not user input but must pass the same rules when the request
    # is validated again by the pipeline: printable, one line, within the field's length.
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in found).split())
    return text[:300] or None
