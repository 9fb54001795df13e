"""What the reliability benchmarks share: the repository on sys.path and throwaway databases."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake server and scenarios live with the tests

from epochpod_assets_tests.support.daemon import extra_database  # noqa: E402

POSTGRES_URL = os.environ.get(
    "EPOCHPOD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def scratch_database(prefix: str = "bench") -> Iterator[str]:
    """A new PostgreSQL database beside EPOCHPOD_TEST_POSTGRES_URL's, dropped afterwards."""
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    with extra_database(
        url.render_as_string(hide_password=False), f"{prefix}_{uuid.uuid4().hex[:10]}"
    ) as scratch:
        yield scratch


def run_scenario(test_file: str, figures: str, env: Mapping[str, str] | None = None) -> int:
    """Runs one reliability test file with pytest (at the sizes `env` sets) and prints the
    lines of its output that start with `figures`, and pytest's verdict; its exit status."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         str(ROOT / "epochpod_assets_tests" / test_file)],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith((figures, "1 passed", "1 failed", "FAILED")):
            print(line)
    if done.returncode:
        print(done.stdout[-4000:])
    return done.returncode
