"""EPIC.md section 1: without ``Accept: application/fhir+json`` Epic answers its FHIR routes in XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from epic_assets.emulator.fhir_xml import accepts_fhir_json, resource_to_xml
from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient

F = "{http://hl7.org/fhir}"


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - the emulator's own answer


def _ns(path: str) -> str:
    return "/".join(F + step for step in path.split("/"))


def test_primitives_are_value_attributes_and_arrays_repeat_in_order() -> None:
    root = parse(
        resource_to_xml(
            {
                "resourceType": "Patient",
                "id": "eX1",
                "active": True,
                "multipleBirthInteger": 2,
                "name": [{"family": "Lin", "given": ["Ann", "Bo"]}, {"text": "A & B <x>"}],
            }
        )
    )
    assert root.tag == F + "Patient"
    assert [child.tag.removeprefix(F) for child in root] == ["id", "active", "multipleBirthInteger", "name", "name"]
    assert root.find(_ns("id")).get("value") == "eX1"  # a resource's id is an element
    assert root.find(_ns("active")).get("value") == "true"
    assert root.find(_ns("multipleBirthInteger")).get("value") == "2"
    assert [given.get("value") for given in root.findall(_ns("name/given"))] == ["Ann", "Bo"]
    assert root.findall(_ns("name"))[1].find(_ns("text")).get("value") == "A & B <x>"


def test_extension_urls_element_ids_primitive_companions_and_nested_resources() -> None:
    root = parse(
        resource_to_xml(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "_type": {"extension": [{"url": "http://x.example/e", "valueCode": "y"}]},
                "entry": [
                    {
                        "id": "entry-1",
                        "resource": {
                            "resourceType": "Observation",
                            "status": "final",
                            "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">ok</div>'},
                        },
                    }
                ],
            }
        )
    )
    type_element = root.find(_ns("type"))
    assert type_element.get("value") == "collection"
    assert type_element.find(_ns("extension")).get("url") == "http://x.example/e"
    assert type_element.find(_ns("extension/valueCode")).get("value") == "y"
    entry = root.find(_ns("entry"))
    assert entry.get("id") == "entry-1"  # an element's id is an attribute
    observation = entry.find(_ns("resource/Observation"))
    assert observation.find(_ns("status")).get("value") == "final"
    assert observation.find(_ns("text")).find("{http://www.w3.org/1999/xhtml}div").text == "ok"


@pytest.mark.parametrize(
    ("accept", "json_wanted"),
    [
        ("application/fhir+json", True),
        ("application/json", True),
        ("application/fhir+xml;q=0.9, application/fhir+json", True),
        (None, False),
        ("*/*", False),
        ("application/fhir+xml", False),
        ("application/fhir+json;q=0", False),
    ],
)
def test_only_an_accept_header_naming_json_gets_json(accept: str | None, json_wanted: bool) -> None:
    assert accepts_fhir_json(accept) is json_wanted


def test_metadata_without_accept_is_a_fhir_xml_capability_statement(start_emulator: EmulatorFactory) -> None:
    client = start_emulator()
    url = f"{client.emulator.base_url}/metadata"
    as_json = client.session.get(url, timeout=10).json()
    response = requests.get(url, headers={"Accept": None}, timeout=10)  # no Accept header at all
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+xml; charset=utf-8"
    root = parse(response.content)
    assert root.tag == F + "CapabilityStatement"
    assert root.find(_ns("fhirVersion")).get("value") == as_json["fhirVersion"]
    exported = [r.find(_ns("type")).get("value") for r in root.findall(_ns("rest/resource"))]
    assert exported == [resource["type"] for resource in as_json["rest"][0]["resource"]]


def test_kickoff_error_asking_for_xml_only_is_an_xml_operation_outcome(epic: EpicTestClient) -> None:
    url = f"{epic.emulator.base_url}/Group/eNoSuchGroup/$export?_type=Patient"
    response = epic.session.get(url, headers={"Accept": "application/fhir+xml", "Prefer": "respond-async"}, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/fhir+xml")
    issue = parse(response.content).find(_ns("issue"))
    assert issue.find(_ns("severity")).get("value") == "fatal"
    assert issue.find(_ns("details/coding/code")).get("value") == "59008"


def test_bulk_status_stays_json_without_accept(epic: EpicTestClient) -> None:
    status_url = epic.start_export("_type=Patient")
    del epic.session.headers["Accept"]
    manifest = epic.wait_for_manifest(status_url)
    assert manifest["output"][0]["type"] == "Patient"
