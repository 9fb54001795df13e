"""The way in: validate a request and put it on the queue. Returns at once."""

from __future__ import annotations

from typing import Any

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.requests import parse_request


def open_catalog() -> Catalog:
    """The catalog the environment points at, migrated to the newest schema. A folder it
    cannot create or write raises `settings.SettingsError` naming the variable."""
    config = settings.load()
    if config.default_catalog is not None:
        settings.ensure_folder(config.home, "EPOCHPOD_HOME")
    db = Catalog(config.catalog_url)
    db.migrate()
    return db


def enqueue(request: Any, db: Catalog | None = None) -> str:
    """Validate a request (a model, a dict or JSON text) and queue it as one PENDING episode.

    Returns the new episode id. Raises `RequestError` naming every bad field; nothing is
    written then.
    """
    valid = parse_request(request)
    return (db or open_catalog()).enqueue(valid)
