from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from epic_assets.warehouse import Warehouse, open_warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_warehouse(tmp_path / "wh" / "epic.duckdb") as wh:
        yield wh
