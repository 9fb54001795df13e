"""`epochpod demo` and `epochpod migrate`: the end-to-end demo and the catalog's schema."""

from __future__ import annotations

import argparse

from epochpod_assets.cli.common import Subparsers, catalog_label, open_catalog


def register(commands: Subparsers) -> None:
    demo = commands.add_parser(
        "demo",
        help="make one episode of each format, end to end",
        description="Enqueue one request of each format and run them through the real "
        "sensor and real Dagster runs, showing their progress.",
    )
    demo.set_defaults(run=cmd_demo)
    migrate = commands.add_parser(
        "migrate",
        help="bring the catalog schema up to date",
        description="Create the catalog, or upgrade its schema to the newest migration.",
    )
    migrate.set_defaults(run=cmd_migrate)


def cmd_demo(args: argparse.Namespace) -> int:
    from epochpod_assets.demo import run_demo

    return run_demo()


def cmd_migrate(args: argparse.Namespace) -> int:
    open_catalog(create=True)
    print(f"catalog schema is up to date: {catalog_label()}")
    return 0
