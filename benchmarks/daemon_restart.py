"""Issue 6, item 5 at full size: kill the daemon with runs running and queued, start it again.

    EPOCHPOD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/daemon_restart.py [--before 20] [--while-down 10]

Runs `epochpod_assets_tests/scenarios/test_reliability_daemon.py` (CI runs it at 5 + 2 episodes)
with `--before` requests enqueued before the SIGKILL and `--while-down` more while no daemon is up,
and prints its figures: what was running and queued at the kill, episodes published, runs that
did the work, never-started runs relaunched, and the time from the first enqueue to the last
episode's end.
"""

from __future__ import annotations

import argparse
import sys

from _common import run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=int, default=20)
    parser.add_argument("--while-down", type=int, default=10)
    args = parser.parse_args()
    sizes = {
        "EPOCHPOD_RELIABILITY_RESTART_BEFORE": str(args.before),
        "EPOCHPOD_RELIABILITY_RESTART_WHILE_DOWN": str(args.while_down),
    }
    return run_scenario("scenarios/test_reliability_daemon.py", "daemon restart", sizes)


if __name__ == "__main__":
    sys.exit(main())
