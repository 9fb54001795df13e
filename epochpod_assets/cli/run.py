"""`epochpod run`: work the queue in the foreground, without the Dagster daemon."""

from __future__ import annotations

import argparse

from epochpod_assets.cli.common import Subparsers, bounded_float, note, open_catalog


def register(commands: Subparsers) -> None:
    run = commands.add_parser(
        "run",
        help="work the queue in the foreground, without the daemon",
        description="Pick up queued requests with the real episode_requests sensor and run "
        "them in this process, one after another, until the queue is empty. Prints one line "
        "per run and one per failed episode; Dagster's full logs stay in its instance (make "
        "ui) and are printed here with --debug.",
    )
    run.add_argument("--watch", action="store_true", help="keep polling for new requests")
    run.add_argument(
        "--poll-seconds",
        type=bounded_float(0.1, 3600),
        default=5.0,
        help="with --watch, seconds between polls, 0.1 to 3600 (default 5)",
    )
    run.set_defaults(run=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from epochpod_assets.console import printable
    from epochpod_assets.definitions import defs
    from epochpod_assets.worker import dagster_instance, feed_location, work_queue

    db = open_catalog(create=True)  # migrate before the first tick
    assert db is not None
    instance = dagster_instance()
    report = work_queue(
        defs,
        instance,
        watch=args.watch,
        poll_seconds=args.poll_seconds,
        on_run=lambda episode_id, key: print(f"running {episode_id} (run key {key})", flush=True),
        # Dagster's console log of a failed step is a page of stack trace per episode; the
        # event log keeps all of it, and --debug prints it here.
        log_level="DEBUG" if getattr(args, "debug", False) else "CRITICAL",
        reports=True,
    )
    for run_id in report.failed:
        run = instance.get_run_by_id(run_id)
        episode = run.tags.get("dagster/partition", "?") if run else "?"
        row = db.get(episode)
        reason = (row or {}).get("generation_error") or "the run failed"
        note(printable(f"{episode} FAILED: {' '.join(str(reason).split())} (run {run_id})"))
    print(f"{len(report.launched)} run(s), {len(report.failed)} failed")
    if len(report.launched) > len(report.failed):
        print(f"feed: {feed_location(defs)}")
    return 1 if report.failed else 0
