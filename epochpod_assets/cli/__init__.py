"""The `epochpod` command: enqueue requests, work the queue, show status, run the demo.

One module per command group, each with `register(commands)` adding its commands (and setting
`run`, the function that runs one); `COMMAND_MODULES` lists them in the order `--help` shows.
Commands raise, and `errors.run_command` turns what they raise into one line and an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from epochpod_assets.cli import admin, enqueue, episodes, run, script, serve, status
from epochpod_assets.cli.common import check_text_arguments
from epochpod_assets.cli.errors import EXIT_FAILED, EXIT_USAGE, UsageError, run_command
from epochpod_assets.editorial import cli as editorial

EXIT_BAD_REQUEST = EXIT_USAGE

# Add a command group here: a module with `register(commands)`.
COMMAND_MODULES = (enqueue, run, status, episodes, editorial, serve, admin)

__all__ = ["EXIT_BAD_REQUEST", "EXIT_FAILED", "EXIT_USAGE", "build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (which command's --help to read) and is
    handled with every other error, instead of argparse printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> Parser:
    parser = Parser(
        prog="epochpod",
        description="Epoch Pod's command line: enqueue requests, work the queue, show status, "
        "edit and review scripts, run the demo.",
        epilog="Exit status: 0 done; 1 a failure at run time (a database that cannot be "
        "reached, a failed episode); 2 a bad flag, argument, request or setting. Every error "
        "is one line on stderr naming the field or variable; --debug adds the traceback.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="on an error, print the full traceback too"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    # Last: `script check` joins the `script` group whichever module created it.
    script.attach(commands)
    _accept_debug_everywhere(parser)
    return parser


def _accept_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    # `epochpod status --debug` as well as `epochpod --debug status`. SUPPRESS keeps a
    # command's parser from resetting a --debug given before the command.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--debug" not in sub._option_string_actions:
                    sub.add_argument(
                        "--debug",
                        action="store_true",
                        default=argparse.SUPPRESS,
                        help="on an error, print the full traceback too",
                    )
                _accept_debug_everywhere(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (0 ok, 1 failed, 2 usage or validation)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv

    def parse_and_run() -> int:
        nonlocal debug
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help
            return int(exit_.code or 0)
        debug = bool(getattr(args, "debug", False))
        check_text_arguments(args)
        # Every command starts from valid settings, so a bad variable is named up front.
        from epochpod_assets import settings

        settings.load()
        code: int = args.run(args)
        return code

    return run_command(parse_and_run, debug=lambda: debug)
