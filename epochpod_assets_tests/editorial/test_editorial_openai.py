"""Editorial control end to end on the OpenAI providers: the real `openai` client against the
fake server on loopback, the real sensors and runs (`worker.work_queue`), and the server's own
call counts as the measure of what each edit paid for.

    export -> import unchanged     0 speech calls
    one line edited and imported   1 speech call
    `script rewrite` of one line   1 writer call, 1 speech call
    bring your own script          0 writer calls
    review gate                    stops at the script; reject bills only the writer;
                                   approve voices it; from the command line and the UI's jobs
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from epochpod_assets import cli, enqueue
from epochpod_assets.definitions import defs
from epochpod_assets.defs.resources import resources_from_env
from epochpod_assets.editorial.revise import EDIT_TAG
from epochpod_assets.intake import open_catalog
from epochpod_assets.lifecycle import settle_ended_run
from epochpod_assets.status import Stage
from epochpod_assets.worker import work_queue
from epochpod_assets_tests.support.fake_openai import FakeOpenAI, requested_schema_name
from epochpod_assets_tests.support.template_model import template_responder

KEY = "sk-editorial-test-3f1c"
NEW_LINE = "Welcome back."
INTERVIEW = {
    "format": "interview",
    "guest_name": "Ada Lovelace",
    "topic": "the analytical engine",
    "target_minutes": 1,
}


def responder(body: dict[str, Any]) -> str:
    """A good model: the format's template for outlines and scripts, a new line when asked
    for one."""
    if requested_schema_name(body) == "RewrittenLine":
        return json.dumps({"text": NEW_LINE})
    return template_responder(body)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, responder=responder) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("EPOCHPOD_OPENAI_TIMEOUT", "5")
        for name in ("EPOCHPOD_WRITER", "EPOCHPOD_VOICE", "EPOCHPOD_REVIEW_DEFAULT"):
            monkeypatch.delenv(name, raising=False)
        yield fake


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def location(server: FakeOpenAI) -> dg.Definitions:
    """The code location with resources from this test's environment (the fake server)."""
    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        sensors=defs.sensors,
        resources={**(defs.resources or {}), **resources_from_env()},
    )


def work(location: dg.Definitions, instance: dg.DagsterInstance) -> int:
    report = work_queue(location, instance, log_level="ERROR")
    assert not report.failed
    return len(report.launched)


def epochpod(*args: str) -> int:
    return cli.main(list(args))


def status(episode_id: str) -> tuple[str, int]:
    row = open_catalog().get(episode_id)
    assert row is not None
    return row["generation_status"], row["generation_progress"]


def published(location: dg.Definitions, instance: dg.DagsterInstance, request: Any) -> str:
    episode_id = enqueue(request, open_catalog())
    assert work(location, instance) == 1
    assert status(episode_id) == ("COMPLETED", 100)
    return episode_id


def export(episode_id: str, path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert epochpod("script", "export", episode_id, "-o", str(path)) == 0
    capsys.readouterr()
    return path.read_text()


# -- export / import -------------------------------------------------------------------------


def test_import_respeaks_only_changed_lines(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    episode_id = published(location, instance, INTERVIEW)
    text = export(episode_id, tmp_path / "script.txt", capsys)
    assert "# " in text and "## Introduction" in text and "Ada Lovelace: " in text

    server.reset()
    assert epochpod("script", "import", episode_id, str(tmp_path / "script.txt")) == 0
    assert work(location, instance) == 1
    unchanged = server.stats()
    assert (unchanged.chat_billed, unchanged.speech_billed) == (0, 0)
    assert status(episode_id) == ("COMPLETED", 100)

    # One line edited: exactly one new segment is spoken.
    edited = text.replace(
        "Ada Lovelace: Thank you. It is a pleasure to be asked.",
        "Ada Lovelace: Thank you. I have waited a long time to say this.",
    )
    assert edited != text
    (tmp_path / "edited.txt").write_text(edited)
    server.reset()
    assert epochpod("script", "import", episode_id, str(tmp_path / "edited.txt")) == 0
    assert "1 changed line(s)" in capsys.readouterr().out
    assert work(location, instance) == 1
    one = server.stats()
    assert (one.chat_billed, one.speech_billed) == (0, 1)
    speech = [r.body["input"] for r in server.requests if r.endpoint == "speech"]
    assert speech == ["Thank you. I have waited a long time to say this."]
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "COMPLETED"
    assert "I have waited a long time to say this." in row["transcript"]
    assert export(episode_id, tmp_path / "again.txt", capsys) == edited
    # The script it replaced is kept.
    media = Path(open_catalog().url.removeprefix("sqlite:///")).parent / "media"
    kept = json.loads((media / "episodes" / episode_id / "scripts" / "v1.json").read_text())
    assert "It is a pleasure to be asked." in json.dumps(kept)


def test_a_bad_file_is_refused_with_line_numbers_and_nothing_is_written(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    episode_id = published(location, instance, INTERVIEW)
    text = export(episode_id, tmp_path / "script.txt", capsys)
    rows = text.split("\n")
    number = next(i for i, row in enumerate(rows, 1) if row.startswith("Ada Lovelace: "))
    rows[number - 1] = rows[number - 1].replace("Ada Lovelace:", "Charles Babbage:")
    (tmp_path / "bad.txt").write_text("\n".join(rows))

    assert epochpod("script", "import", episode_id, str(tmp_path / "bad.txt")) == 2
    err = capsys.readouterr().err
    assert f"line {number}: unknown speaker 'Charles Babbage'" in err
    assert open_catalog().edits(episode_id) == []
    assert not list((tmp_path / "epochpod" / "media" / "episodes" / episode_id).glob("scripts/*"))


# -- one line at a time ----------------------------------------------------------------------


def test_rewriting_one_line_calls_the_writer_once_and_speaks_once(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    episode_id = published(location, instance, INTERVIEW)
    text = export(episode_id, tmp_path / "script.txt", capsys)
    rows = text.split("\n")
    spoken = [i for i, row in enumerate(rows, 1) if ": " in row and not row.startswith("<!--")]
    # The host's long welcome: the new line is far shorter, and the script's length is the
    # editor's choice (the word-budget check does not fail an edited script).
    number = spoken[0]
    old = rows[number - 1]
    after = [rows[n - 1] for n in spoken[1:4]]

    server.reset()
    assert epochpod("script", "rewrite", episode_id, str(number), "--note", "shorter") == 0
    assert work(location, instance) == 1
    stats = server.stats()
    assert (stats.chat_billed, stats.speech_billed) == (1, 1)
    prompt = next(r.body for r in server.requests if r.endpoint == "chat")["messages"][-1]
    # The writer saw the note and the neighbours.
    assert "shorter" in prompt["content"]
    assert all(line.split(": ", 1)[1] in prompt["content"] for line in after)
    assert len(old.split()) > 3 * len(NEW_LINE.split())
    new_rows = export(episode_id, tmp_path / "new.txt", capsys).split("\n")
    assert new_rows[number - 1] == f"{old.split(': ', 1)[0]}: {NEW_LINE}"
    assert [r for i, r in enumerate(new_rows, 1) if i != number] == [
        r for i, r in enumerate(rows, 1) if i != number
    ]
    assert status(episode_id) == ("COMPLETED", 100)


# -- bring your own script -------------------------------------------------------------------

OWN_SCRIPT = """\
<!-- voice: Mary Beard = nova -->
# Rome's first emperor

## Opening

Mary Beard: Today I am talking to the man who ended the Roman Republic.
Augustus: I restored it, as my own account of my deeds says.

## The settlement

Mary Beard: Then why did every real power end up in your hands?
Augustus: Because the Senate and people gave it to me, one honour at a time.
"""


def voice_own_script(
    text: str,
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    location: dg.Definitions,
    instance: dg.DagsterInstance,
) -> str:
    """`epochpod enqueue script FILE --format fmt`, then one run of the queue: the episode id."""
    (tmp_path / "own.txt").write_text(text)
    assert epochpod("enqueue", "script", str(tmp_path / "own.txt"), "--format", fmt) == 0
    episode_id = capsys.readouterr().out.strip()
    assert work(location, instance) == 1
    return episode_id


def spoken_voices(server: FakeOpenAI) -> dict[str, str]:
    """Each spoken text and the voice the speech server was asked for."""
    return {r.body["input"]: r.body["voice"] for r in server.requests if r.endpoint == "speech"}


def test_own_script_is_voiced_without_a_writer_call(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    episode_id = voice_own_script(OWN_SCRIPT, "interview", tmp_path, capsys, location, instance)
    stats = server.stats()
    assert stats.chat_billed == 0
    assert stats.speech_billed == 4
    voices = spoken_voices(server)
    assert voices["Today I am talking to the man who ended the Roman Republic."] == "nova"
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "COMPLETED"
    assert "Augustus: Because the Senate and people gave it to me" in row["transcript"]
    assert row["topic"] == "Rome's first emperor"
    # Export gives the producer's file back (the voice header aside).
    text = export(episode_id, tmp_path / "back.txt", capsys)
    assert text.split("\n", 2)[2] == OWN_SCRIPT.split("\n", 1)[1]


OWN_DOCUMENTARY = """<!-- voice: Marcus Aurelius = onyx -->
# The philosopher emperor

## A camp on the Danube

The Narrator: In the winter of the year one hundred and seventy two, the most powerful man in \
the world sat in a cold tent by the frozen Danube. His legions had fought the Marcomanni for \
years, plague had emptied the cities behind him, and every evening, after the dispatches, he \
wrote a few lines to no one but himself.
Marcus Aurelius: Begin the morning by saying to thyself, I shall meet with the busybody, the \
ungrateful, the arrogant, the deceitful, the envious and the unsocial. I can be injured by \
none of them, for no one can fix on me what is ugly.
The Narrator: Those lines are all that survives of his evenings by the river.

## What he left

The Narrator: He never meant the notebooks for us. They passed from hand to hand for a \
thousand years, copied by monks who did not always understand them, until a printer in Zurich \
set them in type in the year fifteen fifty nine. Today they are read by soldiers and students, \
by prisoners and presidents, and by anyone who has had to keep going through a long winter.
"""


def test_a_documentary_is_voiced_from_its_own_script_too(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The format's own package says how a file becomes its request: narrator, then figures.
    episode_id = voice_own_script(
        OWN_DOCUMENTARY, "documentary", tmp_path, capsys, location, instance
    )
    stats = server.stats()
    assert stats.chat_billed == 0 and stats.speech_billed == 4  # one call per line
    voices = {text[:30]: voice for text, voice in spoken_voices(server).items()}
    assert voices["Begin the morning by saying to"] == "onyx"  # from the file's voice header
    assert voices["He never meant the notebooks f"] == "fable"  # the narrator's default
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "COMPLETED"
    assert row["type"] == "DOCUMENTARY"


# -- the review gate -------------------------------------------------------------------------


def test_review_gate_from_the_command_line(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ask = ["enqueue", "interview", "--guest", "Ada Lovelace", "--topic", "the engine"]
    assert epochpod(*ask, "--target-minutes", "1", "--review") == 0
    episode_id = capsys.readouterr().out.strip()
    assert work(location, instance) == 1
    assert status(episode_id) == ("AWAITING_REVIEW", 60)
    written = server.stats()
    # Research (the model's own facts: no sources), the outline and the script; no speech.
    assert (written.chat_billed, written.speech_billed) == (3, 0)
    # `epochpod status` shows it.
    assert epochpod("status", episode_id, "--json") == 0
    assert json.loads(capsys.readouterr().out)["generation_status"] == "AWAITING_REVIEW"
    # A resting state: settling the run that stopped there changes nothing.
    run = instance.get_runs()[0]
    assert run.job_name == "write_episode"
    assert settle_ended_run(open_catalog(), instance, run) == "unchanged"
    assert status(episode_id) == ("AWAITING_REVIEW", 60)
    # Nothing more runs until someone decides.
    assert work(location, instance) == 0

    server.reset()
    assert epochpod("reject", episode_id, "--note", "more about the Bernoulli numbers") == 0
    assert work(location, instance) == 1
    rejected = server.stats()
    assert (rejected.chat_billed, rejected.speech_billed) == (1, 0)
    prompt = server.requests[0].body["messages"][-1]["content"]
    assert "Editor feedback: more about the Bernoulli numbers" in prompt
    assert status(episode_id) == ("AWAITING_REVIEW", 60)

    server.reset()
    assert epochpod("approve", episode_id) == 0
    assert epochpod("approve", episode_id) == 2  # exactly once: the second is refused
    assert "already has an edit waiting" in capsys.readouterr().err
    assert work(location, instance) == 1
    approved = server.stats()
    assert approved.chat_billed == 0 and approved.speech_billed > 0
    assert status(episode_id) == ("COMPLETED", 100)
    assert epochpod("approve", episode_id) == 2  # no longer awaiting review
    assert work(location, instance) == 0
    runs = sorted(r.job_name for r in instance.get_runs())
    assert runs == ["revise_script", "voice_episode", "write_episode"]


def test_review_gate_from_the_ui_jobs(
    server: FakeOpenAI, location: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    def launch(job: str, op: str, config: dict[str, Any]) -> dg.ExecuteInProcessResult:
        return location.resolve_job_def(job).execute_in_process(
            run_config={"ops": {op: {"config": config}}}, instance=instance, raise_on_error=False
        )

    fields = {key: value for key, value in INTERVIEW.items() if key != "format"}
    # The launchpad's typed form: one section per format, `review` among the fields.
    ordered = location.resolve_job_def("request_episode").execute_in_process(
        run_config={"interview": {**fields, "review": True}}, instance=instance
    )
    episode_id = ordered.output_for_node("order_episode")
    assert work(location, instance) == 1
    assert status(episode_id) == ("AWAITING_REVIEW", 60)

    server.reset()
    assert launch("reject_episode", "reject_script", {"episode_id": episode_id, "note": "warmer"})
    assert work(location, instance) == 1
    assert (server.stats().chat_billed, server.stats().speech_billed) == (1, 0)
    assert status(episode_id) == ("AWAITING_REVIEW", 60)

    assert launch("approve_episode", "approve_script", {"episode_id": episode_id}).success
    refused = launch("approve_episode", "approve_script", {"episode_id": episode_id})
    assert not refused.success
    assert work(location, instance) == 1
    assert status(episode_id) == ("COMPLETED", 100)
    # Refused with the reason, and nothing queued.
    late = launch("approve_episode", "approve_script", {"episode_id": episode_id})
    assert not late.success
    failure = next(e for e in late.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    assert error is not None and "is COMPLETED" in error.message
    assert work(location, instance) == 0
    assert status(episode_id) == (Stage.COMPLETED.value, 100)


def test_import_and_own_script_from_the_ui_jobs(
    server: FakeOpenAI,
    location: dg.Definitions,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def launch(job: str, op: str, config: dict[str, Any]) -> dg.ExecuteInProcessResult:
        return location.resolve_job_def(job).execute_in_process(
            run_config={"ops": {op: {"config": config}}}, instance=instance, raise_on_error=False
        )

    episode_id = published(location, instance, INTERVIEW)
    text = export(episode_id, tmp_path / "script.txt", capsys)
    edited = text.replace(
        "Ada Lovelace: Thank you. It is a pleasure to be asked.",
        "Ada Lovelace: Thank you for having me.",
    )
    refused = launch(
        "import_script",
        "import_episode_script",
        {"episode_id": episode_id, "script_text": edited.replace("Ada Lovelace:", "Ada:", 1)},
    )
    assert not refused.success  # an unknown speaker: refused, with its line, nothing queued
    assert open_catalog().edits(episode_id) == []
    server.reset()
    imported = launch(
        "import_script", "import_episode_script", {"episode_id": episode_id, "script_text": edited}
    )
    assert imported.success
    assert work(location, instance) == 1
    assert (server.stats().chat_billed, server.stats().speech_billed) == (0, 1)

    server.reset()
    ordered = launch(
        "request_own_script",
        "order_own_script",
        {"format": "interview", "script_text": OWN_SCRIPT, "voices": {"Augustus": "onyx"}},
    )
    assert ordered.success
    assert work(location, instance) == 1
    assert server.stats().chat_billed == 0
    voices = {r.body["voice"] for r in server.requests if r.endpoint == "speech"}
    assert voices == {"nova", "onyx"}


def test_a_failed_approval_leaves_the_episode_failed_with_its_reason(
    server: FakeOpenAI, location: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    episode_id = enqueue({**INTERVIEW, "review": True}, open_catalog())
    assert work(location, instance) == 1
    assert status(episode_id) == ("AWAITING_REVIEW", 60)
    assert epochpod("approve", episode_id) == 0
    server.script(*["400"] * 20)  # the speech server refuses every line
    report = work_queue(location, instance, log_level="CRITICAL")
    assert len(report.failed) == 1
    row = open_catalog().get(episode_id)
    assert row is not None and row["generation_status"] == "FAILED"
    assert row["generation_error"].startswith("audio failed")
    (edit,) = open_catalog().edits(episode_id)
    assert edit["finished_at"] is not None  # closed: `epochpod retry` can start over
    assert work(location, instance) == 0

    # The daemon's path: the run-failure sensor and the sweeper settle a failed edit run
    # and close its edit with the reason (idempotently).
    db = open_catalog()
    failed = next(r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE)
    again = db.add_edit(episode_id, "approve", allowed={Stage.FAILED})
    run = failed.with_tags({**failed.tags, EDIT_TAG: str(again)})
    settle_ended_run(db, instance, run)
    settle_ended_run(db, instance, run)
    closed = db.get_edit(again)
    assert closed is not None and closed["finished_at"] is not None
    assert closed["error"].startswith(f"run {failed.run_id} failed: ")
