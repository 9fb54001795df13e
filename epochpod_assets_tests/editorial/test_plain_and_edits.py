"""The plain script of each format and back, the checks an import makes, a producer's own
story file, and the edits queue's exactly-once rules (no provider, no run: fast)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.store import EditRefused
from epochpod_assets.defs.editorial import episode_edits
from epochpod_assets.defs.resources import CatalogResource
from epochpod_assets.editorial import own_script, plain
from epochpod_assets.editorial.actions import EditError
from epochpod_assets.formats import format_for
from epochpod_assets.requests import parse_request
from epochpod_assets.scripting.scriptfile import ScriptFileError
from epochpod_assets.status import Stage
from epochpod_assets.storage import LocalMediaStore

ADVENTURE = {"format": "adventure", "setting": "Alexandria, 48 BC", "depth": 2, "choices": 2}
DEBATE = {
    "format": "debate",
    "topic": "the printing press",
    "participants": [
        {"name": "Johannes Gutenberg", "position": "print frees knowledge"},
        {"name": "Johannes Trithemius", "position": "the scribe's hand is devotion"},
    ],
    "rounds": 1,
    "target_minutes": 1,
}


def offline(raw: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    request = parse_request(raw)
    fmt = format_for(request.format.upper())
    outline = fmt.outline_task(request).template()
    script = fmt.script_task(request, outline).template()
    return fmt, request, outline, script


@pytest.mark.parametrize("raw", [ADVENTURE, DEBATE], ids=["adventure", "debate"])
def test_export_then_import_gives_the_same_script(raw: dict[str, Any]) -> None:
    fmt, request, outline, script = offline(raw)
    text = plain.export_text(fmt, request, outline, script, "ep-1")
    assert plain.from_text(text, fmt, request, outline, script) == script


def test_an_adventure_keeps_its_nodes_and_choices() -> None:
    fmt, request, outline, script = offline(ADVENTURE)
    text = plain.export_text(fmt, request, outline, script, "ep-1")
    assert "## n1: " in text and "-> " in text
    rows = text.split("\n")
    choice = next(i for i, row in enumerate(rows) if row.startswith("-> "))
    rows[choice] = "-> Swim for it: " + rows[choice].rsplit(": ", 1)[1]
    with pytest.raises(ScriptFileError) as error:
        plain.from_text("\n".join(rows), fmt, request, outline, script)
    assert error.value.errors[0][0] == choice + 1
    assert "choices are fixed" in error.value.errors[0][1]

    # Narration may be edited and split over several lines: it is read as one.
    rows = text.split("\n")
    first = next(i for i, row in enumerate(rows) if row.startswith("Narrator: "))
    rows.insert(first + 1, "Narrator: And the sea is loud tonight.")
    new = plain.from_text("\n".join(rows), fmt, request, outline, script)
    assert new.nodes[0].narration.endswith("And the sea is loud tonight.")
    assert [n.id for n in new.nodes] == [n.id for n in script.nodes]

    # "Go to track N" is checked against the node's choices, and named by its line.
    rows.insert(first + 1, "Narrator: Or go to track 7, if you dare.")
    with pytest.raises(ScriptFileError) as error:
        plain.from_text("\n".join(rows), fmt, request, outline, script)
    assert error.value.errors[0][0] == first + 2
    assert "sends the listener to track 7" in error.value.errors[0][1]


def test_import_errors_name_their_lines() -> None:
    fmt, request, outline, script = offline(DEBATE)
    text = plain.export_text(fmt, request, outline, script, "ep-1")
    rows = text.split("\n")
    title = next(i for i, row in enumerate(rows) if row.startswith("# "))
    was = rows[title][2:]
    rows[title] = "# Another title"
    speaker = next(i for i, row in enumerate(rows) if row.startswith("Johannes Gutenberg: "))
    rows[speaker] = rows[speaker].replace("Johannes Gutenberg", "Martin Luther")
    with pytest.raises(ScriptFileError) as error:
        plain.from_text("\n".join(rows), fmt, request, outline, script)
    # The cast is checked first; the title once the cast is right.
    assert [n for n, _ in error.value.errors] == [speaker + 1]
    assert "unknown speaker 'Martin Luther'" in error.value.errors[0][1]
    rows[speaker] = text.split("\n")[speaker]
    with pytest.raises(ScriptFileError) as error:
        plain.from_text("\n".join(rows), fmt, request, outline, script)
    assert error.value.errors == [(title + 1, f"the title is {was!r}; it cannot be changed here")]


def test_unchanged_lines_keep_their_place_and_changed_ones_are_counted() -> None:
    fmt, request, outline, script = offline(DEBATE)
    before = plain.to_file(fmt, request, outline, script)
    text = plain.export_text(fmt, request, outline, script)
    spoken = list(plain.spoken_lines(text))
    edited = plain.replace_lines(text, {spoken[1].number: "A different answer entirely."})
    new = plain.from_text(edited, fmt, request, outline, script)
    assert plain.changed_lines(before, plain.to_file(fmt, request, outline, new)) == 1


STORY = """\
# The library burns

## start: The quay
Narrator: Smoke rises over the harbour.
-> Run to the library: library
-> Stay with the ships: ships

## library: The library
Narrator: Scrolls curl in the heat. Your story ends here.

## ships: The ships
Narrator: The fleet burns behind you. Your story ends here.
"""


def test_an_own_story_becomes_a_request_and_a_renumbered_tree(tmp_path: Path) -> None:
    request, digest = own_script.build_request(
        STORY, "adventure", voices={"Narrator": "nova"}, extra={"as_of": "48 BC"}
    )
    assert (request["depth"], request["choices"], request["narrator_voice"]) == (2, 2, "nova")
    assert request["setting"] == "The library burns" and request["own_script"] == digest
    store = LocalMediaStore(tmp_path)
    own_script.store_file(store, STORY, digest)
    valid = parse_request(request)
    fmt = format_for("ADVENTURE")
    outline = own_script.outline_for(store, fmt, valid)
    script = own_script.script_for(store, fmt, valid, outline)
    # The file's nodes under the format's own ids, breadth first: the tracks' order.
    assert [(n.id, n.title) for n in outline.nodes] == [
        ("n1", "The quay"),
        ("n2", "The library"),
        ("n3", "The ships"),
    ]
    assert [(c.label, c.next) for c in outline.nodes[0].choices] == [
        ("Run to the library", "n2"),
        ("Stay with the ships", "n3"),
    ]
    assert [n.id for n in script.nodes] == ["n1", "n2", "n3"]
    assert script.nodes[2].narration == "The fleet burns behind you. Your story ends here."
    with pytest.raises(EditError) as error:
        own_script.build_request(
            STORY + "\n## lost: Lost\nNarrator: Nobody comes here.\n", "adventure"
        )
    assert error.value.problems == ["line 14: node 'lost' is never reached"]
    with pytest.raises(EditError) as error:
        own_script.build_request(
            STORY.replace("-> Stay with the ships: ships\n", ""),
            "adventure",
            extra={"as_of": "48 BC"},
        )
    assert error.value.problems == [
        "line 3: every node but the endings needs 2 or 3 choices, the same everywhere"
    ]


def test_an_own_interview_needs_two_speakers() -> None:
    with pytest.raises(EditError) as error:
        own_script.build_request("# T\n\n## A\n\nAda: Hello there.\n", "interview")
    assert error.value.problems == [
        "cast: an interview has two speakers, host then guest; the file has 1: Ada (line 5)"
    ]
    with pytest.raises(EditError) as error:
        own_script.build_request("## A\n\nAda: Hi.\nBob: Hello.\n", "interview")
    assert error.value.problems == ["title: the file has no '# Title' line; give --title"]


# -- the edits queue -------------------------------------------------------------------------


def test_one_open_edit_per_episode_and_only_in_the_right_state(catalog: Catalog) -> None:
    episode_id = catalog.enqueue(parse_request({**DEBATE}))
    with pytest.raises(EditRefused, match="is PENDING"):
        catalog.add_edit(episode_id, "approve", allowed={Stage.AWAITING_REVIEW})
    catalog.set_stage(episode_id, Stage.AWAITING_REVIEW)
    first = catalog.add_edit(episode_id, "approve", allowed={Stage.AWAITING_REVIEW})
    with pytest.raises(EditRefused, match="already has an edit waiting"):
        catalog.add_edit(episode_id, "approve", allowed={Stage.AWAITING_REVIEW})
    assert catalog.finish_edit(first, "run-1")
    assert not catalog.finish_edit(first, "run-2")  # settling twice changes nothing
    second = catalog.add_edit(episode_id, "reject", allowed={Stage.AWAITING_REVIEW}, note="x")
    assert second != first
    # A deliberate regeneration closes what waits.
    catalog.requeue(episode_id)
    assert all(e["finished_at"] is not None for e in catalog.edits(episode_id))


def test_the_edits_sensor_asks_once_per_edit_and_again_only_after_the_lease(
    catalog: Catalog,
) -> None:
    episode_id = catalog.enqueue(parse_request({**DEBATE}))
    catalog.set_stage(episode_id, Stage.AWAITING_REVIEW)
    edit = catalog.add_edit(episode_id, "approve", allowed={Stage.AWAITING_REVIEW})
    resource = CatalogResource(database_url=catalog.url)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"catalog": resource})
        result = episode_edits(context)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests or []
        assert request.run_key == f"edit-{edit}" and request.job_name == "voice_episode"
        assert request.partition_key == episode_id
        context = dg.build_sensor_context(instance=instance, resources={"catalog": resource})
        again = episode_edits(context)
        assert isinstance(again, dg.SensorResult) and not again.run_requests
    # After the lease, the same run key: Dagster launches it at most once.
    assert [e["id"] for e in catalog.pending_edits(10, dt.timedelta(seconds=-1))] == [edit]


def test_cancelling_an_episode_awaiting_review_cancels_its_waiting_approval(
    catalog: Catalog,
) -> None:
    from epochpod_assets.cancel import cancel_episode

    episode_id = catalog.enqueue(parse_request({**DEBATE}))
    catalog.set_stage(episode_id, Stage.AWAITING_REVIEW)
    catalog.add_edit(episode_id, "approve", allowed={Stage.AWAITING_REVIEW})
    with dg.instance_for_test() as instance:
        cancel_episode(catalog, instance, episode_id, wait_seconds=0)
    row = catalog.get(episode_id)
    assert row is not None and row["generation_status"] == "CANCELLED"
    assert catalog.pending_edits(10, dt.timedelta(seconds=-1)) == []
