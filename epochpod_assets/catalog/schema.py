"""The catalog's tables. Column names mirror the web app's original Prisma model in snake_case,
so the web app and the pipeline can share the `episodes` table (which is also the queue).

Changing a table here needs a migration in `migrations/versions/`.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

TIMESTAMP = sa.DateTime(timezone=True)
PENDING_NEW = "generation_status = 'PENDING' AND queued_at IS NULL"
PENDING_LEASED = "generation_status = 'PENDING' AND queued_at IS NOT NULL"

episodes = sa.Table(
    "episodes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),  # a registered format's episode_type
    sa.Column("status", sa.String(16), nullable=False, server_default="DRAFT"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("subtitle", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("topic", sa.Text),
    sa.Column("era", sa.Text),
    sa.Column("audio_url", sa.Text),
    sa.Column("audio_bytes", sa.BigInteger),
    sa.Column("captions_url", sa.Text),  # WebVTT beside the MP3 (added in migration 0002)
    sa.Column("transcript", sa.Text),
    sa.Column("duration_seconds", sa.Integer),
    sa.Column("sources", sa.JSON),
    # The research stage's fact sheet and the show notes citing it (migration 0004_research).
    sa.Column("fact_sheet", sa.JSON),
    sa.Column("show_notes_url", sa.Text),
    sa.Column("user_id", sa.String(64)),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("generation_status", sa.String(32), nullable=False, server_default="PENDING"),
    sa.Column("generation_progress", sa.Integer, nullable=False, server_default="0"),
    sa.Column("generation_started_at", TIMESTAMP),
    sa.Column("generation_completed_at", TIMESTAMP),
    sa.Column("generation_error", sa.Text),
    # How the generation ended (lifecycle.Outcome: completed, failed, interrupted, timed_out,
    # cancelled); NULL while it runs (migration 0007_generation_outcome).
    sa.Column("generation_outcome", sa.String(16)),
    sa.Column("generation_job_id", sa.String(64)),
    # Bumped by a deliberate regeneration (`epochpod retry`): part of the sensor's run key, so
    # the same request never launches twice but a retry launches once more.
    sa.Column("generation_attempt", sa.Integer, nullable=False, server_default="0"),
    # When the sensor last asked Dagster for a run. A request whose run never appeared comes
    # back after a lease instead of being lost.
    sa.Column("queued_at", TIMESTAMP),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # First publication: a regeneration keeps it, so the feed keeps the episode in its place.
    sa.Column("published_at", TIMESTAMP),
    # When a regeneration of the published episode last completed (migration 0004).
    sa.Column("regenerated_at", TIMESTAMP),
    sa.Index("ix_episodes_queue", "generation_status", "created_at", "id"),
    # The sensor's two reads (migration 0003): requests never asked for, oldest first, and
    # requests whose lease ran out. Partial, so they stay as small as the queue itself.
    sa.Index(
        "ix_episodes_pending_new",
        "created_at",
        "id",
        postgresql_where=sa.text(PENDING_NEW),
        sqlite_where=sa.text(PENDING_NEW),
    ),
    sa.Index(
        "ix_episodes_pending_leased",
        "queued_at",
        postgresql_where=sa.text(PENDING_LEASED),
        sqlite_where=sa.text(PENDING_LEASED),
    ),
)

interview_details = sa.Table(
    "interview_details",
    metadata,
    sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("host_name", sa.Text, nullable=False),
    sa.Column("host_voice", sa.String(32), nullable=False),
    sa.Column("guest_name", sa.Text, nullable=False),
    sa.Column("guest_role", sa.Text),
    sa.Column("guest_era", sa.Text),
    sa.Column("guest_voice", sa.String(32), nullable=False),
    sa.Column("topic", sa.Text),
    sa.Column("questions", sa.JSON),
    sa.Column("dialogue", sa.JSON),
)

debate_details = sa.Table(
    "debate_details",
    metadata,
    sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("moderator_name", sa.Text, nullable=False),
    sa.Column("moderator_voice", sa.String(32), nullable=False),
    sa.Column("topic", sa.Text),
    sa.Column("participants", sa.JSON),  # [{name, position, voice}]
    sa.Column("rounds", sa.JSON),  # [{title, turns: [{speaker, text}]}]
)

adventure_details = sa.Table(
    "adventure_details",
    metadata,
    sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("narrator_voice", sa.String(32), nullable=False),
    sa.Column("entry_node", sa.String(40), nullable=False),
    # {node_id: {title, choices: [{label, next}], audio_url, audio_bytes, duration_seconds}}
    sa.Column("story_map", sa.JSON, nullable=False),
)

# Every format's published detail as JSON (what `EpisodeFormat.detail` returns), so a new
# format needs no table and no migration. The three tables above keep being written for the web
# app, which reads them (migration 0006_episode_details).
episode_details = sa.Table(
    "episode_details",
    metadata,
    sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

generation_metrics = sa.Table(
    "generation_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "episode_id", sa.String(40), sa.ForeignKey("episodes.id", ondelete="CASCADE"), index=True
    ),
    sa.Column("type", sa.String(16), nullable=False),
    # One row per stage run (outline, script, audio), failed ones included: money spent on a
    # failed attempt is still spent. Per-episode totals are sums; regenerations add up.
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("llm_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("llm_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tts_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tts_characters", sa.Integer, nullable=False, server_default="0"),
    sa.Column("estimated_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("wall_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

# Editorial actions on an existing episode (migration 0005_editorial): approve or reject a
# script awaiting review, import an edited script, rewrite one line. Each row is one request
# for one run, exactly as an episode row is one request for its first run: the
# `episode_edits` sensor asks for it under the run key `edit-<id>`, so it runs once, and a row
# whose run never started comes back after the lease. At most one edit per episode is open.
OPEN_EDIT = "finished_at IS NULL"
episode_edits = sa.Table(
    "episode_edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # approve | reject | import | line
    sa.Column("note", sa.Text),  # the editor's feedback (reject, line)
    sa.Column("line", sa.Integer),  # the exported file's line number (line)
    sa.Column("script_key", sa.Text),  # media key of the imported script (import)
    # The episode was awaiting review when the edit was asked for: its run stops at the
    # script again (reject, and an import or line rewrite before approval).
    sa.Column("review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("queued_at", TIMESTAMP),
    sa.Column("run_id", sa.String(64)),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("error", sa.Text),
    sa.Index(
        "ux_episode_edits_open",
        "episode_id",
        unique=True,
        postgresql_where=sa.text(OPEN_EDIT),
        sqlite_where=sa.text(OPEN_EDIT),
    ),
)
