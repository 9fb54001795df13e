"""`epochpod serve`: the local media folder and the podcast feed over HTTP on loopback."""

from __future__ import annotations

import argparse

from epochpod_assets.cli.common import Subparsers, bounded_int
from epochpod_assets.cli.errors import UsageError


def register(commands: Subparsers) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the local media folder and the podcast feed over HTTP on loopback",
        description="Serve episode audio, captions, chapters, the cost reports and feed.xml "
        "from the local media folder at http://127.0.0.1:8765/, with range requests so "
        "players can seek. Subscribe a podcast app to http://127.0.0.1:8765/feed.xml.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="a loopback address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=bounded_int(1, 65_535),
        help="the port (default EPOCHPOD_SERVE_PORT, 8765)",
    )
    serve.set_defaults(run=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from epochpod_assets.serve import ServeError, serve

    try:
        serve(args.host, args.port)
    except ServeError as error:
        raise UsageError(str(error)) from None
    return 0
