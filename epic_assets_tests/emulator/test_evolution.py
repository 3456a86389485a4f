"""The synthetic data moves on day by day, as an Epic Group's does between two daily exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from epic_assets.emulator import ManualClock
from epic_assets.emulator.synthetic import SUPPORTED_TYPES, write_export
from epic_assets.emulator.synthetic.evolution import AMENDED, GONE, NEW
from epic_assets_tests.emulator.conftest import EmulatorFactory

PATIENTS = 120
# Epic's ids keep FHIR's characters but may pass its 64-character limit (EPIC.md); new ones are short.
EPIC_ID = re.compile(r"[A-Za-z0-9\-.]+")
NEW_ID = re.compile(r"e[0-9a-f]{22}3")


def export_of_day(directory: Path, day: int) -> dict[str, dict[str, str]]:
    """type -> id -> line, for ``PATIENTS`` patients on ``day``."""
    written = write_export(sorted(SUPPORTED_TYPES), PATIENTS, seed=3, out_dir=directory, day=day)
    return {
        name: {json.loads(line)["id"]: line for path in paths for line in path.read_text().splitlines()}
        for name, paths in written.items()
    }


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("days")
    return {day: export_of_day(root / str(day), day) for day in (0, 1, 5)}


def test_day_zero_is_the_data_as_generated(tmp_path: Path, days: dict[int, dict[str, dict[str, str]]]) -> None:
    plain = write_export(["Observation"], PATIENTS, seed=3, out_dir=tmp_path)
    lines = {json.loads(line)["id"]: line for path in plain["Observation"] for line in path.read_text().splitlines()}
    assert lines == days[0]["Observation"]


def test_a_day_is_reproducible_on_its_own(tmp_path: Path, days: dict[int, dict[str, dict[str, str]]]) -> None:
    assert export_of_day(tmp_path, 5) == days[5]


def test_each_day_a_few_resources_are_amended_gone_or_new(days: dict[int, dict[str, dict[str, str]]]) -> None:
    before, after = days[0]["Observation"], days[1]["Observation"]
    gone = before.keys() - after.keys()
    new = after.keys() - before.keys()
    amended = [key for key in before.keys() & after.keys() if before[key] != after[key]]
    total = len(before)
    assert total > 5000
    for count, rate in ((len(gone), GONE), (len(new), NEW), (len(amended), AMENDED)):
        assert 0.4 * rate * total <= count <= 2 * rate * total
    for key in amended:
        resource = json.loads(after[key])
        assert resource["status"] in {"amended", "corrected"}  # corrected results stay corrected
    assert all(NEW_ID.fullmatch(key) for key in new)


def test_resolved_problems_carry_their_abatement(days: dict[int, dict[str, dict[str, str]]]) -> None:
    before, after = days[0]["Condition"], days[1]["Condition"]
    changed = [json.loads(after[key]) for key in before.keys() & after.keys() if before[key] != after[key]]
    assert changed
    for condition in changed:
        assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
        assert condition["abatementDateTime"] == "2026-04-27"


def test_the_group_keeps_its_patients_and_what_is_gone_stays_gone(
    days: dict[int, dict[str, dict[str, str]]],
) -> None:
    assert days[5]["Patient"].keys() == days[0]["Patient"].keys()
    for name in SUPPORTED_TYPES:
        gone_on_day_one = days[0][name].keys() - days[1][name].keys()
        assert not gone_on_day_one & days[5][name].keys(), name
        assert all(EPIC_ID.fullmatch(key) for key in days[5][name]), name


def test_the_emulator_serves_the_next_day_after_24_hours(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock()
    client = start_emulator(clock=clock, token_lifetime_seconds=10**6, patients=30)
    client.authorize()

    def observations() -> dict[str, dict[str, object]]:
        _, manifest = client.export("_type=Observation")
        found = {}
        for entry in manifest["output"]:
            found.update({item["id"]: item for item in client.ndjson(entry["url"])})
        return found

    first = observations()
    clock.advance(24 * 3600)
    second = observations()
    assert first.keys() != second.keys()
    assert any(first[key] != second[key] for key in first.keys() & second.keys())


def test_the_emulator_can_start_on_a_later_day(start_emulator: EmulatorFactory, tmp_path: Path) -> None:
    client = start_emulator(day=5, patients=PATIENTS)
    client.authorize()
    _, manifest = client.export("_type=Patient")
    served = {item["id"] for entry in manifest["output"] for item in client.ndjson(entry["url"])}
    expected = write_export(["Patient"], PATIENTS, seed=0, out_dir=tmp_path, day=5)["Patient"]
    assert served == {json.loads(line)["id"] for path in expected for line in path.read_text().splitlines()}
