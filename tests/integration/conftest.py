"""Fixtures for the service-level tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.integration.pipeline_helpers import Pipeline, fresh_pipeline


@pytest.fixture
def pipeline(engine: Engine) -> Pipeline:
    """The pipeline driver on an emptied database (its services commit for real)."""
    return fresh_pipeline(engine)
