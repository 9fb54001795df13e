"""The editorial commands: `epochpod script export|import|rewrite`, `epochpod approve`,
`epochpod reject` and `epochpod enqueue script`.

Each validates first and writes nothing when refused (exit code 2, one line per problem, a
script file's with its line number). Actions that need a run are queued: the daemon's
`episode_edits` sensor, or `epochpod run`, carries them out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from epochpod_assets.cli.common import (
    Subparsers,
    catalog_label,
    episode_id,
    existing_catalog,
    open_catalog,
)
from epochpod_assets.cli.errors import CommandError, UsageError
from epochpod_assets.formats import registry
from epochpod_assets.requests import RequestError

RUN_HINT = "the daemon, or `epochpod run`, carries it out"
# An own or edited script is text a person wrote; far more than this is not a script.
READ_CAP = 1_000_000


def register(commands: Subparsers) -> None:
    """Add `script export|import|rewrite`, `approve` and `reject` to `epochpod`."""
    script = commands.add_parser(
        "script",
        help="export, import or rewrite an episode's script",
        description="An episode's script as a plain text file: export it, import an edited "
        "one (only changed lines are spoken again), or have one line rewritten.",
    )
    steps = script.add_subparsers(dest="script_command", required=True, metavar="STEP")
    export = steps.add_parser("export", help="write the episode's script as a plain text file")
    export.add_argument("episode_id", type=episode_id, help="the episode whose script to write")
    export.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    export.set_defaults(run=cmd_export)
    imported = steps.add_parser(
        "import", help="validate an edited script, store it and re-voice what changed"
    )
    imported.add_argument("episode_id", type=episode_id, help="the episode the script is for")
    imported.add_argument("file", metavar="FILE", help="a plain script file, or - for stdin")
    imported.set_defaults(run=cmd_import)
    rewrite = steps.add_parser("rewrite", help="have the writer write one line again")
    rewrite.add_argument("episode_id", type=episode_id, help="the episode whose line to rewrite")
    rewrite.add_argument("line", type=int, metavar="LINE", help="its line number in the export")
    rewrite.add_argument("--note", required=True, help="what to change")
    rewrite.set_defaults(run=cmd_rewrite)

    approve = commands.add_parser(
        "approve", help="approve a script awaiting review: its audio follows"
    )
    approve.add_argument("episode_id", type=episode_id, help="the episode to approve")
    approve.set_defaults(run=cmd_approve)
    reject = commands.add_parser(
        "reject", help="send a script awaiting review back to the writer with a note"
    )
    reject.add_argument("episode_id", type=episode_id, help="the episode to send back")
    reject.add_argument("--note", required=True, help="what the writer should change")
    reject.set_defaults(run=cmd_reject)


def register_enqueue(
    formats: Any, common: argparse.ArgumentParser, dated: argparse.ArgumentParser
) -> None:
    """`epochpod enqueue script FILE --format ...`: bring your own script."""
    own = formats.add_parser(
        "script",
        parents=[common, dated],
        help="voice your own script (plain format or podcastfy)",
    )
    own.add_argument("file", metavar="FILE", help="the script, or - for stdin")
    own.add_argument(
        "--format",
        dest="script_format",
        required=True,
        choices=registry.names(),
        help="which kind of episode the script is",
    )
    own.add_argument("--title", help="instead of the file's '# Title' line")
    own.add_argument(
        "--voice",
        action="append",
        default=[],
        metavar="NAME=VOICE",
        help="a speaker's voice (repeat); also `<!-- voice: NAME = VOICE -->` in the file",
    )
    own.set_defaults(run=cmd_enqueue_script)


@contextmanager
def _refusals() -> Iterator[None]:
    """An editorial refusal is a validation error: one line per problem, exit 2. An id no
    episode has is exit 1, as everywhere else."""
    from epochpod_assets.editorial.actions import EditError, UnknownEpisode

    try:
        yield
    except UnknownEpisode as error:
        raise CommandError(f"{error} in {catalog_label()}") from None
    except EditError as error:
        raise RequestError(error.problems) from None


def _read(source: str) -> str:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(READ_CAP + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(READ_CAP + 1)
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        raise UsageError(f"FILE: cannot read {source!r}: {reason}") from None
    if len(data) > READ_CAP:
        raise UsageError(f"FILE: {source!r} is larger than {READ_CAP} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"FILE: {source!r} is not UTF-8 text ({error.reason})") from None


def _with_store(do: Callable[[Any], Any]) -> Any:
    from epochpod_assets.editorial import actions

    with _refusals(), actions.media_from_env() as store:
        return do(store)


def cmd_export(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions

    db = existing_catalog()
    text: str = _with_store(lambda store: actions.export(db, store, args.episode_id))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions

    text = _read(args.file)
    db = existing_catalog()
    done = _with_store(lambda store: actions.import_script(db, store, args.episode_id, text))
    then = "stored; it waits for review" if done.review else "re-voicing queued"
    print(
        f"{args.episode_id}: script imported ({done.changed_lines} changed line(s)), {then} "
        f"(edit {done.edit_id}; {RUN_HINT})"
    )
    return 0


def cmd_rewrite(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions

    db = existing_catalog()
    edit = _with_store(
        lambda store: actions.rewrite_line(db, store, args.episode_id, args.line, args.note)
    )
    print(f"{args.episode_id}: rewrite of line {args.line} queued (edit {edit}; {RUN_HINT})")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions

    db = existing_catalog()
    with _refusals():
        edit = actions.approve(db, args.episode_id)
    print(f"{args.episode_id}: approved; audio queued (edit {edit}; {RUN_HINT})")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions

    db = existing_catalog()
    with _refusals():
        edit = actions.reject(db, args.episode_id, args.note)
    print(f"{args.episode_id}: rejected; the script will be written again (edit {edit})")
    return 0


def cmd_enqueue_script(args: argparse.Namespace) -> int:
    from epochpod_assets.editorial import actions, own_script
    from epochpod_assets.intake import enqueue

    if args.target_minutes is not None:
        raise UsageError("target_minutes: an own script is as long as it is")
    if getattr(args, "source", None):
        raise UsageError("source: an own script is voiced as written; it takes no sources")
    text = _read(args.file)
    voices: dict[str, str] = {}
    for spec in args.voice:
        name, sep, voice = spec.rpartition("=")
        if not sep or not name.strip() or not voice.strip():
            raise UsageError(f"voice: expected NAME=VOICE, got {spec!r}")
        voices[name.strip()] = voice.strip()
    extra: dict[str, Any] = {
        key: value
        for key, value in (
            ("user_id", args.user_id),
            ("review", args.review),
            ("as_of", getattr(args, "as_of", None)),
        )
        if value is not None
    }
    with _refusals():
        request, digest = own_script.build_request(
            text, args.script_format, title=args.title, voices=voices, extra=extra
        )
    db = open_catalog(create=True)
    assert db is not None
    with actions.media_from_env() as store:
        own_script.store_file(store, text, digest)
    print(enqueue(request, db))
    return 0
