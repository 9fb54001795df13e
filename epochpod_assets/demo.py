"""`epochpod demo`: one episode of each format, through the real sensor and real Dagster runs."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.live import Live
from rich.table import Table

from epochpod_assets.console import console as make_console
from epochpod_assets.console import episode_table
from epochpod_assets.formats import formats
from epochpod_assets.intake import enqueue, open_catalog
from epochpod_assets.status import TERMINAL, Stage


def demo_requests() -> list[dict[str, Any]]:
    """One short request of every registered format, each from its own package."""
    return [fmt.demo_request() for fmt in formats()]


def run_demo() -> int:
    from epochpod_assets.definitions import defs
    from epochpod_assets.worker import dagster_instance, feed_location, work_queue

    console = make_console()
    started = time.monotonic()
    db = open_catalog()
    ids = [enqueue(request, db) for request in demo_requests()]
    console.print(f"queued {len(ids)} episodes: {', '.join(ids)}")
    instance = dagster_instance()

    done = threading.Event()

    def table_now() -> Table:
        rows = [row for i in ids if (row := db.get(i))]
        return episode_table(db, rows, title=f"Epoch Pod demo ({time.monotonic() - started:.0f} s)")

    with Live(table_now(), console=console, refresh_per_second=2) as live:

        def refresh() -> None:
            while not done.wait(0.5):
                live.update(table_now())

        painter = threading.Thread(target=refresh, daemon=True)
        painter.start()
        try:
            work_queue(defs, instance, log_level="CRITICAL", reports=True)
        finally:
            done.set()
            painter.join()
            live.update(table_now())
    rows = [row for i in ids if (row := db.get(i))]
    finished = all(Stage(row["generation_status"]) in TERMINAL for row in rows)
    published = sum(row["generation_status"] == Stage.COMPLETED for row in rows)
    console.print()
    console.print(
        f"{published} of {len(rows)} episodes published in {time.monotonic() - started:.0f} s. "
        f"Dagster instance: {instance.root_directory}. See the runs with `make ui`."
    )
    for row in rows:
        console.print(citations_line(row))
    console.print(f"Podcast feed: {feed_location(defs)} (served by `epochpod serve`)")
    return 0 if finished and published == len(rows) else 1


def citations_line(row: dict[str, Any]) -> str:
    """What one episode rests on: sources, facts researched and facts its lines cite."""
    sheet = row.get("fact_sheet") or {}
    facts = sheet.get("facts") or []
    sources = sheet.get("sources") or []
    cited = cited_count(row)
    notes = row.get("show_notes_url") or "no show notes"
    return (
        f"{row['id']} {row['type'].lower()}: {cited} of {len(facts)} facts cited from "
        f"{len(sources)} source(s); show notes {notes}"
    )


def cited_count(row: dict[str, Any]) -> int:
    """Facts the published episode's lines cite (kept with the fact sheet at publication)."""
    return len((row.get("fact_sheet") or {}).get("cited") or [])
