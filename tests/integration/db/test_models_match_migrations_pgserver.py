"""One schema: the SQLAlchemy Core tables in ``controlplane.models.tables`` are what the migrations build.

Alembic's autogenerate compares the migrated database with the models (columns, types, nullability, server
defaults, indexes, unique constraints, foreign keys) and must find nothing to change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from controlplane.db.embedded import DatabaseUrls
from controlplane.db.engine import create_engine
from controlplane.models.tables import metadata


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and name == "alembic_version")


def test_the_migrations_head_equals_the_models(database: DatabaseUrls) -> None:
    engine = create_engine(database.owner)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": True, "include_object": _include})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], "\n".join(map(str, diff))


def test_every_table_of_the_database_has_a_model(database: DatabaseUrls) -> None:
    engine = create_engine(database.owner)
    try:
        names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert names == set(metadata.tables)
