"""Alembic environment. Migrations run through `epochpod_assets.catalog.migrate`, which hands
us an open connection, so there is no alembic.ini and no URL in any file."""

from __future__ import annotations

from alembic import context

from epochpod_assets.catalog.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
