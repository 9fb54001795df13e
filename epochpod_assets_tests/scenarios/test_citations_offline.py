"""Offline, no key: an interview with a source talks about the source's subject, cites it, and
publishes show notes, a marked transcript, a feed description and a status that name it."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from epochpod_assets import enqueue
from epochpod_assets.cli import main
from epochpod_assets.defs.assets.episodes import (
    episode_audio,
    episode_outline,
    episode_script,
    published_episode,
)
from epochpod_assets.defs.assets.research import episode_research
from epochpod_assets.defs.resources import MediaResource, resources_from_env
from epochpod_assets.intake import open_catalog
from epochpod_assets.storage import episode_key

SOURCE = """# The Rosetta Stone

The Rosetta Stone is a granodiorite slab inscribed in 196 BC with a decree of Ptolemy V.
Its text is written three times: in hieroglyphs, in Demotic script and in ancient Greek.
French soldiers found the stone near the town of Rashid in July 1799.
Thomas Young showed in 1814 that some hieroglyphs spelled sounds.
Jean-Francois Champollion announced his decipherment of the hieroglyphs in September 1822.
"""


def test_an_offline_interview_speaks_from_its_source_and_cites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("EPOCHPOD_WRITER", "EPOCHPOD_VOICE"):
        monkeypatch.setenv(name, "offline")
    path = tmp_path / "rosetta.md"
    path.write_text(SOURCE)
    db = open_catalog()
    episode_id = enqueue(
        {
            "format": "interview",
            "guest_name": "Jean-Francois Champollion",
            "topic": "the Rosetta Stone and the hieroglyphs",
            "sources": [{"location": str(path), "author": "Epoch Pod tests", "year": 2026}],
            "target_minutes": 1,
        },
        db,
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("episodes", [episode_id])
        result = dg.materialize(
            [episode_research, episode_outline, episode_script, episode_audio, published_episode],
            partition_key=episode_id,
            instance=instance,
            resources=resources_from_env(),
        )
    assert result.success
    store = MediaResource().get()

    research = result.asset_materializations_for_node("episode_research")[0].metadata
    assert research["facts"].value >= 4 and research["sourced_share"].value == 1.0
    # No as_of given: the documented default, stated in the metadata.
    assert "1822" in str(research["as_of"].value) and "default" in str(research["as_of"].value)

    # The guest talks about the source's subject, and his lines carry the facts' ids.
    script = json.loads(store.get(episode_key(episode_id, "script.json")))
    guest = [x for s in script["sections"] for x in s["lines"] if x["speaker"].startswith("Jean")]
    said = " ".join(x["text"] for x in guest)
    assert "Rosetta Stone" in said or "hieroglyphs" in said
    assert any(x["facts"] for x in guest)

    row = db.get(episode_id)
    assert row is not None and row["generation_status"] == "COMPLETED"
    assert row["sources"] == ["[1] Epoch Pod tests, The Rosetta Stone (2026). rosetta.md"]
    assert row["fact_sheet"]["cited"], "the catalog keeps the facts the episode cites"
    assert "Sources: [1] Epoch Pod tests, The Rosetta Stone (2026)" in row["description"]
    assert " [1]" in row["transcript"]  # a line marked with the source it rests on
    notes = store.get(episode_key(episode_id, "show_notes.md")).decode()
    assert "## Sources" in notes and "1. Epoch Pod tests, The Rosetta Stone (2026)" in notes
    assert f"## Facts cited ({len(row['fact_sheet']['cited'])})" in notes
    html = store.get(episode_key(episode_id, "show_notes.html")).decode()
    assert "<h2>Sources</h2>" in html and "<script" not in html
    assert row["show_notes_url"].endswith("show_notes.html")

    assert main(["status", episode_id]) == 0
    shown = capsys.readouterr().out
    assert "cited by the episode" in shown and "[1] The Rosetta Stone" in shown
