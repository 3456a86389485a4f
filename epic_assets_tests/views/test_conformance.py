"""The official SQL on FHIR v2 suite (``latest/``), one pytest case per suite test.

Every case runs through the NDJSON source (fixtures written to a temporary file, mixed resource types
as the suite provides them). The JSON-text source is exercised over the whole suite as well, so both
inputs are proven to produce the same rows from the same compiled body.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from epic_assets.views.conformance import SuiteCase, load_cases, run_case
from epic_assets_tests.conftest import shared_dir


def _cases() -> list[SuiteCase]:
    root = shared_dir()
    if root is None:
        return []
    return list(load_cases(root / "sql-on-fhir-tests" / "latest"))


_CASES = _cases()


@pytest.mark.parametrize("case", _CASES, ids=[f"{c.file}::{c.name}" for c in _CASES])
def test_official_case_over_ndjson(case: SuiteCase, shared: Path, tmp_path: Path) -> None:
    result = run_case(case, tmp_path, "ndjson")
    assert result.passed, result.detail


@pytest.mark.parametrize("case", _CASES, ids=[f"{c.file}::{c.name}" for c in _CASES])
def test_official_case_over_json_text(case: SuiteCase, shared: Path, tmp_path: Path) -> None:
    result = run_case(case, tmp_path, "json_text")
    assert result.passed, result.detail


def test_the_latest_suite_is_complete(shared: Path) -> None:
    # Guards against a silently truncated copy of the suite making the run look green.
    assert len(_CASES) == 144
