"""The `epochpod` command: enqueue requests, work the queue, show status, run the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from epochpod_assets.intake import enqueue, open_catalog
from epochpod_assets.requests import RequestError
from epochpod_assets.status import Stage
from epochpod_assets.voices import VOICES

EXIT_BAD_REQUEST = 2


# --- argument parsing ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="epochpod", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    enq = commands.add_parser("enqueue", help="validate a request and add it to the queue")
    formats = enq.add_subparsers(dest="format", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--target-minutes", type=float)
    common.add_argument("--user-id")
    common.add_argument("--json", action="store_true", help="print the new row as JSON")

    interview = formats.add_parser("interview", parents=[common])
    interview.add_argument("--guest-name", "--guest", dest="guest_name")
    interview.add_argument("--topic")
    interview.add_argument("--angle")
    interview.add_argument("--host-name")
    interview.add_argument("--host-voice", help=f"one of {', '.join(VOICES)}")
    interview.add_argument("--guest-voice")

    debate = formats.add_parser("debate", parents=[common])
    debate.add_argument("--topic")
    debate.add_argument(
        "--participant",
        action="append",
        metavar="NAME=POSITION[=VOICE]",
        help="repeat for each participant (2 to 4)",
    )
    debate.add_argument("--moderator-name")
    debate.add_argument("--moderator-voice")
    debate.add_argument("--rounds", type=int)

    adventure = formats.add_parser("adventure", parents=[common])
    adventure.add_argument("--setting")
    adventure.add_argument("--protagonist")
    adventure.add_argument("--premise")
    adventure.add_argument("--narrator-voice")
    adventure.add_argument("--depth", type=int)
    adventure.add_argument("--choices", type=int)

    raw = formats.add_parser("json", help="a whole request as JSON (a file, or - for stdin)")
    raw.add_argument("source")
    raw.add_argument("--json", action="store_true")

    run = commands.add_parser("run", help="work the queue in the foreground, without the daemon")
    run.add_argument("--watch", action="store_true", help="keep polling for new requests")
    run.add_argument("--poll-seconds", type=float, default=5.0)

    status = commands.add_parser("status", help="list episodes, or show one")
    status.add_argument("episode_id", nargs="?")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)

    retry = commands.add_parser("retry", help="queue a FAILED or CANCELLED episode again")
    retry.add_argument("episode_id")

    cancel = commands.add_parser("cancel", help="stop an episode's run and mark it CANCELLED")
    cancel.add_argument("episode_id")
    cancel.add_argument(
        "--wait-seconds",
        type=float,
        default=60.0,
        help="how long to wait for the run to stop (default 60)",
    )

    commands.add_parser("demo", help="make one episode of each format, end to end")
    commands.add_parser("migrate", help="bring the catalog schema up to date")
    return parser


def _request_from_args(args: argparse.Namespace) -> Any:
    if args.format == "json":
        source = sys.stdin.buffer if args.source == "-" else open(args.source, "rb")  # noqa: SIM115
        with source:
            return source.read()
    skip = {"command", "format", "json", "participant"}
    request: dict[str, Any] = {
        key: value for key, value in vars(args).items() if key not in skip and value is not None
    }
    request["format"] = args.format
    if args.format == "debate" and args.participant:
        request["participants"] = [_participant(p) for p in args.participant]
    return request


def _participant(spec: str) -> dict[str, str]:
    name, _, rest = spec.partition("=")
    position, _, voice = rest.partition("=")
    participant = {"name": name, "position": position}
    if voice:
        participant["voice"] = voice
    return participant


# --- commands --------------------------------------------------------------------------------


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


def cmd_enqueue(args: argparse.Namespace) -> int:
    try:
        episode_id = enqueue(_request_from_args(args))
    except RequestError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    if args.json:
        row = open_catalog().get(episode_id)
        assert row is not None
        print(json.dumps(_jsonable(row), indent=2))
    else:
        print(episode_id)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    db = open_catalog()
    if args.episode_id:
        row = db.get(args.episode_id)
        if row is None:
            print(f"error: no episode {args.episode_id}", file=sys.stderr)
            return 1
        stats = db.stats([row["id"]]).get(row["id"])
        row = _jsonable(row) | {"cost_usd": stats.estimated_usd if stats else 0.0}
        if args.json:
            print(json.dumps(row, indent=2))
        else:
            for key, value in row.items():
                if key != "transcript":
                    print(f"{key:>24}  {value}")
        return 0
    rows = db.list(args.limit)
    if args.json:
        print(json.dumps([_jsonable(r) for r in rows], indent=2))
        return 0
    from epochpod_assets.console import episode_table, render

    render(episode_table(db, rows))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    db = open_catalog()
    row = db.get(args.episode_id)
    if row is None:
        print(f"error: no episode {args.episode_id}", file=sys.stderr)
        return 1
    if row["generation_status"] not in (Stage.FAILED, Stage.CANCELLED, Stage.COMPLETED):
        print(
            f"error: episode {args.episode_id} is {row['generation_status']}; only a FAILED, "
            "CANCELLED or COMPLETED episode can be queued again",
            file=sys.stderr,
        )
        return 1
    attempt = db.requeue(args.episode_id)
    print(f"{args.episode_id} queued again (attempt {attempt})")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from epochpod_assets.cancel import NotCancellable, cancel_episode
    from epochpod_assets.worker import dagster_instance

    try:
        stopped = cancel_episode(
            open_catalog(), dagster_instance(), args.episode_id, wait_seconds=args.wait_seconds
        )
    except NotCancellable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    runs = f"; run(s) stopped: {', '.join(stopped)}" if stopped else ""
    print(f"{args.episode_id} cancelled{runs}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from epochpod_assets.definitions import defs
    from epochpod_assets.worker import dagster_instance, feed_location, work_queue

    open_catalog()  # migrate before the first tick
    report = work_queue(
        defs,
        dagster_instance(),
        watch=args.watch,
        poll_seconds=args.poll_seconds,
        on_run=lambda episode_id, key: print(f"running {episode_id} (run key {key})", flush=True),
        reports=True,
    )
    print(f"{len(report.launched)} run(s), {len(report.failed)} failed")
    if len(report.launched) > len(report.failed):
        print(f"feed: {feed_location(defs)}")
    return 1 if report.failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from epochpod_assets.demo import run_demo

    return run_demo()


def cmd_migrate(args: argparse.Namespace) -> int:
    open_catalog()
    print("catalog schema is up to date")
    return 0


COMMANDS = {
    "enqueue": cmd_enqueue,
    "run": cmd_run,
    "status": cmd_status,
    "retry": cmd_retry,
    "cancel": cmd_cancel,
    "demo": cmd_demo,
    "migrate": cmd_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
