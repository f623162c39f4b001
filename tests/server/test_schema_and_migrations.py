"""The checked-in JSON Schema and the Alembic migrations match the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import hub_server.models  # noqa: F401
from hub_server.db import make_engine
from hub_server.manifest import render_json_schema
from tests.factories import manifest

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "hub-manifest.v1.json"


def test_checked_in_schema_matches_the_model() -> None:
    assert SCHEMA.read_text() == render_json_schema(), (
        "schemas/hub-manifest.v1.json drifted from hub_server.manifest.Manifest: run `make schema`"
    )


def test_schema_accepts_a_valid_manifest_and_refuses_bad_ones() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)

    assert list(validator.iter_errors(manifest())) == []
    assert list(validator.iter_errors(manifest(category="astrology")))
    assert list(validator.iter_errors(manifest(version="1.0")))
    assert list(validator.iter_errors(manifest(extra_field=True)))


def test_migrations_produce_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()

    assert diff == [], f"models and migrations differ: {diff}"
    assert revision is not None


@pytest.mark.parametrize("table", ["components", "versions", "component_tags"])
def test_lookup_paths_are_indexed(database_url: str, table: str) -> None:
    engine = make_engine(database_url)
    try:
        indexes = sa.inspect(engine).get_indexes(table)
        uniques = sa.inspect(engine).get_unique_constraints(table)
    finally:
        engine.dispose()
    columns = [tuple(i["column_names"]) for i in [*indexes, *uniques]]
    wanted = {
        "components": ("namespace", "name"),
        "versions": ("component_id", "version"),
        "component_tags": ("tag",),
    }[table]
    assert wanted in columns
