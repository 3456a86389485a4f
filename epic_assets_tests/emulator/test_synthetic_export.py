"""The synthetic generator's contract: deterministic, prefix-stable, split, filtered, streamed."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from epic_assets.emulator import synthetic

ALL = synthetic.SUPPORTED_TYPES
REPO_ROOT = Path(__file__).resolve().parents[2]
EPIC_SHORT_ID = re.compile(r"e[A-Za-z0-9.\-]{22}3")


def _files(paths: dict[str, list[Path]]) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for files in paths.values() for path in files}


def _lines(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def test_supported_types_are_the_ten_clinical_types() -> None:
    assert set(ALL) == {
        "Patient",
        "Encounter",
        "Observation",
        "Condition",
        "Immunization",
        "MedicationRequest",
        "DiagnosticReport",
        "AllergyIntolerance",
        "Procedure",
        "DocumentReference",
    }
    assert "Binary" not in ALL


def test_group_patient_ids_look_like_epic_ids_and_are_unique() -> None:
    ids = synthetic.group_patient_ids(500, seed=4)
    assert len(set(ids)) == 500
    assert all(EPIC_SHORT_ID.fullmatch(patient_id) for patient_id in ids)
    assert synthetic.group_patient_ids(500, seed=4) == ids
    assert not set(synthetic.group_patient_ids(50, seed=5)) & set(ids)


def test_patient_ids_match_the_patient_export() -> None:
    exported = [patient["id"] for patient in synthetic.iter_resources("Patient", 12, seed=1)]
    assert exported == synthetic.group_patient_ids(12, seed=1)


def test_same_patients_and_seed_give_byte_identical_files(tmp_path: Path) -> None:
    first = synthetic.write_export(ALL, 15, 99, tmp_path / "a", max_per_file=200)
    second = synthetic.write_export(ALL, 15, 99, tmp_path / "b", max_per_file=200)
    assert _files(first) == _files(second)
    assert [path.name for path in first["Observation"]] == [path.name for path in second["Observation"]]


def test_different_seeds_give_different_data(tmp_path: Path) -> None:
    one = synthetic.write_export(["Patient", "Observation"], 5, 1, tmp_path / "one")
    two = synthetic.write_export(["Patient", "Observation"], 5, 2, tmp_path / "two")
    assert _files(one) != _files(two)
    names_one = {p["name"][0]["text"] for p in _lines(one["Patient"])}
    ids_two = {p["id"] for p in _lines(two["Patient"])}
    assert not {p["id"] for p in _lines(one["Patient"])} & ids_two
    assert len(names_one) == 5


@pytest.mark.parametrize("resource_type", ALL)
def test_a_patients_data_does_not_depend_on_how_many_patients_are_generated(resource_type: str) -> None:
    small = list(synthetic.iter_resources(resource_type, 4, seed=8))
    large = list(synthetic.iter_resources(resource_type, 9, seed=8))
    assert large[: len(small)] == small
    assert len(large) > len(small) or resource_type == "AllergyIntolerance"


def test_a_smaller_export_is_a_byte_prefix_of_a_larger_one(tmp_path: Path) -> None:
    small = synthetic.write_export(ALL, 10, 31, tmp_path / "small", max_per_file=170)
    large = synthetic.write_export(ALL, 30, 31, tmp_path / "large", max_per_file=170)
    for resource_type in ALL:
        small_bytes = b"".join(path.read_bytes() for path in small[resource_type])
        large_bytes = b"".join(path.read_bytes() for path in large[resource_type])
        assert small_bytes and large_bytes.startswith(small_bytes) and len(large_bytes) > len(small_bytes)


def test_export_order_and_content_match_iter_resources(tmp_path: Path) -> None:
    written = synthetic.write_export(["Condition", "Encounter"], 6, 3, tmp_path)
    assert list(written) == ["Condition", "Encounter"]
    for resource_type in written:
        assert _lines(written[resource_type]) == list(synthetic.iter_resources(resource_type, 6, 3))


def test_files_split_at_max_per_file_and_are_compact_ndjson(tmp_path: Path) -> None:
    written = synthetic.write_export(["Observation", "Patient"], 20, 5, tmp_path, max_per_file=250)
    counts = [len(path.read_bytes().splitlines()) for path in written["Observation"]]
    assert len(counts) >= 3
    assert all(count == 250 for count in counts[:-1])
    assert 0 < counts[-1] <= 250
    assert sum(counts) == sum(1 for _ in synthetic.iter_resources("Observation", 20, 5))
    assert len(written["Patient"]) == 1
    raw = written["Observation"][0].read_bytes()
    assert raw.endswith(b"\n")
    assert json.loads(raw.split(b"\n", 1)[0])["resourceType"] == "Observation"
    assert sorted(tmp_path.iterdir()) == sorted(written["Observation"] + written["Patient"])  # no .part left


def test_every_line_is_exactly_compact_json(tmp_path: Path) -> None:
    # Templates must produce what json.dumps would: same members, same order, no spaces, no escapes.
    written = synthetic.write_export(ALL, 8, 21, tmp_path)
    for resource_type, paths in written.items():
        for line in b"".join(path.read_bytes() for path in paths).decode("utf-8").splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == resource_type
            assert line == json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


def test_output_is_utf8_with_non_ascii_kept_as_is(tmp_path: Path) -> None:
    written = synthetic.write_export(["Patient"], 300, 2, tmp_path)
    raw = b"".join(path.read_bytes() for path in written["Patient"])
    text = raw.decode("utf-8")
    assert "\\u" not in text
    assert any(ord(ch) > 127 for ch in text)


def test_a_type_with_no_matching_resources_gets_no_file(tmp_path: Path) -> None:
    written = synthetic.write_export(
        ["Observation"], 3, 1, tmp_path, type_filters={"Observation": ["code=http://loinc.org|0000-0"]}
    )
    assert written == {"Observation": []}


def test_unknown_types_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Binary"):
        synthetic.write_export(["Patient", "Binary"], 1, 1, tmp_path)
    with pytest.raises(ValueError, match="Specimen"):
        synthetic.iter_resources("Specimen", 1, 1)  # at the call, before any iteration
    with pytest.raises(ValueError, match="'bogus'"):
        synthetic.iter_resources("Observation", 1, 1, type_filters=["bogus=1"])


def test_type_names_are_case_insensitive_like_epics_type_parameter(tmp_path: Path) -> None:
    written = synthetic.write_export(["patient", "OBSERVATION"], 1, 1, tmp_path)
    assert list(written) == ["Patient", "Observation"]


@pytest.mark.parametrize(
    ("patients", "max_per_file"),
    [(-1, 10), (1.5, 10), (2, 0), (True, 10)],
    ids=["negative", "float", "zero-split", "bool"],
)
def test_bad_sizes_are_rejected(tmp_path: Path, patients: object, max_per_file: int) -> None:
    with pytest.raises(ValueError):
        synthetic.write_export(["Patient"], patients, 1, tmp_path, max_per_file=max_per_file)  # type: ignore[arg-type]


def test_zero_patients_is_an_empty_export(tmp_path: Path) -> None:
    assert synthetic.write_export(ALL, 0, 1, tmp_path) == {name: [] for name in ALL}
    assert synthetic.group_patient_ids(0, 1) == []


# ---------------------------------------------------------------- _typeFilter


def _observations(filters: list[str], patients: int = 10) -> list[dict]:
    return list(synthetic.iter_resources("Observation", patients, 6, type_filters=filters))


def _category_codes(resource: dict) -> set[str]:
    return {coding["code"] for category in resource.get("category", []) for coding in category["coding"]}


def test_category_filter_keeps_only_that_category(tmp_path: Path) -> None:
    written = synthetic.write_export(
        ["Observation", "Patient"], 10, 6, tmp_path, type_filters={"Observation": ["category=laboratory"]}
    )
    labs = _lines(written["Observation"])
    everything = list(synthetic.iter_resources("Observation", 10, 6))
    expected = [obs for obs in everything if "laboratory" in _category_codes(obs)]
    assert labs == expected
    assert 0 < len(labs) < len(everything)
    assert len(_lines(written["Patient"])) == 10  # unfiltered types are untouched


def test_filters_in_the_list_are_ored_and_commas_within_a_value_are_ored() -> None:
    vitals = _observations(["category=vital-signs"])
    labs = _observations(["category=laboratory"])
    both_as_list = _observations(["category=vital-signs", "category=laboratory"])
    both_as_comma = _observations(["category=vital-signs,laboratory"])
    assert both_as_list == both_as_comma
    assert len(both_as_list) == len(vitals) + len(labs)


def test_code_filter_matches_any_coding_with_or_without_system() -> None:
    with_system = _observations(["code=http://loinc.org|4548-4"], patients=40)
    code_only = _observations(["code=4548-4"], patients=40)
    assert with_system and with_system == code_only
    assert all(obs["code"]["text"] == "Hemoglobin A1C" for obs in with_system)
    # The BP flowsheet row is not the first coding: every coding is searched.
    bp = _observations(["code=http://loinc.org|85354-9"])
    assert bp and all(obs["code"]["text"] == "BP" for obs in bp)
    assert not _observations(["code=http://snomed.info/sct|4548-4"], patients=40)


def test_parameters_within_one_query_are_anded_and_dates_take_prefixes() -> None:
    in_2022 = _observations(["category=vital-signs&date=ge2022-01-01&date=lt2023"], patients=20)
    assert in_2022
    assert all("2022-01-01" <= obs["effectiveDateTime"][:10] <= "2022-12-31" for obs in in_2022)
    assert all("vital-signs" in _category_codes(obs) for obs in in_2022)
    year = _observations(["date=2022"], patients=20)
    assert sorted(o["id"] for o in year if "vital-signs" in _category_codes(o)) == sorted(o["id"] for o in in_2022)


def test_status_filters_use_each_types_parameter_name() -> None:
    active = list(synthetic.iter_resources("Condition", 20, 2, type_filters=["clinical-status=active"]))
    assert active and all(c["clinicalStatus"]["coding"][0]["code"] == "active" for c in active)
    finished = list(synthetic.iter_resources("Encounter", 20, 2, type_filters=["status=finished"]))
    assert finished and all(e["status"] == "finished" for e in finished)
    problems = list(synthetic.iter_resources("Condition", 20, 2, type_filters=["category=problem-list-item"]))
    assert problems and all(c["category"][0]["coding"][0]["code"] == "problem-list-item" for c in problems)


def test_a_filter_may_repeat_its_type_prefix_and_be_url_encoded() -> None:
    plain = _observations(["category=laboratory"])
    assert _observations(["Observation?category=laboratory"]) == plain
    assert _observations(["code=http%3A%2F%2Floinc.org%7C4548-4"], 40) == _observations(["code=4548-4"], 40)


@pytest.mark.parametrize(
    ("resource_type", "query", "named"),
    [
        ("Observation", "_lastUpdated=gt2020", "_lastUpdated"),
        ("Observation", "value-quantity=5", "value-quantity"),
        ("Patient", "category=x", "category"),
        ("Condition", "status=active", "status"),
        ("Observation", "code:text=BP", "code:text"),
    ],
)
def test_unknown_filter_parameters_raise_naming_the_parameter(
    tmp_path: Path, resource_type: str, query: str, named: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(named))):
        synthetic.write_export([resource_type], 1, 1, tmp_path, type_filters={resource_type: [query]})


def test_malformed_filters_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a FHIR date"):
        _observations(["date=ge2020/01/01"])
    with pytest.raises(ValueError, match="prefix"):
        _observations(["date=sa2020"])
    with pytest.raises(ValueError, match="Condition"):  # a filter for a type that is not being exported
        synthetic.write_export(["Observation"], 1, 1, tmp_path, type_filters={"Condition": ["category=x"]})
    with pytest.raises(ValueError, match="Encounter"):
        synthetic.write_export(["Observation"], 1, 1, tmp_path, type_filters={"Observation": ["Encounter?status=x"]})


# ---------------------------------------------------------------- streaming


def _peak_bytes(tmp_path: Path, patients: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        synthetic.write_export(ALL, patients, 12, tmp_path / str(patients), max_per_file=500)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_patients(tmp_path: Path) -> None:
    synthetic.write_export(ALL, 2, 12, tmp_path / "warm")  # import-time caches and templates
    small = _peak_bytes(tmp_path, 10)
    large = _peak_bytes(tmp_path, 80)  # 8x the resources (~11k, ~17 MB of NDJSON)
    # The peak is the per-type write buffers (1 MB each) plus one chart; holding the export would add ~17 MB.
    assert large < small + 1_500_000, (small, large)


def test_a_failed_export_leaves_no_partial_files(tmp_path: Path) -> None:
    # A directory squatting on the second file's name makes the rename fail half way through.
    (tmp_path / "Observation.002.ndjson").mkdir()
    with pytest.raises(OSError):
        synthetic.write_export(["Patient", "Observation"], 10, 1, tmp_path, max_per_file=100)
    leftovers = sorted(path.name for path in tmp_path.iterdir())
    assert leftovers == ["Observation.002.ndjson"]


def test_output_does_not_depend_on_the_process_or_its_hash_seed(tmp_path: Path) -> None:
    # Another interpreter with another PYTHONHASHSEED must write the same bytes (no set/hash ordering leaks).
    here = synthetic.write_export(ALL, 6, 77, tmp_path / "here", max_per_file=300)
    script = (
        "import sys; from pathlib import Path; from epic_assets.emulator import synthetic; "
        "synthetic.write_export(synthetic.SUPPORTED_TYPES, 6, 77, Path(sys.argv[1]), max_per_file=300)"
    )
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash-{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, cwd=REPO_ROOT, timeout=120)
        assert {path.name: path.read_bytes() for path in out.iterdir()} == _files(here)


# ---------------------------------------------------------------- site profiles

SANDBOX_OIDS = b"1.2.840.114350.1.13.0.1.7."


def test_the_default_site_is_epics_sandbox(tmp_path: Path) -> None:
    default = synthetic.write_export(ALL, 3, 2, tmp_path / "default")
    explicit = synthetic.write_export(ALL, 3, 2, tmp_path / "explicit", site=synthetic.SANDBOX)
    assert _files(default) == _files(explicit)
    patient = _lines(default["Patient"])[0]
    assert "EPI" in [identifier["type"]["text"] for identifier in patient["identifier"]]


def test_another_customer_gets_its_own_oid_root_and_mrn_label(tmp_path: Path) -> None:
    site = synthetic.Site.customer(861, 1, mrn_label="MRN")
    written = synthetic.write_export(ALL, 4, 2, tmp_path / "site", site=site)
    sandbox = synthetic.write_export(ALL, 4, 2, tmp_path / "sandbox")
    raw = b"".join(_files(written).values())
    assert SANDBOX_OIDS not in raw and b"1.2.840.114350.1.13.861.1.7." in raw
    # Only the site-specific parts differ: same resources, same ids, same Epic-wide OIDs.
    assert raw.replace(b"1.2.840.114350.1.13.861.1.7.", SANDBOX_OIDS).replace(
        b'"type":{"text":"MRN"}', b'"type":{"text":"EPI"}'
    ) == b"".join(_files(sandbox).values())
    mrn = next(i for i in _lines(written["Patient"])[0]["identifier"] if i["type"]["text"] == "MRN")
    assert mrn["system"] == "urn:oid:1.2.840.114350.1.13.861.1.7.5.737384.14"


def test_filters_may_name_the_sites_own_code_systems() -> None:
    site = synthetic.Site.customer(861, 1)
    own = list(
        synthetic.iter_resources(
            "Observation", 30, 2, type_filters=["code=urn:oid:1.2.840.114350.1.13.861.1.7.2.768282|1558024"], site=site
        )
    )
    assert own and all(obs["code"]["text"] == "Hemoglobin A1C" for obs in own)
    assert own == list(synthetic.iter_resources("Observation", 30, 2, type_filters=["code=4548-4"], site=site))


@pytest.mark.parametrize(("root", "label"), [("1.2.x", "MRN"), ("1.2.840", 'M"RN'), ("1.2.840", "")])
def test_malformed_sites_are_rejected(root: str, label: str) -> None:
    with pytest.raises(ValueError):
        synthetic.Site(root, label)
