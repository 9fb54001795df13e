"""Partial indexes for the sensor's two queue reads, so a tick stays bounded.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING_NEW = "generation_status = 'PENDING' AND queued_at IS NULL"
PENDING_LEASED = "generation_status = 'PENDING' AND queued_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_episodes_pending_new",
        "episodes",
        ["created_at", "id"],
        postgresql_where=sa.text(PENDING_NEW),
        sqlite_where=sa.text(PENDING_NEW),
    )
    op.create_index(
        "ix_episodes_pending_leased",
        "episodes",
        ["queued_at"],
        postgresql_where=sa.text(PENDING_LEASED),
        sqlite_where=sa.text(PENDING_LEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_episodes_pending_leased", table_name="episodes")
    op.drop_index("ix_episodes_pending_new", table_name="episodes")
