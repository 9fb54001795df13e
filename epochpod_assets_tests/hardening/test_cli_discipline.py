"""The command line's manners: text shown as typed, every option described, the catalog in use
named when it is new or empty, the words about `target_minutes` the same everywhere."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from epochpod_assets import cli, enqueue, settings
from epochpod_assets.requests import RequestError, parse_request
from epochpod_assets_tests.support.bad_requests import INTERVIEW

README = Path(__file__).resolve().parents[2] / "README.md"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_titles_are_shown_as_typed_never_as_markup(capsys: pytest.CaptureFixture[str]) -> None:
    enqueue({**INTERVIEW, "guest_name": "Ada [/]"})
    enqueue({**INTERVIEW, "guest_name": "[b]Bold[/b] [link=http://x]y[/link]"})
    code, out, err = run(["status"], capsys)
    assert code == 0, err
    assert "Ada [/]" in out
    assert "[b]Bold[/b] [link=http://x]y[/link]" in out


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_every_command_and_option_is_described() -> None:
    undescribed = []
    for parser in parsers(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        undescribed.append(f"{parser.prog} {choice.dest}")
            elif not action.help or action.help == argparse.SUPPRESS:
                undescribed.append(
                    f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
                )
    assert undescribed == []


def test_target_minutes_is_1_to_60_in_the_readme_the_help_and_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from epochpod_assets.formats import registry

    assert "`target_minutes`: 1 to 60 for every format" in README.read_text()
    assert len(registry.formats()) >= 3
    for fmt in registry.formats():
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["enqueue", fmt.name, "--help"])
        assert re.search(r"1 to 60", " ".join(capsys.readouterr().out.split())), fmt.name
        request = {**fmt.demo_request(), "format": fmt.name}
        if "rounds" in request:
            request["rounds"] = 1  # a debate's rounds must fit in one minute too
        for minutes in (1, 60):
            parse_request({**request, "target_minutes": minutes})
        for minutes in (0.99, 60.01, True):
            with pytest.raises(RequestError, match="target_minutes"):
                parse_request({**request, "target_minutes": minutes})


def test_status_from_another_folder_names_the_catalog_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue(INTERVIEW)  # the catalog the user meant, under the test's EPOCHPOD_HOME
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("EPOCHPOD_HOME")
    code, out, err = run(["status"], capsys)
    assert code == 0 and out == ""
    assert f"no catalog at {elsewhere / '.epochpod' / 'catalog.db'}" in err
    assert list(elsewhere.iterdir()) == []
    code, out, err = run(["status", "--json"], capsys)
    assert code == 0 and out.strip() == "[]" and list(elsewhere.iterdir()) == []


def test_a_new_or_empty_catalog_is_named(
    epochpod_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["migrate"], capsys)
    assert code == 0 and f"new catalog at {epochpod_home / 'catalog.db'}" in err
    code, _, err = run(["status"], capsys)
    assert code == 0 and f"catalog {epochpod_home / 'catalog.db'} has no episodes yet" in err
    code, out, err = run(["enqueue", "interview", "--guest", "Ada", "--topic", "t"], capsys)
    assert code == 0 and out.startswith("ep-") and "new catalog" not in err


def test_debug_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["status", "--limit", "0", "--debug"], capsys)
    assert code == 2
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_an_unexpected_error_is_one_line_with_its_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("the disk caught fire\nsecond line")

    monkeypatch.setattr(settings, "ensure_folder", broken)
    code, _, err = run(["enqueue", "interview", "--guest", "Ada", "--topic", "t"], capsys)
    assert code == 1
    assert err == "error: RuntimeError: the disk caught fire (--debug shows where)\n"


def test_text_that_never_passed_validation_cannot_drive_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A title and a failure reason written straight into the catalog (by the web app, or a
    provider's error text) are shown with their control characters escaped."""
    import sqlalchemy as sa

    from epochpod_assets.catalog.schema import episodes
    from epochpod_assets.intake import open_catalog

    db = open_catalog()
    episode = enqueue(INTERVIEW, db)
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(episodes)
            .where(episodes.c.id == episode)
            .values(title="Ada\x1b]0;pwned\x07 \u202eevil", generation_error="boom\x1b[2J")
        )
    for argv in (["status"], ["status", episode]):
        code, out, err = run(argv, capsys)
        assert code == 0, err
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
        assert "\\u001b]0;pwned\\u0007" in out


def test_an_error_dagster_wraps_is_explained_by_the_one_underneath() -> None:
    import dagster as dg

    from epochpod_assets.cli.errors import explain

    for inner, code, line in [
        (ValueError("the region is closed"), 1, "ValueError: the region is closed"),
        (settings.SettingsError(["EPOCHPOD_X='1': expected y"]), 2, "EPOCHPOD_X='1': expected y"),
    ]:
        try:
            try:
                raise inner
            except Exception as error:
                raise dg.DagsterResourceFunctionError(
                    "Error executing resource_fn on ResourceDefinition writer",
                    user_exception=error,
                    original_exc_info=sys.exc_info(),
                ) from error
        except Exception as wrapped:
            assert explain(wrapped)[0] == code
            assert explain(wrapped)[1][0].startswith(f"resource writer could not start: {line}")
