"""The command line's error discipline, in one place.

Every failure a user can cause or meet ends as one line on stderr, `error: ...`, and an exit
code: 2 for a usage or validation error (a bad flag, argument, request or setting), 1 for a
runtime failure (an unreachable database, an id no episode has, a run that failed). No
traceback unless `--debug`. Commands raise; `run_command` turns what they raise into that line.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# A reader that stops early (`epochpod status | head`) is not a failure of ours; exit as a
# shell tool killed by SIGPIPE does.
EXIT_BROKEN_PIPE = 128 + 13
EXIT_INTERRUPTED = 128 + 2


class CommandError(Exception):
    """A failure the command explains itself: `message` is the whole line."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CommandError):
    """A bad flag or argument: exit 2."""

    exit_code = EXIT_USAGE


def one_line(text: str) -> str:
    """`text` on one line, with anything that looks like a secret masked."""
    from epochpod_assets.defs.notifications import redact
    from epochpod_assets.settings import mask_urls

    text = " ".join(str(text).split())
    return mask_urls(redact(text))


def explain(error: BaseException) -> tuple[int, list[str]]:
    """The exit code and the line(s) for an exception a command raised."""
    import sqlalchemy as sa

    from epochpod_assets.requests import RequestError
    from epochpod_assets.settings import SettingsError

    # Dagster wraps what fails inside it ("Error executing resource_fn on ResourceDefinition
    # writer"): the error underneath is the one to explain, with the wrapper's "where".
    where = ""
    while type(error).__name__.startswith("Dagster") and (error.__cause__ or error.__context__):
        resource = re.search(r"on ResourceDefinition (\w+)", str(error))
        where = f"resource {resource.group(1)} could not start: " if resource else where
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    if where:
        code, lines = explain(error)
        return code, [where + line for line in lines]
    if isinstance(error, CommandError):
        return error.exit_code, [error.message]
    if isinstance(error, RequestError | SettingsError):
        return EXIT_USAGE, list(error.problems)
    if isinstance(error, sa.exc.ArgumentError):
        return EXIT_USAGE, [f"{_catalog_variable()}: {_first_line(error)}"]
    if isinstance(error, sa.exc.DBAPIError | sa.exc.OperationalError):
        # The driver's own words are the cause ("connection refused", "unable to open
        # database file"); which database it was is ours to say.
        cause = _first_line(error.orig) if error.orig is not None else _first_line(error)
        return EXIT_FAILED, [f"catalog database {_catalog_label()}: {cause}"]
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return EXIT_FAILED, [f"{error.strerror or type(error).__name__}{where}"]
    return EXIT_FAILED, [f"{type(error).__name__}: {_first_line(error)} (--debug shows where)"]


def run_command(command: Callable[[], int], *, debug: Callable[[], bool]) -> int:
    """Run `command`; whatever it raises becomes `error: ...` lines on stderr and an exit code
    (and, when `debug()` says so by then, the traceback before them)."""
    try:
        return command()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _say(["interrupted"])
        return EXIT_INTERRUPTED
    except Exception as error:
        if debug():
            traceback.print_exc(file=sys.stderr)
        code, lines = explain(error)
        _say(lines)
        return code


def _say(lines: Iterable[str]) -> None:
    try:
        for line in lines:
            print(f"error: {one_line(line)}", file=sys.stderr, flush=True)
    except BrokenPipeError:
        pass


def _silence_stdout() -> None:
    # Python flushes stdout again at exit and would complain about the closed pipe there too.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a real file descriptor (tests capture stdout): nothing to flush at exit


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # SQLAlchemy appends "(Background on this error at: https://sqlalche.me/...)".
    text = re.sub(r"\s*\(Background on this error at:[^)]*\)", "", text)
    first = text.splitlines()[0] if text else type(error).__name__
    return first.strip()


def _catalog_variable() -> str:
    from epochpod_assets.settings import is_set

    return "EPOCHPOD_DATABASE_URL" if is_set("EPOCHPOD_DATABASE_URL") else "EPOCHPOD_HOME"


def _catalog_label() -> str:
    try:
        from epochpod_assets.cli.common import catalog_label

        return catalog_label()
    except Exception:
        return f"({_catalog_variable()})"
