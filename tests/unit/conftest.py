"""Fixtures for the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BACKROOM_* from the caller's shell, and a folder without a .env."""
    for name in list(os.environ):
        if name.startswith("BACKROOM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
