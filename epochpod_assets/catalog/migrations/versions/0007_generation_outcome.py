"""How each generation ended, typed (`lifecycle.Outcome`), beside its status.

Settling a run used to recognise a stage's interruption by the words its reason ended with;
the outcome says it instead. Existing rows get theirs from what they hold now, so a row a
stage left "interrupted" before the upgrade is still settled with the run's real end.

Revision ID: 0007_generation_outcome
Revises: 0006_episode_details
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_generation_outcome"
down_revision = "0006_episode_details"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.add_column(sa.Column("generation_outcome", sa.String(16)))
    op.execute(
        "UPDATE episodes SET generation_outcome = CASE "
        "WHEN generation_status = 'COMPLETED' THEN 'completed' "
        "WHEN generation_status = 'CANCELLED' THEN 'cancelled' "
        "WHEN generation_status = 'FAILED' AND generation_error LIKE '% was interrupted' "
        "THEN 'interrupted' "
        "WHEN generation_status = 'FAILED' THEN 'failed' "
        "ELSE NULL END"
    )


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("generation_outcome")
