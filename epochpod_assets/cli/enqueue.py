"""`epochpod enqueue`: validate a request and add it to the queue."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Any

from epochpod_assets.cli.common import Subparsers, jsonable, open_catalog
from epochpod_assets.cli.errors import UsageError
from epochpod_assets.editorial import cli as editorial_cli
from epochpod_assets.formats import registry
from epochpod_assets.requests import MAX_PARSED_BYTES, MAX_REQUEST_BYTES, RequestError

# Read past the limit, so the size error can name the field that is too long; never the whole
# of what a path points at (/dev/zero, a log file given by mistake).
READ_CAP = MAX_PARSED_BYTES


def register(commands: Subparsers) -> None:
    enq = commands.add_parser(
        "enqueue",
        help="validate a request and add it to the queue",
        description="Validate a request and add it to the queue as one PENDING episode. "
        "Prints the episode id; a rejected request names each bad field, writes nothing and "
        "exits with code 2.",
    )
    formats = enq.add_subparsers(dest="format", required=True, metavar="FORMAT")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--target-minutes",
        type=float,
        metavar="MINUTES",
        help="length of the episode in minutes, 1 to 60 (default 5)",
    )
    common.add_argument("--user-id", help="the web app's user id, stored with the episode")
    common.add_argument("--json", action="store_true", help="print the new row as JSON")
    common.add_argument(
        "--source",
        action="append",
        metavar="PATH_OR_URL",
        help="a file (.txt, .md, .pdf, .html; read now) or an http(s) URL (fetched by the "
        "research stage) the episode rests on; repeat for more",
    )
    common.add_argument(
        "--say",
        action="append",
        metavar="WORD=RESPELLING[=IPA]",
        help="how the voice should say a name, e.g. 'Cicero=Sisseroh' (IPA, if given, is what "
        "eSpeak is sent); repeat for more; over the built-in and EPOCHPOD_LEXICON entries",
    )
    dated = argparse.ArgumentParser(add_help=False)
    dated.add_argument(
        "--as-of",
        metavar="DATE",
        help="the date the figures speak from: 1921, 44 BC, AD 79, 1921-06-14 (default: the "
        "last year of their life that research finds; adventures: the setting's date)",
    )
    common.add_argument(
        "--review",
        action="store_true",
        default=None,
        help="stop after the script until `epochpod approve` (default: EPOCHPOD_REVIEW_DEFAULT)",
    )

    # Each format brings its own flags (its package's `add_arguments`); --as-of goes to the
    # formats whose request has a date.
    for fmt in registry.formats():
        parents = [common, dated] if "as_of" in fmt.request_model.model_fields else [common]
        fmt.add_arguments(formats.add_parser(fmt.name, parents=parents, help=fmt.summary))

    # Bring your own script (editorial/own_script.py).
    editorial_cli.register_enqueue(formats, common, dated)

    raw = formats.add_parser(
        "json", help="a whole request as JSON, from a file or - for standard input"
    )
    raw.add_argument("source", metavar="FILE", help="a JSON file, or - for standard input")
    raw.add_argument("--json", action="store_true", help="print the new row as JSON")
    raw.add_argument(
        "--source",
        dest="source_more",
        action="append",
        metavar="PATH_OR_URL",
        help="a source added to the request's own `sources`; repeat for more",
    )
    enq.set_defaults(run=cmd_enqueue)


def cmd_enqueue(args: argparse.Namespace) -> int:
    from epochpod_assets.intake import accept_sources, enqueue, media_from_env
    from epochpod_assets.requests import parse_request

    # Validate before the catalog is touched: a rejected request writes nothing, not even
    # an empty catalog. Source files are read (and a missing one rejected) before it too.
    request = parse_request(request_from_args(args))
    if request.sources:
        request = accept_sources(request, media_from_env())
    db = open_catalog(create=True)
    assert db is not None
    episode = enqueue(request, db)
    if args.json:
        row = db.get(episode)
        assert row is not None
        print(json.dumps(jsonable(row), indent=2))
    else:
        print(episode)
    return 0


def request_from_args(args: argparse.Namespace) -> Any:
    if args.format == "json":
        raw = read_request(args.source)
        if not args.source_more:
            return raw
        from epochpod_assets.requests import parse_request

        # Validated as a whole first; the extra sources join the request's own list.
        whole = parse_request(raw).model_dump(mode="json")
        whole["sources"] = whole.get("sources", []) + [{"location": s} for s in args.source_more]
        return whole
    skip = {"command", "format", "json", "run", "debug", "source", "say"}
    given = {
        key: value for key, value in vars(args).items() if key not in skip and value is not None
    }
    request = registry.by_name(args.format).request_fields(given)
    request["format"] = args.format
    if args.source:
        request["sources"] = [{"location": location} for location in args.source]
    if getattr(args, "say", None):
        request["pronunciations"] = dict(_pronunciation(spec) for spec in args.say)
    return request


def read_request(source: str) -> bytes:
    """The bytes of a request file (or stdin for "-"), at most READ_CAP of them; a path that
    is missing, a folder or unreadable is a usage error naming it."""
    if source == "-":
        data: bytes = sys.stdin.buffer.read(READ_CAP + 1)
    else:
        try:
            with open(source, "rb") as handle:
                if stat.S_ISDIR(os.fstat(handle.fileno()).st_mode):
                    raise IsADirectoryError(21, "Is a directory", source)
                data = handle.read(READ_CAP + 1)
        except OSError as error:
            reason = (error.strerror or type(error).__name__).lower()
            raise UsageError(f"FILE: cannot read {source!r}: {reason}") from None
    if len(data) > READ_CAP:
        raise RequestError([f"request: is larger than {MAX_REQUEST_BYTES} bytes"])
    return data


def _pronunciation(spec: str) -> tuple[str, str | dict[str, str]]:
    word, _, rest = spec.partition("=")
    say, _, ipa = rest.partition("=")
    if not word.strip() or not say.strip():
        raise UsageError(f"--say: expected WORD=RESPELLING or WORD=RESPELLING=IPA, got {spec!r}")
    return word, ({"say": say, "ipa": ipa} if ipa else say)
