"""Mistakes whose handling depends on the real process: the environment read where a command or
the code location starts, arguments that are not UTF-8, a reader that closes the pipe, standard
input that never ends. Each runs `python -m epochpod_assets.cli` (about a second each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from epochpod_assets import enqueue
from epochpod_assets_tests.hardening.corpus import SECRET
from epochpod_assets_tests.hardening.test_corpus import snapshot
from epochpod_assets_tests.support.bad_requests import INTERVIEW


def epochpod(
    *argv: str | bytes, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "epochpod_assets.cli", *argv],
        env={**os.environ, **(env or {})},
        capture_output=kwargs.pop("capture_output", True),
        timeout=120,
        **kwargs,
    )


def one_line(err: bytes, expect: str) -> None:
    text = err.decode("utf-8", "replace")
    assert text.count("\n") == 1 and text.startswith("error: "), text
    assert expect in text, text
    assert "Traceback" not in text and SECRET not in text


@pytest.mark.parametrize(
    ("command", "env", "expect"),
    [
        (["status"], {"EPOCHPOD_SENSOR_BATCH": "many"}, "EPOCHPOD_SENSOR_BATCH='many': expected"),
        # `run` imports the code location, whose sensors read their schedule at import: the
        # command checks the settings first, so this is one line too.
        (
            ["run"],
            {"EPOCHPOD_SENSOR_INTERVAL_SECONDS": "0"},
            "EPOCHPOD_SENSOR_INTERVAL_SECONDS='0'",
        ),
        (
            ["enqueue", "interview", "--guest", "Ada", "--topic", "t"],
            {"EPOCHPOD_DATABASE_URL": f"mysql://ada:{SECRET}@db/pod"},
            "EPOCHPOD_DATABASE_URL='mysql://ada:***@db/pod': needs the mysql driver",
        ),
        (
            ["status"],
            {"EPOCHPOD_DATABASE_URL": f"postgresql://ada:{SECRET}@127.0.0.1:1/pod"},
            "catalog database postgresql://ada:***@127.0.0.1:1/pod: connection failed",
        ),
    ],
    ids=["status", "run", "enqueue-driver", "unreachable"],
)
def test_a_bad_environment_is_one_line_from_the_real_command(
    command: list[str], env: dict[str, str], expect: str, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    done = epochpod(*command, env=env)
    assert done.returncode == (1 if "unreachable" in expect or "connection" in expect else 2)
    one_line(done.stderr, expect)
    assert snapshot(tmp_path) == before


def test_the_code_location_refuses_bad_settings_naming_the_variable(tmp_path: Path) -> None:
    """What `dagster dev` and the daemon see when they load the code location."""
    done = subprocess.run(
        [sys.executable, "-c", "import epochpod_assets.definitions"],
        env={
            **os.environ,
            "EPOCHPOD_RATE_LIMITS": '{"tts-1": {"rpm": 50, "burst_seconds": 1e999}}',
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("epochpod_assets.settings.SettingsError: EPOCHPOD_RATE_LIMITS="), last
    assert "burst_seconds must be a finite number" in last


def test_an_argument_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    done = epochpod(b"status", b"ep-\xff\xfe")
    assert done.returncode == 2
    one_line(done.stderr, "episode_id: is not valid UTF-8")
    assert snapshot(tmp_path) == before


def test_standard_input_that_never_ends_is_read_only_to_the_limit(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    with open("/dev/zero", "rb") as zero:
        done = epochpod("enqueue", "json", "-", stdin=zero)
    assert done.returncode == 2
    one_line(done.stderr, "request: is larger than 16384 bytes")
    assert snapshot(tmp_path) == before


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """`epochpod status --json | head -1`: the pipe closes before the listing is written."""
    for _ in range(30):
        enqueue(INTERVIEW)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a byte
    try:
        done = epochpod(
            "status",
            "--json",
            "--limit",
            "30",
            stdout=write,
            capture_output=False,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == b""
