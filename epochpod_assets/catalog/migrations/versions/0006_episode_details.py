"""Every format's published detail as JSON in one table, keyed by episode.

A new format then needs no table of its own. The detail tables of the interview, debate and
adventure formats stay (the web app reads them) and are copied in, so episodes published
before this migration keep their detail (and an adventure its first choice in the feed).

Revision ID: 0006_episode_details
Revises: 0005_editorial
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_episode_details"
down_revision = "0005_editorial"
branch_labels = None
depends_on = None

# The tables as migration 0001 made them: the copy must not depend on today's schema module.
LEGACY = {
    "INTERVIEW": "interview_details",
    "DEBATE": "debate_details",
    "ADVENTURE": "adventure_details",
}


def upgrade() -> None:
    details = op.create_table(
        "episode_details",
        sa.Column(
            "episode_id",
            sa.String(40),
            sa.ForeignKey("episodes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    conn = op.get_bind()
    for kind, name in LEGACY.items():
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        rows = [dict(row._mapping) for row in conn.execute(sa.select(table))]
        if rows:
            op.bulk_insert(
                details,
                [
                    {"episode_id": row.pop("episode_id"), "type": kind, "detail": _json(row)}
                    for row in rows
                ],
            )


def _json(row: dict[str, Any]) -> Any:
    # SQLite hands JSON columns back decoded already; anything else goes through JSON once.
    return json.loads(json.dumps(row, default=str))


def downgrade() -> None:
    op.drop_table("episode_details")
