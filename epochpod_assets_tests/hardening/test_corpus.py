"""Runs the hostile-input corpus (`corpus.py`): every mistake gets its exit code and one line
naming the field, argument or variable; no traceback, no secret, and nothing written.

In process (`cli.main(argv)`) wherever the process boundary does not matter, so the whole
corpus runs in seconds; `test_process_boundary.py` has the cases that need a real process.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from epochpod_assets import cli, enqueue, settings
from epochpod_assets.catalog import Catalog
from epochpod_assets.defs import jobs
from epochpod_assets.defs.resources import CatalogResource, MediaResource
from epochpod_assets.requests import RequestError
from epochpod_assets_tests.hardening.corpus import (
    API,
    CLI,
    ENV,
    ENV_EXPECT,
    JSON,
    LAUNCH,
    SECRET,
    TYPED_MISTAKES,
    Case,
)
from epochpod_assets_tests.support.bad_requests import INTERVIEW

# Files the cases point at, made in the test's folder before the "before" snapshot.
FILES: dict[str, bytes] = {
    "a_file": b"not a folder\n",
    "empty.json": b"",
    "prose.json": b"Ada Lovelace on the analytical engine, please\n",
    "list.json": b'[{"format": "interview"}]',
    "big_topic.json": json.dumps({**INTERVIEW, "topic": "t" * 20_000}).encode(),
    "latin1.json": json.dumps({**INTERVIEW, "guest_name": "Émilie"}, ensure_ascii=False).encode(
        "latin-1"
    ),
}


# -- what "nothing written" means ------------------------------------------------------------


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted(map(tuple, conn.execute(table.select())), key=repr)
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def snapshot(root: Path) -> tuple[dict[str, tuple[int, int]], dict[str, Any]]:
    """Every file under `root` (size and modification time) and every row of the catalog.
    The catalog's own files are compared by their rows: SQLite may touch them to read."""
    files = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_file() and ".db" not in path.name:
            stat = path.stat()
            files[name] = (stat.st_size, stat.st_mtime_ns)
        elif path.is_dir():
            files[name + "/"] = (0, 0)
    catalog = root / "epochpod" / "catalog.db"
    rows = _rows(f"sqlite:///{catalog}") if catalog.exists() else {}
    return files, rows


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The test's folder as the working directory, with the files the cases name."""
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_dir.txt").mkdir()
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield {"tmp": str(tmp_path), "pending": "", "failed": ""}


def make_catalog(world: dict[str, str]) -> None:
    """The "catalog" state: one PENDING and one FAILED episode."""
    db = Catalog(settings.database_url())
    db.migrate()
    world["pending"] = enqueue(INTERVIEW, db)
    world["failed"] = enqueue(INTERVIEW, db)
    db.fail(world["failed"], "outline failed: the writer refused")
    db.engine.dispose()


def fill(text: str, world: dict[str, str]) -> str:
    return text.format(**world) if "{" in text and "}" in text else text


def fill_argv(argv: tuple[str, ...], world: dict[str, str]) -> list[str]:
    # Only our placeholders: arguments may hold braces of their own ("[red]x[/]", JSON).
    out = []
    for arg in argv:
        for key, value in world.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


def run_cli(
    argv: list[str],
    stdin: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    capsys.readouterr()
    code = cli.main(argv)  # an exception escaping main is a crash, and fails the test
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_clear_line(err: str, out: str, expect: str, lines: int = 1) -> None:
    text = err.strip().splitlines()
    assert len(text) == lines, err
    assert all(line.startswith("error: ") for line in text), err
    assert expect in err, err
    assert "Traceback" not in err + out
    assert SECRET not in err + out


# -- the corpus --------------------------------------------------------------------------------


def _replace_all(text: str, world: dict[str, str]) -> str:
    for key, value in world.items():
        text = text.replace("{" + key + "}", value)
    return text


@pytest.mark.parametrize("case", CLI + ENV, ids=[c.id for c in CLI + ENV])
def test_a_mistake_on_the_command_line_is_one_line_and_writes_nothing(
    case: Case,
    world: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if case.state == "catalog":
        make_catalog(world)
    for name, value in case.env.items():
        monkeypatch.setenv(name, _replace_all(value, world))
    before = snapshot(tmp_path)

    code, out, err = run_cli(fill_argv(case.argv, world), case.stdin, monkeypatch, capsys)

    assert code == case.code, err
    assert_one_clear_line(err, out, _replace_all(case.expect, world), case.lines)
    if case.id in ENV_EXPECT:
        assert _replace_all(ENV_EXPECT[case.id], world) in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "request_", "expect"), JSON, ids=[c[0] for c in JSON])
def test_a_bad_json_request_is_refused_the_same_three_ways(
    name: str,
    request_: Any,
    expect: str,
    world: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = json.dumps(request_).encode()
    (tmp_path / "request.json").write_bytes(payload)
    before = snapshot(tmp_path)

    # The Python API: one RequestError, one line, naming the field.
    with pytest.raises(RequestError) as raised:
        enqueue(request_)
    assert expect in str(raised.value) and "\n" not in str(raised.value)
    # The command line, from standard input and from a file.
    for argv, stdin in (
        (["enqueue", "json", "-"], payload),
        (["enqueue", "json", str(tmp_path / "request.json")], b""),
    ):
        code, out, err = run_cli(argv, stdin, monkeypatch, capsys)
        assert code == cli.EXIT_BAD_REQUEST, err
        assert_one_clear_line(err, out, expect)
    assert snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def failure_description(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the job failed before its op ran"
    data = failures[0].step_failure_data
    # A dg.Failure is the clear error; any other exception is a crash with a traceback.
    assert data.user_failure_data is not None, data.error.message if data.error else ""
    return data.user_failure_data.description or ""


@pytest.mark.parametrize(("name", "config", "expect"), LAUNCH, ids=[c[0] for c in LAUNCH])
def test_a_bad_order_from_the_launchpad_fails_with_the_field_and_writes_nothing(
    name: str,
    config: dict[str, Any],
    expect: str,
    world: dict[str, str],
    tmp_path: Path,
    dagster_instance: dg.DagsterInstance,
) -> None:
    before = snapshot(tmp_path)
    runs = len(dagster_instance.get_runs())
    # Refused before any run, as the launchpad shows it: one line naming the field.
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        jobs.request_episode.execute_in_process(
            run_config=config,
            instance=dagster_instance,
            resources={"catalog": CatalogResource(), "media": MediaResource()},
        )
    problems = [error.message for error in refused.value.errors]
    assert len(problems) == 1 and expect in problems[0], problems
    assert "Traceback" not in problems[0]
    assert len(dagster_instance.get_runs()) == runs, "no run was created"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "value", "expect"), API, ids=[c[0] for c in API])
def test_a_value_only_python_can_pass_is_refused_naming_the_field(
    name: str, value: Any, expect: str, world: dict[str, str], tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    with pytest.raises(RequestError) as raised:
        enqueue(value)
    assert expect in str(raised.value) and "\n" not in str(raised.value)
    assert snapshot(tmp_path) == before


# -- the Python API and the launchpad under bad settings ----------------------------------------

API_SETTINGS = [
    ("EPOCHPOD_HOME", "{tmp}/a_file", "EPOCHPOD_HOME='{tmp}/a_file': is a file"),
    ("EPOCHPOD_HOME", "{tmp}/a_file/x", "EPOCHPOD_HOME='{tmp}/a_file/x': cannot create"),
    ("EPOCHPOD_DATABASE_URL", f"mysql://a:{SECRET}@h/db", "EPOCHPOD_DATABASE_URL='mysql://a:***"),
    ("EPOCHPOD_STORAGE_URL", "s3:/bucket", "EPOCHPOD_STORAGE_URL='s3:/bucket': looks like"),
    ("EPOCHPOD_RATE_LIMITS", '{"m": {"burst_seconds": 1e999}}', "EPOCHPOD_RATE_LIMITS="),
    ("EPOCHPOD_WRITER", "openai", "EPOCHPOD_WRITER='openai': needs OPENAI_API_KEY"),
]


@pytest.mark.parametrize(("name", "value", "expect"), API_SETTINGS)
def test_the_python_api_names_a_bad_variable_and_writes_nothing(
    name: str,
    value: str,
    expect: str,
    world: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(name, _replace_all(value, world))
    before = snapshot(tmp_path)
    with pytest.raises(settings.SettingsError) as raised:
        enqueue(INTERVIEW)
    message = str(raised.value)
    assert _replace_all(expect, world) in message and "\n" not in message
    assert SECRET not in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "value", "expect"), API_SETTINGS[:3])
def test_the_launchpad_names_a_bad_variable_and_writes_nothing(
    name: str,
    value: str,
    expect: str,
    world: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dagster_instance: dg.DagsterInstance,
) -> None:
    monkeypatch.setenv(name, _replace_all(value, world))
    before = snapshot(tmp_path)
    result = jobs.request_episode.execute_in_process(
        run_config={"request_json": json.dumps(INTERVIEW)},
        instance=dagster_instance,
        resources={"catalog": CatalogResource(), "media": MediaResource()},
        raise_on_error=False,
    )
    assert not result.success
    description = failure_description(result)
    assert description.startswith("invalid settings:\n"), description
    assert _replace_all(expect, world) in description and SECRET not in description
    assert snapshot(tmp_path) == before


def test_the_corpus_is_large_and_every_name_is_unique() -> None:
    cases = CLI + ENV
    assert len({c.id for c in cases}) == len(cases)
    assert len({c[0] for c in JSON}) == len(JSON)
    total = len(cases) + len(JSON) + len(LAUNCH) + len(API) + 2 * len(API_SETTINGS)
    assert total >= 150, total
    # Every typed setting (a number, true/false, a choice) has a mistake in the corpus, found
    # from the settings themselves, so a variable added later is covered at once.
    typed = {v for v, _, _ in TYPED_MISTAKES}
    assert {"EPOCHPOD_SENSOR_BATCH", "EPOCHPOD_OPENAI_TIMEOUT", "EPOCHPOD_WRITER"} <= typed
    assert {"EPOCHPOD_AUDIO_BEDS", "EPOCHPOD_FEED_EXPLICIT"} <= typed
    assert os.environ.get("EPOCHPOD_HOME")  # the conftest's isolated home is in force
