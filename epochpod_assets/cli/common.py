"""What the commands share: the catalog they use (named when it is new or empty, never created
by a command that only reads), and output that is safe for any text a user typed."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, TypeAlias

from epochpod_assets import settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.cli.errors import CommandError, UsageError

# What a command module's `register` is given: `commands.add_parser(...)` adds a command.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def catalog_label() -> str:
    """The catalog in use, as a user can find it: the SQLite file's path, or the database URL
    with its password masked."""
    config = settings.load()
    if config.database_url:
        return settings.mask_urls(config.database_url)
    return str(config.default_catalog)


def open_catalog(*, create: bool) -> Catalog | None:
    """The catalog, migrated. A SQLite catalog that does not exist yet is created only when
    `create` (and said so on stderr); otherwise the answer is None and nothing is written."""
    place = settings.catalog_file()
    if place is not None and not place[0].exists():
        if not create:
            return None
        settings.ensure_folder(place[0].parent, place[1])
        note(f"new catalog at {place[0]}")
    db = Catalog(settings.database_url())
    db.migrate()
    return db


def existing_catalog() -> Catalog:
    """The catalog for a command about episodes that must already exist."""
    db = open_catalog(create=False)
    if db is None:
        raise CommandError(no_catalog_line())
    return db


def no_catalog_line() -> str:
    return (
        f"no catalog at {catalog_label()}: nothing has been enqueued with this "
        f"EPOCHPOD_HOME ({settings.epochpod_home()}); set EPOCHPOD_HOME or "
        "EPOCHPOD_DATABASE_URL to the catalog you use"
    )


def note(text: str) -> None:
    """A line for the person at the terminal, kept off stdout so scripts can read stdout."""
    print(text, file=sys.stderr, flush=True)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


def episode_id(value: str) -> str:
    """An episode id argument: not empty, and text (an argument that is not UTF-8 reaches
    Python as lone surrogates, which no id contains)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if not _is_text(value):
        raise argparse.ArgumentTypeError("is not valid UTF-8")
    if len(value) > 200:
        raise argparse.ArgumentTypeError("is longer than any episode id (200 characters)")
    return value


def bounded_int(low: int, high: int) -> Any:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def bounded_float(low: float, high: float) -> Any:
    """An argparse type: a finite number from `low` to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a number from {low:g} to {high:g}, got {text!r}"
            ) from None
        if not low <= value <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {text}")
        return value

    return parse


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse any argument that is not valid UTF-8, naming it, before a command sees it."""
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not _is_text(v) for v in values):
            raise UsageError(f"{name}: is not valid UTF-8")
