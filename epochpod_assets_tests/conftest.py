"""Shared fixtures: an isolated EPOCHPOD_HOME per test, and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from epochpod_assets.catalog import Catalog
from epochpod_assets.defs import resources

# Settings of the test run itself, not of the product under test.
KEEP_ENV = ("EPOCHPOD_TEST_", "EPOCHPOD_RELIABILITY_", "EPOCHPOD_REQUIRE_POSTGRES")
POSTGRES_URL = os.environ.get(
    "EPOCHPOD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    # Tests tick the queue sensor themselves, in process, until the queue is empty; a tick
    # listening 4 s for a request that never comes would only slow them. Set before any test
    # module imports the sensors (they read it once); the tests of the listening pass their
    # own wait, and a daemon a test starts inherits this unless the test sets its own.
    os.environ.setdefault("EPOCHPOD_SENSOR_WAIT_SECONDS", "0")


@pytest.fixture(autouse=True)
def epochpod_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own catalog, media folder and Dagster home, and no provider keys."""
    home = tmp_path / "epochpod"
    monkeypatch.setenv("EPOCHPOD_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    for name in (
        "EPOCHPOD_DATABASE_URL",
        "EPOCHPOD_MEDIA_DIR",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "EPOCHPOD_LLM_API_KEY",
        "EPOCHPOD_LLM_BASE_URL",
        "EPOCHPOD_TTS_API_KEY",
        "EPOCHPOD_TTS_BASE_URL",
        "EPOCHPOD_TTS_VOICES",
        "EPOCHPOD_TTS_VOICE_MAP",
    ):
        monkeypatch.delenv(name, raising=False)
    resources._catalog.cache_clear()
    yield home
    resources._catalog.cache_clear()


def _admin_engine() -> sa.Engine:
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        if os.environ.get("EPOCHPOD_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but not reachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set EPOCHPOD_TEST_POSTGRES_URL)")
    name = f"epochpod_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        resources._catalog.cache_clear()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, epochpod_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{epochpod_home / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    db = Catalog(catalog_url)
    db.migrate()
    yield db
    db.engine.dispose()
