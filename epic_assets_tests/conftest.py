"""Shared fixtures: where ../shared lives, and skipping cleanly where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """``../shared`` beside the checkout (or ``$EPIC_SHARED_DIR``), if present."""
    candidate = Path(os.environ.get("EPIC_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("../shared (Synthea data, Epic samples, SQL on FHIR suite) is not beside this checkout")
    return path


@pytest.fixture(scope="session")
def epic_samples(shared: Path) -> Path:
    return shared / "epic-samples"


@pytest.fixture(scope="session")
def synthea_dir(shared: Path) -> Path:
    return shared / "data" / "synthea"
