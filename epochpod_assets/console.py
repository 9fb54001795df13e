"""Tables for the terminal: what `epochpod status` and `epochpod demo` print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from epochpod_assets.catalog import Catalog
from epochpod_assets.status import regenerating

STATUS_STYLE = {
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELLED": "yellow",
    "PENDING": "dim",
    "AWAITING_REVIEW": "magenta",
}


def audio_location(url: str | None) -> str:
    """A file URL, or a URL `epochpod serve` answers for the local folder, as a plain path a
    user can open (the server may not be running); other URLs as they are."""
    if not url:
        return ""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    from epochpod_assets.serve import local_path

    path = local_path(url)
    return str(path) if path else url


def printable(value: object) -> str:
    """`value` as text safe for a terminal: control and format characters (escape sequences,
    bidi overrides) shown as \\uXXXX instead of acting on the terminal. Rows written straight
    into the catalog, or a provider's error text, never passed the request's checks."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else f"\\u{ord(ch):04x}" for ch in text)


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
        # Text cells, never markup: a title is what a user typed, and "Ada [/]" or "[b]x[/b]"
        # must be shown as typed, not parsed (a stray closing tag crashes the whole table).
        state = Text("published, regenerating: " if regenerating(row) else "")
        state.append(status, style=STATUS_STYLE.get(status, "cyan"))
        if row["generation_error"]:
            state.append("\n" + printable(" ".join(row["generation_error"].split())))
        table.add_row(
            Text(printable(row["id"])),
            Text(printable(row["type"].lower())),
            Text(printable(row["title"] or "")),
            state,
            Text(f"{row['generation_progress']}%"),
            Text(_minutes(row["duration_seconds"])),
            Text(f"${cost.estimated_usd:.4f}" if cost else "$0.0000"),
            Text(printable(audio_location(row["audio_url"]))),
        )
    return table


def console() -> Console:
    # Piped output (CI logs, `| less`) gets room for the file paths instead of 80 columns.
    plain = Console()
    return plain if plain.is_terminal else Console(width=200)


def render(table: Table) -> None:
    console().print(table)
