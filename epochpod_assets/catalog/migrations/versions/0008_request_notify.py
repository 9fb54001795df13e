"""A NOTIFY on channel `epochpod_requests` whenever an episode row becomes PENDING.

The queue sensor listens for it during its tick (Catalog.listening_for_requests), so a request
starts as soon as it is written instead of at the sensor's next evaluation, whoever writes it:
the web app's INSERT, `epochpod enqueue`, a retry's UPDATE. PostgreSQL only; SQLite has no
notifications and the sensor reads the queue on each evaluation as before.

Revision ID: 0008_request_notify
Revises: 0007_generation_outcome
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008_request_notify"
down_revision = "0007_generation_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION epochpod_notify_request() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('epochpod_requests', NEW.id);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER episodes_notify_request
        AFTER INSERT OR UPDATE OF generation_status ON episodes
        FOR EACH ROW WHEN (NEW.generation_status = 'PENDING')
        EXECUTE FUNCTION epochpod_notify_request()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS episodes_notify_request ON episodes")
    op.execute("DROP FUNCTION IF EXISTS epochpod_notify_request()")
