"""Tables for the terminal: what `epochpod status` and `epochpod demo` print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from rich.console import Console
from rich.table import Table

from epochpod_assets.catalog import Catalog

STATUS_STYLE = {"COMPLETED": "green", "FAILED": "red", "CANCELLED": "yellow", "PENDING": "dim"}


def audio_location(url: str | None) -> str:
    """A file URL as a plain path a user can open; other URLs as they are."""
    if not url:
        return ""
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" else url


def _minutes(seconds: int | None) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else ""


def episode_table(db: Catalog, rows: Sequence[dict[str, Any]], title: str = "Episodes") -> Table:
    stats = db.stats([r["id"] for r in rows])
    table = Table(title=title)
    for column in ("id", "format", "title", "status", "progress", "duration", "cost", "audio file"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = row["generation_status"]
        cost = stats.get(row["id"])
        table.add_row(
            row["id"],
            row["type"].lower(),
            row["title"],
            f"[{STATUS_STYLE.get(status, 'cyan')}]{status}[/]"
            + (f"\n{row['generation_error']}" if row["generation_error"] else ""),
            f"{row['generation_progress']}%",
            _minutes(row["duration_seconds"]),
            f"${cost.estimated_usd:.4f}" if cost else "$0.0000",
            audio_location(row["audio_url"]),
        )
    return table


def console() -> Console:
    # Piped output (CI logs, `| less`) gets room for the file paths instead of 80 columns.
    plain = Console()
    return plain if plain.is_terminal else Console(width=200)


def render(table: Table) -> None:
    console().print(table)
