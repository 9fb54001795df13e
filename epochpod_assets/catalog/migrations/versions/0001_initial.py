"""Episodes queue, per-format detail and generation metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _episode_fk() -> sa.Column[str]:
    return sa.Column(
        "episode_id",
        sa.String(40),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.create_table(
        "episodes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="DRAFT"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("subtitle", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("topic", sa.Text),
        sa.Column("era", sa.Text),
        sa.Column("audio_url", sa.Text),
        sa.Column("audio_bytes", sa.BigInteger),
        sa.Column("transcript", sa.Text),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("sources", sa.JSON),
        sa.Column("user_id", sa.String(64)),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("generation_status", sa.String(32), nullable=False, server_default="PENDING"),
        sa.Column("generation_progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("generation_started_at", TIMESTAMP),
        sa.Column("generation_completed_at", TIMESTAMP),
        sa.Column("generation_error", sa.Text),
        sa.Column("generation_job_id", sa.String(64)),
        sa.Column("generation_attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("queued_at", TIMESTAMP),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("published_at", TIMESTAMP),
    )
    op.create_index("ix_episodes_queue", "episodes", ["generation_status", "created_at", "id"])
    op.create_table(
        "interview_details",
        _episode_fk(),
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
    op.create_table(
        "debate_details",
        _episode_fk(),
        sa.Column("moderator_name", sa.Text, nullable=False),
        sa.Column("moderator_voice", sa.String(32), nullable=False),
        sa.Column("topic", sa.Text),
        sa.Column("participants", sa.JSON),
        sa.Column("rounds", sa.JSON),
    )
    op.create_table(
        "adventure_details",
        _episode_fk(),
        sa.Column("narrator_voice", sa.String(32), nullable=False),
        sa.Column("entry_node", sa.String(40), nullable=False),
        sa.Column("story_map", sa.JSON, nullable=False),
    )
    op.create_table(
        "generation_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("episode_id", sa.String(40), sa.ForeignKey("episodes.id", ondelete="CASCADE")),
        sa.Column("type", sa.String(16), nullable=False),
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
    op.create_index("ix_generation_metrics_episode_id", "generation_metrics", ["episode_id"])


def downgrade() -> None:
    op.drop_table("generation_metrics")
    op.drop_table("adventure_details")
    op.drop_table("debate_details")
    op.drop_table("interview_details")
    op.drop_index("ix_episodes_queue", table_name="episodes")
    op.drop_table("episodes")
