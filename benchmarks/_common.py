"""What the reliability benchmarks share: the repository on sys.path and throwaway databases."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
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
