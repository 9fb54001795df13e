"""Editorial actions on episodes: review decisions, imported scripts, one-line rewrites.

Revision ID: 0005_editorial
Revises: 0004_research
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_editorial"
down_revision = "0004_research"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
OPEN_EDIT = "finished_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "episode_edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "episode_id",
            sa.String(40),
            sa.ForeignKey("episodes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("line", sa.Integer),
        sa.Column("script_key", sa.Text),
        sa.Column("review", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("queued_at", TIMESTAMP),
        sa.Column("run_id", sa.String(64)),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("error", sa.Text),
    )
    # One open edit per episode, enforced by the database: two editors approving at once
    # get one run, and the second a clear refusal.
    op.create_index(
        "ux_episode_edits_open",
        "episode_edits",
        ["episode_id"],
        unique=True,
        postgresql_where=sa.text(OPEN_EDIT),
        sqlite_where=sa.text(OPEN_EDIT),
    )


def downgrade() -> None:
    op.drop_index("ux_episode_edits_open", table_name="episode_edits")
    op.drop_table("episode_edits")
