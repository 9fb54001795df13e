"""`epochpod status`: list episodes, or show one. Only reads: it never creates a catalog."""

from __future__ import annotations

import argparse
import json
from typing import Any

from epochpod_assets.cli.common import (
    Subparsers,
    bounded_int,
    catalog_label,
    episode_id,
    existing_catalog,
    jsonable,
    no_catalog_line,
    note,
    open_catalog,
)
from epochpod_assets.cli.errors import CommandError
from epochpod_assets.console import printable
from epochpod_assets.status import regenerating

MAX_LIMIT = 1000


def register(commands: Subparsers) -> None:
    status = commands.add_parser(
        "status",
        help="list episodes, or show one",
        description="List the newest episodes with their status, progress, cost and audio "
        "file, or show every field of one episode.",
    )
    status.add_argument(
        "episode_id", nargs="?", type=episode_id, help="show this episode instead of a list"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--limit",
        type=bounded_int(1, MAX_LIMIT),
        default=20,
        help=f"how many of the newest episodes to list, 1 to {MAX_LIMIT} (default 20)",
    )
    status.set_defaults(run=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    if args.episode_id is not None:
        return _show(args)
    db = open_catalog(create=False)
    if db is None:
        # Probably run from another folder: say which catalog was looked for, create none.
        note(no_catalog_line())
        rows = []
    else:
        rows = db.list(args.limit)
        if not rows:
            note(f"catalog {catalog_label()} has no episodes yet")
    if args.json:
        print(json.dumps([jsonable(r) for r in rows], indent=2))
        return 0
    if db is not None and rows:
        from epochpod_assets.console import episode_table, render

        render(episode_table(db, rows))
        # What the costs above are priced at: $0 on a local server is said, not implied.
        from epochpod_assets.defs.resources import pricing_notes

        print("costs: " + "; ".join(pricing_notes()))
    return 0


def _show(args: argparse.Namespace) -> int:
    db = existing_catalog()
    row = db.get(args.episode_id)
    if row is None:
        raise CommandError(f"episode_id: no episode {args.episode_id!r} in {catalog_label()}")
    stats = db.stats([row["id"]]).get(row["id"])
    from epochpod_assets.defs.resources import pricing_notes

    row = jsonable(row) | {
        "cost_usd": stats.estimated_usd if stats else 0.0,
        # Published, with a new attempt under way: the web app's rule (README).
        "regenerating": regenerating(row),
    }
    row["pricing"] = "; ".join(pricing_notes())
    if args.json:
        print(json.dumps(row, indent=2))
    else:
        for key, value in row.items():
            if key not in ("transcript", "fact_sheet", "sources", "request"):
                print(f"{key:>24}  {printable(value)}")
        print_sources(row)
    return 0


def print_sources(row: dict[str, Any]) -> None:
    """The episode's numbered sources: as researched (with the facts each gave), or as
    requested while research has not run yet."""
    sheet = row.get("fact_sheet") or {}
    facts = sheet.get("facts") or []
    researched = sheet.get("sources") or []
    requested = (row.get("request") or {}).get("sources") or []
    if researched:
        cited = sheet.get("cited")
        told = f", {len(cited)} cited by the episode" if cited is not None else ""
        print(f"{'sources':>24}  {len(researched)} ({len(facts)} facts in the fact sheet{told})")
        for source in researched:
            count = sum(1 for f in facts if f.get("source_id") == source.get("id"))
            title, where = source.get("title"), source.get("location")
            shown = printable(f"[{source.get('id')}] {title} — {where} ({count} facts)")
            print(f"{'':>24}  {shown}")
    elif requested:
        print(f"{'sources':>24}  {len(requested)} requested, not researched yet")
        for number, source in enumerate(requested, start=1):
            shown = printable(source.get("title") or source.get("location"))
            print(f"{'':>24}  [{number}] {shown}")
    else:
        print(f"{'sources':>24}  none")
