"""Issue 6, item 1: SIGKILL a run during audio synthesis, re-execute from failure, count what
the resume paid for.

    .venv/bin/python benchmarks/crash_resume.py

Runs `epochpod_assets_tests/test_reliability_crash.py` (the scenario has no size to scale) and
prints its figures: segments, speech billed and cached before the kill, and the resume's speech
and chat calls.
"""

from __future__ import annotations

import subprocess
import sys

from _common import ROOT


def main() -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            str(ROOT / "epochpod_assets_tests" / "test_reliability_crash.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith(("crash/resume", "1 passed", "1 failed", "FAILED")):
            print(line)
    if done.returncode:
        print(done.stdout[-4000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
