"""Sources and dates on requests: every way in takes them, files are read at enqueue and stored
content-addressed, and a bad one is one error naming the field, with nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from epochpod_assets.cli import main
from epochpod_assets.defs.resources import MediaResource
from epochpod_assets.history.sources import source_key
from epochpod_assets.intake import enqueue, open_catalog
from epochpod_assets.requests import RequestError, parse_request

SOURCE = (
    "# Einstein in 1921\n\nIn April 1921 Albert Einstein visited New York for the first time.\n"
)


def test_as_of_is_a_historical_date_in_every_form() -> None:
    interview = parse_request(
        {"format": "interview", "guest_name": "Cicero", "topic": "the republic", "as_of": "44 BC"}
    )
    assert interview.as_of is not None and interview.as_of.year == -44
    assert interview.model_dump(mode="json")["as_of"] == "44 BC"
    debate = parse_request(
        {
            "format": "debate",
            "topic": "trade",
            "as_of": "1846",
            "participants": [
                {"name": "Adam Smith", "position": "free trade", "as_of": "1776"},
                {"name": "Friedrich List", "position": "protection"},
            ],
            "rounds": 1,
        }
    )
    assert debate.as_of is not None and debate.as_of.year == 1846
    assert [p.as_of.year if p.as_of else None for p in debate.participants] == [1776, None]


def test_an_adventure_takes_its_date_from_the_setting_or_says_it_has_none() -> None:
    story = parse_request({"format": "adventure", "setting": "Rome, 44 BC"})
    assert story.as_of is not None and story.as_of.display() == "44 BC"
    given = parse_request({"format": "adventure", "setting": "Paris", "as_of": "1789"})
    assert given.as_of is not None and given.as_of.year == 1789
    with pytest.raises(RequestError) as error:
        parse_request({"format": "adventure", "setting": "Paris"})
    assert error.value.problems == [
        "setting: no date found in 'Paris': add one, e.g. 'Rome, 44 BC' or "
        "'Paris, 14 July 1789', or give as_of"
    ]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"location": "ftp://example.org/a.txt"}, "sources.0.location: "),
        ({"location": "a.txt", "year": 0}, "year: there is no year 0"),
        ({"location": "a.txt", "colour": "red"}, "sources.0.colour: is not a known field"),
        ({"location": "a.txt", "sha256": "abc"}, "sha256: must be 64 lowercase hex digits"),
    ],
)
def test_a_bad_source_is_named(source: dict[str, object], problem: str) -> None:
    with pytest.raises(RequestError) as error:
        parse_request({"format": "interview", "guest_name": "A", "topic": "t", "sources": [source]})
    assert len(error.value.problems) == 1 and problem in error.value.problems[0]


def test_enqueue_reads_a_source_file_and_stores_its_text_by_hash(tmp_path: Path) -> None:
    path = tmp_path / "einstein.md"
    path.write_text(SOURCE)
    db = open_catalog()
    episode_id = enqueue(
        {
            "format": "interview",
            "guest_name": "Albert Einstein",
            "topic": "relativity",
            "sources": [{"location": str(path)}, {"location": "https://example.org/page"}],
        },
        db,
    )
    row = db.get(episode_id)
    assert row is not None
    stored, url = row["request"]["sources"]
    text = MediaResource().get().get(source_key(stored["sha256"])).decode()
    assert "visited New York" in text
    assert hashlib.sha256(text.encode()).hexdigest() == stored["sha256"]
    assert stored["title"] == "Einstein in 1921"  # the document's own heading
    assert url == {
        "location": "https://example.org/page",
        "title": None,
        "author": None,
        "year": None,
        "sha256": None,  # fetched by the research stage, not at enqueue
    }


def test_cli_sources_and_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("einstein.md").write_text(SOURCE)
    code = main(
        [
            "enqueue", "debate", "--topic", "relativity", "--as-of", "1921",
            "--participant", "Albert Einstein=space and time are one",
            "--participant", "Henri Bergson=lived time is not the physicist's==1922",
            "--rounds", "1", "--source", "einstein.md", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    row = json.loads(capsys.readouterr().out)
    request = row["request"]
    assert request["as_of"] == "1921"
    assert [p["as_of"] for p in request["participants"]] == [None, "1922"]
    assert request["sources"][0]["location"] == "einstein.md" and request["sources"][0]["sha256"]
    assert main(["status", row["id"]]) == 0
    shown = capsys.readouterr().out
    assert "1 requested, not researched yet" in shown and "Einstein in 1921" in shown


def test_a_missing_source_file_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = Path(str(tmp_path / "epochpod"))
    code = main(
        ["enqueue", "interview", "--guest", "Ada Lovelace", "--topic", "engines",
         "--source", "notes.txt"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "sources.0.location:" in err and "notes.txt: no such file" in err
    assert not (home / "catalog.db").exists() and not (home / "media").exists()


def test_the_launchpad_reads_source_files_too(tmp_path: Path) -> None:
    import dagster as dg

    from epochpod_assets.definitions import defs

    path = tmp_path / "einstein.md"
    path.write_text(SOURCE)
    fields = {"guest_name": "Albert Einstein", "topic": "relativity", "as_of": "1921"}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("request_episode").execute_in_process(
            run_config={"interview": {**fields, "sources": [{"location": str(path)}]}},
            instance=instance,
        )
        missing = defs.resolve_job_def("request_episode").execute_in_process(
            run_config={"interview": {**fields, "sources": [{"location": "/nowhere/a.txt"}]}},
            instance=instance,
            raise_on_error=False,
        )
    assert result.success
    (row,) = open_catalog().list(10)
    assert row["request"]["sources"][0]["sha256"]
    assert not missing.success
    failure = missing.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "sources.0.location: /nowhere/a.txt: no such file" in str(
        failure.message
    )
