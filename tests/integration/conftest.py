"""Fixtures for the service-level tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine

import migrations
from domain.db import make_engine
from tests.integration.pipeline_helpers import Pipeline, fresh_pipeline


@pytest.fixture
def pipeline(engine: Engine) -> Pipeline:
    """The pipeline driver on an emptied database (its services commit for real)."""
    return fresh_pipeline(engine)


@pytest.fixture
def migrated(scratch_database: str) -> str:
    """An empty database of the test's own with the whole schema built."""
    command.upgrade(migrations.config(scratch_database), "head")
    return scratch_database


@pytest.fixture
def scratch_engine(migrated: str) -> Iterator[Engine]:
    engine = make_engine(migrated, pool_size=0)
    yield engine
    engine.dispose()
