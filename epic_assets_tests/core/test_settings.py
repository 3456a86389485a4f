"""Settings: defaults that run the emulator, and fail-fast messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from epic_assets.settings import DEFAULT_TYPES, EPIC_SANDBOX_GROUP_ID, SettingsError, load_settings


def load(tmp_path: Path, **env: str):
    return load_settings(environ=env, env_file=None, cwd=tmp_path)


def test_empty_environment_means_the_built_in_emulator_with_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.uses_emulator
    assert settings.group_id == EPIC_SANDBOX_GROUP_ID
    assert settings.types == DEFAULT_TYPES
    assert settings.data_dir == tmp_path / "data"
    assert settings.duckdb_path == tmp_path / "data" / "epic.duckdb"


def test_duckdb_path_follows_data_dir_unless_set(tmp_path: Path) -> None:
    assert load(tmp_path, EPIC_DATA_DIR="out").duckdb_path == tmp_path / "out" / "epic.duckdb"
    assert load(tmp_path, EPIC_DUCKDB_PATH="/x/y.duckdb").duckdb_path == Path("/x/y.duckdb")


def test_real_server_needs_client_id_and_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="EPIC_CLIENT_ID and EPIC_PRIVATE_KEY_PATH"):
        load(tmp_path, EPIC_FHIR_BASE_URL="https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4")


def test_real_server_settings_are_read(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read here")
    settings = load(
        tmp_path,
        EPIC_FHIR_BASE_URL="https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/",
        EPIC_CLIENT_ID="abc",
        EPIC_PRIVATE_KEY_PATH="key.pem",
        EPIC_TYPES="Patient, Observation,Patient",
        EPIC_TYPE_FILTERS="Observation?category=laboratory,Observation?category=vital-signs",
    )
    assert not settings.uses_emulator
    assert settings.fhir_base_url == "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4"
    assert settings.private_key_path == key
    assert settings.types == ("Patient", "Observation")
    assert settings.type_filters == ("Observation?category=laboratory", "Observation?category=vital-signs")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EPIC_FHIR_BASE_URL": "fhir.epic.com/api"}, "EPIC_FHIR_BASE_URL=.*not an absolute"),
        ({"EPIC_FHIR_BASE_URL": "http://fhir.example.org/R4"}, "EPIC_FHIR_BASE_URL=.*must use https"),
        ({"EPIC_TOKEN_URL": "https://x.org/token?a=1"}, "EPIC_TOKEN_URL=.*query string"),
        ({"EPIC_TYPES": "Patient,Observation;DROP"}, "EPIC_TYPES"),
        ({"EPIC_TYPES": " , "}, "EPIC_TYPES is set but lists no resource types"),
        ({"EPIC_TYPE_FILTERS": "category=laboratory"}, "EPIC_TYPE_FILTERS: 'category=laboratory' is not"),
        ({"EPIC_TYPES": "Patient", "EPIC_TYPE_FILTERS": "Observation?x=1"}, "EPIC_TYPES does not request"),
        ({"EPIC_GROUP_ID": "../../etc"}, "EPIC_GROUP_ID"),
        ({"EPIC_VIEWS_DIR": "nope"}, "EPIC_VIEWS_DIR='nope': no such directory"),
        ({"EPIC_MRN_SYSTEM": "1.2.840.114350"}, "EPIC_MRN_SYSTEM='1.2.840.114350' is not a code system URI"),
        (
            {"EPIC_FHIR_BASE_URL": "https://h/R4", "EPIC_CLIENT_ID": "c", "EPIC_PRIVATE_KEY_PATH": "missing.pem"},
            "EPIC_PRIVATE_KEY_PATH='missing.pem': no such file",
        ),
    ],
)
def test_invalid_settings_fail_fast_naming_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(tmp_path, **env)


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EPIC_GROUP_ID=fromfile\nEPIC_DATA_DIR=filedata\n")
    settings = load_settings(environ={"EPIC_DATA_DIR": "envdata"}, env_file=Path(".env"), cwd=tmp_path)
    assert settings.group_id == "fromfile"
    assert settings.data_dir == tmp_path / "envdata"


def test_loopback_http_is_allowed_for_the_emulator(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    settings = load(
        tmp_path,
        EPIC_FHIR_BASE_URL="http://127.0.0.1:8080/api/FHIR/R4",
        EPIC_CLIENT_ID="c",
        EPIC_PRIVATE_KEY_PATH=str(key),
    )
    assert settings.fhir_base_url == "http://127.0.0.1:8080/api/FHIR/R4"


def test_mrn_system_becomes_a_view_constant(tmp_path: Path) -> None:
    assert load(tmp_path).view_constants == {}
    oid = "urn:oid:1.2.840.114350.1.13.861.1.7.5.737384.14"
    assert load(tmp_path, EPIC_MRN_SYSTEM=oid).view_constants == {"mrn_system": oid}
