"""Issue 6, item 1: SIGKILL a run during audio synthesis, re-execute from failure, count what
the resume paid for.

    .venv/bin/python benchmarks/crash_resume.py

Runs `epochpod_assets_tests/scenarios/test_reliability_crash.py` (the scenario has no size to
scale) and prints its figures: segments, speech billed and cached before the kill, and the
resume's speech and chat calls.
"""

from __future__ import annotations

import sys

from _common import run_scenario

if __name__ == "__main__":
    sys.exit(run_scenario("scenarios/test_reliability_crash.py", "crash/resume"))
