"""Fixtures for the catalogue: a seeded hub through the real app, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.seed import seed


@pytest.fixture
def seeded(client: TestClient, admin: dict[str, str], tmp_path: Path) -> TestClient:
    """The app with :data:`tests.web.seed.CATALOGUE` published, one version yanked, one fork
    and a few pulls."""
    seed(client, admin, tmp_path / "seed")
    return client
