"""Episodes record when they were last regenerated; `published_at` stays the first publication.

Revision ID: 0004_regenerated_at
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_regenerated_at"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.add_column(sa.Column("regenerated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("regenerated_at")
