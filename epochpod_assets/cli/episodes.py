"""`epochpod retry` and `epochpod cancel`: act on one episode that already exists."""

from __future__ import annotations

import argparse

from epochpod_assets import lifecycle
from epochpod_assets.cli.common import (
    Subparsers,
    bounded_float,
    catalog_label,
    episode_id,
    existing_catalog,
)
from epochpod_assets.cli.errors import CommandError


def register(commands: Subparsers) -> None:
    retry = commands.add_parser(
        "retry",
        help="queue a FAILED, CANCELLED or COMPLETED episode again",
        description="Queue an ended episode again under the same id; its next run key has "
        "the next attempt number.",
    )
    retry.add_argument("episode_id", type=episode_id, help="the episode to queue again")
    retry.set_defaults(run=cmd_retry)

    cancel = commands.add_parser(
        "cancel",
        help="stop an episode's run and mark it CANCELLED",
        description="Stop whatever run is working on the episode and leave it CANCELLED.",
    )
    cancel.add_argument("episode_id", type=episode_id, help="the episode to cancel")
    cancel.add_argument(
        "--wait-seconds",
        type=bounded_float(0, 3600),
        default=60.0,
        help="how long to wait for the run to stop, 0 to 3600 (default 60)",
    )
    cancel.set_defaults(run=cmd_cancel)


def cmd_retry(args: argparse.Namespace) -> int:
    from epochpod_assets.status import Stage

    db = existing_catalog()
    row = db.get(args.episode_id)
    if row is None:
        raise CommandError(f"episode_id: no episode {args.episode_id!r} in {catalog_label()}")
    if row["generation_status"] not in (Stage.FAILED, Stage.CANCELLED, Stage.COMPLETED):
        raise CommandError(
            f"episode {args.episode_id} is {row['generation_status']}; only a FAILED, "
            "CANCELLED or COMPLETED episode can be queued again"
        )
    attempt = lifecycle.requeue(db, args.episode_id)
    print(f"{args.episode_id} queued again (attempt {attempt})")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from epochpod_assets.cancel import NotCancellable, cancel_episode
    from epochpod_assets.status import TERMINAL, Stage
    from epochpod_assets.worker import dagster_instance

    db = existing_catalog()
    row = db.get(args.episode_id)
    # Checked before the Dagster instance is opened: a mistyped id writes nothing.
    if row is None:
        raise CommandError(f"episode_id: no episode {args.episode_id!r} in {catalog_label()}")
    if Stage(row["generation_status"]) in TERMINAL:
        raise CommandError(f"episode {args.episode_id} is already {row['generation_status']}")
    try:
        stopped = cancel_episode(
            db, dagster_instance(), args.episode_id, wait_seconds=args.wait_seconds
        )
    except NotCancellable as error:
        raise CommandError(str(error)) from None
    runs = f"; run(s) stopped: {', '.join(stopped)}" if stopped else ""
    print(f"{args.episode_id} cancelled{runs}")
    return 0
