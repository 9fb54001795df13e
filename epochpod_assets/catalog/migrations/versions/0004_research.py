"""Episodes keep their fact sheet and link their show notes (issue 12: historical integrity).

`sources` (already there) holds the numbered sources the episode cites; `fact_sheet` the
research stage's facts, each with its source and the passage it rests on, so the web app can
show what a line rests on without reading media storage.

Revision ID: 0004_research
Revises: 0004_regenerated_at
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_research"
down_revision = "0004_regenerated_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.add_column(sa.Column("fact_sheet", sa.JSON))
        batch.add_column(sa.Column("show_notes_url", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("show_notes_url")
        batch.drop_column("fact_sheet")
