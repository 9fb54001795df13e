"""The one settings layer: every variable the README documents is read and validated by
`epochpod_assets.settings`, and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from epochpod_assets import settings

README = Path(__file__).resolve().parents[2] / "README.md"
# Read by others, not by us: boto3's own credentials and Dagster's production instance.
NOT_OURS = re.compile(r"^(AWS_(ACCESS|SECRET|SESSION|PROFILE)|DAGSTER_PG_)")
# Settings of the test suite itself, not of the product.
TEST_ONLY = ("EPOCHPOD_TEST_", "EPOCHPOD_REQUIRE_POSTGRES", "EPOCHPOD_RELIABILITY_")


def documented() -> set[str]:
    """Every variable named in the README, with `EPOCHPOD_FEED_TITLE`, `_LINK` shorthands
    expanded."""
    names: set[str] = set()
    for line in README.read_text().splitlines():
        full = ""
        for name in re.findall(r"`(_?[A-Z][A-Z0-9_]+)`", line):
            if name.startswith("_") and full:
                name = full.rsplit("_", 1)[0] + name
            elif "_" in name:
                full = name
            if name.startswith(("EPOCHPOD_", "OPENAI_", "AWS_", "DAGSTER_")):
                names.add(name)
    return {n for n in names if not NOT_OURS.match(n) and not n.startswith(TEST_ONLY)}


def test_the_readme_and_the_settings_name_the_same_variables() -> None:
    ours = set(settings.Settings.variables())
    assert documented() - ours == set(), "documented but never read by settings"
    assert ours - documented() == set(), "read by settings but not in the README"


def test_the_defaults_need_no_environment(epochpod_home: Path) -> None:
    config = settings.reload()
    assert config.home == epochpod_home
    assert config.catalog_url == f"sqlite:///{epochpod_home / 'catalog.db'}"
    assert config.media_root == epochpod_home / "media"
    assert config.writer == "auto" and config.sensor_batch == 50


def test_a_changed_environment_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = settings.load()
    assert settings.load() is first  # read once
    monkeypatch.setenv("EPOCHPOD_SENSOR_BATCH", "7")
    assert settings.load().sensor_batch == 7


@pytest.mark.parametrize(
    ("name", "value", "expect"),
    [
        ("EPOCHPOD_SENSOR_BATCH", "abc", "EPOCHPOD_SENSOR_BATCH='abc': expected a whole number"),
        ("EPOCHPOD_OPENAI_TIMEOUT", "inf", "EPOCHPOD_OPENAI_TIMEOUT='inf': expected a number"),
        ("EPOCHPOD_WRITER", "gpt", "EPOCHPOD_WRITER='gpt': expected auto, offline or openai"),
        (
            "EPOCHPOD_DATABASE_URL",
            "mysql://ada:hunter22@db/pod",
            "EPOCHPOD_DATABASE_URL='mysql://ada:***@db/pod': needs the mysql driver",
        ),
        ("AWS_ENDPOINT_URL", "minio:9000", "AWS_ENDPOINT_URL='minio:9000': is not a URL"),
        (
            "EPOCHPOD_FAILURE_WEBHOOK_URL",
            "hooks.example/t0ken",
            "EPOCHPOD_FAILURE_WEBHOOK_URL='***'",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    name: str, value: str, expect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError) as raised:
        settings.load()
    assert [expect in problem for problem in raised.value.problems] == [True]
    assert "\n" not in str(raised.value)
    assert "hunter22" not in str(raised.value) and "t0ken" not in str(raised.value)


def test_no_module_but_settings_reads_the_environment() -> None:
    """Settings are read in one place. Allowed elsewhere: setting DAGSTER_HOME for Dagster,
    and the webhook's scan that scrubs every secret-looking value from what it sends."""
    package = Path(settings.__file__).parent
    allowed = {
        ("worker.py", 'os.environ["DAGSTER_HOME"] = str(home)'),
        ("defs/notifications.py", "for name, value in os.environ.items():"),
    }
    reads = []
    for path in sorted(package.rglob("*.py")):
        name = str(path.relative_to(package))
        if name == "settings.py":
            continue
        for line in path.read_text().splitlines():
            if (
                re.search(r"os\.environ|os\.getenv|getenv\(", line)
                and (
                    name,
                    line.strip(),
                )
                not in allowed
            ):
                reads.append(f"{name}: {line.strip()}")
    assert reads == []
