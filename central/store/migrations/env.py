"""Alembic's entry point for central's migrations: always run by central.store.migrate on a
connection it holds inside one transaction (never from an alembic.ini)."""

from __future__ import annotations

from alembic import context

from central.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
