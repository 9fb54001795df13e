"""The catalog on SQLite and on PostgreSQL: migrations, the queue's writes and reads."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from epochpod_assets.catalog import Catalog
from epochpod_assets.catalog.schema import episode_details, interview_details, metadata
from epochpod_assets.catalog.store import _alembic_config
from epochpod_assets.providers.base import Usage
from epochpod_assets.requests import parse_request
from epochpod_assets.status import Stage, regenerating

REQUEST = parse_request({"format": "interview", "guest_name": "Hypatia", "topic": "astronomy"})
DETAIL = {"host_name": "Host", "host_voice": "onyx", "guest_name": "Hypatia", "guest_voice": "echo"}


def test_migrations_build_exactly_the_declared_schema(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrate_is_idempotent(catalog: Catalog) -> None:
    catalog.migrate()
    Catalog(catalog.url).migrate()
    # The newest migration, whoever added it last (one head: migrations chain).
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_queue_lifecycle(catalog: Catalog) -> None:
    first = catalog.enqueue(REQUEST)
    second = catalog.enqueue(REQUEST)
    lease = dt.timedelta(minutes=10)
    assert [r["id"] for r in catalog.pending(10, lease)] == [first, second]

    catalog.mark_queued([first])
    assert [r["id"] for r in catalog.pending(10, lease)] == [second]
    assert [r["id"] for r in catalog.pending(10, dt.timedelta(0))] == [first, second]

    catalog.set_stage(first, Stage.GENERATING_OUTLINE, run_id="run-1")
    catalog.set_progress(first, 30)
    catalog.set_progress(first, 20)  # never backwards
    row = catalog.get(first)
    assert row is not None
    assert (row["generation_status"], row["generation_progress"], row["generation_job_id"]) == (
        "GENERATING_OUTLINE",
        30,
        "run-1",
    )
    assert row["generation_started_at"] is not None

    catalog.fail(first, "outline failed: boom")
    row = catalog.get(first)
    assert row is not None and row["generation_status"] == "FAILED"
    assert row["generation_error"] == "outline failed: boom"

    assert catalog.requeue(first) == 1
    row = catalog.get(first)
    assert row is not None
    assert (row["generation_status"], row["generation_progress"], row["generation_error"]) == (
        "PENDING",
        0,
        None,
    )


def test_regeneration_keeps_the_first_publication_and_starts_each_attempt_anew(
    catalog: Catalog,
) -> None:
    episode_id = catalog.enqueue(REQUEST)
    catalog.set_stage(episode_id, Stage.GENERATING_OUTLINE, run_id="run-1")
    started_1 = _row(catalog, episode_id)["generation_started_at"]
    catalog.set_stage(episode_id, Stage.GENERATING_SCRIPT, run_id="run-1")
    assert _row(catalog, episode_id)["generation_started_at"] == started_1, "same attempt"
    catalog.publish(episode_id, {"title": "First"}, DETAIL)
    first = _row(catalog, episode_id)
    assert first["published_at"] is not None and first["regenerated_at"] is None

    # A backfill regenerates from the script: its first stage starts the new attempt.
    catalog.set_stage(episode_id, Stage.GENERATING_SCRIPT, run_id="run-2")
    during = _row(catalog, episode_id)
    assert during["generation_started_at"] > first["generation_completed_at"]
    assert during["generation_completed_at"] is None
    assert during["status"] == "PUBLISHED", "stays published while it regenerates"
    assert regenerating(during)
    catalog.publish(episode_id, {"title": "Second"}, DETAIL)
    second = _row(catalog, episode_id)
    assert second["published_at"] == first["published_at"]
    assert second["regenerated_at"] >= during["generation_started_at"]
    assert not regenerating(second)


def _row(catalog: Catalog, episode_id: str) -> dict[str, Any]:
    row = catalog.get(episode_id)
    assert row is not None
    return row


def test_publish_writes_row_detail_and_metrics_add_up(catalog: Catalog) -> None:
    episode_id = catalog.enqueue(REQUEST)
    usage = Usage()
    usage.add_llm(100, 50, 0.01)
    usage.add_tts(1000, 0.015)
    catalog.record_usage(episode_id, "outline", "run-1", usage, 1.5)
    catalog.record_usage(episode_id, "audio", "run-1", usage, 2.5)
    detail = {
        "host_name": "Host",
        "host_voice": "onyx",
        "guest_name": "Hypatia",
        "guest_voice": "echo",
        "questions": ["Why?"],
        "dialogue": [],
    }
    fields = {
        "title": "T",
        "transcript": "Host: hi",
        "audio_url": "file:///x.mp3",
        "audio_bytes": 3,
        "duration_seconds": 60,
        "sources": ["a"],
    }
    catalog.publish(episode_id, fields, detail)
    catalog.publish(episode_id, fields, detail)  # a regeneration replaces the detail row
    row = catalog.get(episode_id)
    assert row is not None
    assert (row["status"], row["generation_status"], row["generation_progress"]) == (
        "PUBLISHED",
        "COMPLETED",
        100,
    )
    assert row["sources"] == ["a"]
    assert catalog.detail(episode_id, "INTERVIEW")["questions"] == ["Why?"]  # type: ignore[index]
    # Kept once as JSON for every format, and in the format's own table for the web app.
    with catalog.engine.connect() as conn:
        generic = conn.execute(
            sa.select(episode_details).where(episode_details.c.episode_id == episode_id)
        ).all()
        legacy = conn.execute(
            sa.select(interview_details).where(interview_details.c.episode_id == episode_id)
        ).all()
    assert [(r.type, r.detail["guest_name"]) for r in generic] == [("INTERVIEW", "Hypatia")]
    assert [(r.guest_name, r.questions) for r in legacy] == [("Hypatia", ["Why?"])]
    stats = catalog.stats([episode_id])[episode_id]
    assert stats.llm_tokens == 300 and stats.tts_characters == 2000
    assert abs(stats.estimated_usd - 0.05) < 1e-9 and stats.wall_seconds == 4.0


def test_upgrade_from_the_first_schema_keeps_rows(catalog_url: str) -> None:
    """A database made by an older release upgrades in place, its queue intact."""
    from alembic import command

    from epochpod_assets.catalog.store import _alembic_config

    db = Catalog(catalog_url)
    with db.engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with db.engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            sa.text(
                "INSERT INTO episodes (id, type, status, title, request, generation_status, "
                "generation_progress, generation_attempt, created_at, updated_at) VALUES "
                "('ep-old', 'INTERVIEW', 'DRAFT', 'old', '{}', 'PENDING', 0, 0, :now, :now)"
            ),
            {"now": now},
        )
    db.migrate()
    row = db.get("ep-old")
    assert row is not None and row["captions_url"] is None and row["title"] == "old"


def test_upgrade_copies_published_details_into_the_one_detail_table(catalog_url: str) -> None:
    """Episodes published before `episode_details` existed keep their detail (the feed reads
    an adventure's first choice from it)."""
    from alembic import command

    db = Catalog(catalog_url)
    with db.engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        before = ScriptDirectory.from_config(config).get_revision("0006_episode_details")
        assert before is not None and isinstance(before.down_revision, str)
        command.upgrade(config, before.down_revision)
    now = dt.datetime.now(dt.UTC)
    story_map = {"n0": {"title": "Start", "choices": [{"label": "Run", "next": "n1"}]}}
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO episodes (id, type, status, title, request, generation_status, "
                "generation_progress, generation_attempt, created_at, updated_at) VALUES "
                "('ep-old', 'ADVENTURE', 'PUBLISHED', 'old', '{}', 'COMPLETED', 100, 0, :now, "
                ":now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO adventure_details (episode_id, narrator_voice, entry_node, story_map)"
                " VALUES ('ep-old', 'fable', 'n0', :story_map)"
            ),
            {"story_map": json.dumps(story_map)},
        )
    db.migrate()
    assert db.detail("ep-old") == {
        "episode_id": "ep-old",
        "narrator_voice": "fable",
        "entry_node": "n0",
        "story_map": story_map,
    }


def test_upgrade_types_how_existing_generations_ended(catalog_url: str) -> None:
    """A row a stage left "interrupted" before the outcome column existed is still recognised
    as interrupted (settling its run may replace the reason with the run's real end)."""
    from alembic import command

    db = Catalog(catalog_url)
    with db.engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        before = ScriptDirectory.from_config(config).get_revision("0007_generation_outcome")
        assert before is not None and isinstance(before.down_revision, str)
        command.upgrade(config, before.down_revision)
    now = dt.datetime.now(dt.UTC)
    rows = {
        "ep-int": ("FAILED", "audio was interrupted"),
        "ep-fail": ("FAILED", "script failed: boom"),
        "ep-cancel": ("CANCELLED", "cancelled"),
        "ep-done": ("COMPLETED", None),
        "ep-wait": ("PENDING", None),
    }
    with db.engine.begin() as conn:
        for episode_id, (status, error) in rows.items():
            conn.execute(
                sa.text(
                    "INSERT INTO episodes (id, type, status, title, request, generation_status, "
                    "generation_error, generation_progress, generation_attempt, created_at, "
                    "updated_at) VALUES (:id, 'INTERVIEW', 'DRAFT', 't', '{}', :status, :error, "
                    "0, 0, :now, :now)"
                ),
                {"id": episode_id, "status": status, "error": error, "now": now},
            )
    db.migrate()
    outcomes = {episode_id: (db.get(episode_id) or {})["generation_outcome"] for episode_id in rows}
    assert outcomes == {
        "ep-int": "interrupted",
        "ep-fail": "failed",
        "ep-cancel": "cancelled",
        "ep-done": "completed",
        "ep-wait": None,
    }


def test_lifecycle_writes_typed_outcomes(catalog: Catalog) -> None:
    from epochpod_assets import lifecycle

    episode_id = catalog.enqueue(REQUEST)
    lifecycle.start_stage(catalog, episode_id, Stage.GENERATING_AUDIO, run_id="run-1")
    assert lifecycle.interrupted(catalog, episode_id, "audio") == "audio was interrupted"
    row = catalog.get(episode_id)
    assert row is not None
    assert (row["generation_status"], row["generation_outcome"]) == ("FAILED", "interrupted")
    lifecycle.fail(catalog, episode_id, "cancelled", lifecycle.Outcome.CANCELLED)
    row = catalog.get(episode_id)
    assert row is not None
    assert (row["generation_status"], row["generation_outcome"]) == ("CANCELLED", "cancelled")
    lifecycle.requeue(catalog, episode_id)
    row = catalog.get(episode_id)
    assert row is not None and row["generation_outcome"] is None
