"""FHIR XML for the emulator's FHIR answers, because Epic answers in XML unless the client asks for JSON.

A small, generic JSON -> XML mapping following the FHIR R4 XML rules: the resource type is the root
element in the ``http://hl7.org/fhir`` namespace; properties become child elements in the JSON's order;
primitives are ``value`` attributes; arrays are repeated elements; a primitive's ``_name`` companion
(id/extensions) is folded into the same element; ``url`` on extensions and ``id`` on non-resource elements
are attributes; nested resources are wrapped in their property's element; ``div`` is inlined XHTML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

FHIR_NAMESPACE = "http://hl7.org/fhir"
XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
FHIR_XML = "application/fhir+xml; charset=utf-8"
_JSON_MEDIA_TYPES = {"application/fhir+json", "application/json", "application/json+fhir", "text/json"}
_EXTENSIONS = {"extension", "modifierExtension"}

ET.register_namespace("", FHIR_NAMESPACE)
ET.register_namespace("xhtml", XHTML_NAMESPACE)


def accepts_fhir_json(accept_header: str | None) -> bool:
    """True when the Accept header names a JSON media type (q > 0). Epic does not treat ``*/*`` or a
    missing header as a request for JSON: it answers XML then, which is what catches careless clients."""
    for media_range in (accept_header or "").split(","):
        media_type, *parameters = (part.strip().lower() for part in media_range.split(";"))
        if media_type not in _JSON_MEDIA_TYPES:
            continue
        quality = next((p.partition("=")[2] for p in parameters if p.startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            continue
    return False


def resource_to_xml(resource: Mapping[str, Any]) -> bytes:
    """One FHIR resource (a JSON object with ``resourceType``) as a UTF-8 FHIR XML document."""
    return ET.tostring(_resource_element(resource), encoding="utf-8", xml_declaration=True)


def _tag(name: str) -> str:
    return f"{{{FHIR_NAMESPACE}}}{name}"


def _resource_element(resource: Mapping[str, Any]) -> ET.Element:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise ValueError("a FHIR resource needs a resourceType")
    element = ET.Element(_tag(resource_type))
    _add_properties(element, resource, is_resource=True)
    return element


def _add_properties(parent: ET.Element, document: Mapping[str, Any], *, is_resource: bool) -> None:
    for name, value in document.items():
        if name == "resourceType" or name.startswith("_"):
            continue  # resourceType is the element itself; _name companions are folded in below
        if name == "url" and parent.tag in {_tag(tag) for tag in _EXTENSIONS}:
            parent.set("url", _primitive_text(value))
            continue
        if name == "id" and not is_resource:
            parent.set("id", _primitive_text(value))
            continue
        if name == "div":
            parent.append(_xhtml(value))
            continue
        companion = document.get(f"_{name}")
        if isinstance(value, list):
            companions = companion if isinstance(companion, list) else [None] * len(value)
            for item, item_companion in zip(value, companions, strict=False):
                _add_element(parent, name, item, item_companion)
        else:
            _add_element(parent, name, value, companion)
    for name, companion in document.items():
        # A primitive that has only an id/extension and no value appears only as "_name".
        if name.startswith("_") and name[1:] not in document:
            for item in companion if isinstance(companion, list) else [companion]:
                _add_element(parent, name[1:], None, item)


def _add_element(parent: ET.Element, name: str, value: Any, companion: Any) -> None:
    if value is None and companion is None:
        return
    element = ET.SubElement(parent, _tag(name))
    if isinstance(value, Mapping):
        if "resourceType" in value:
            element.append(_resource_element(value))
        else:
            _add_properties(element, value, is_resource=False)
        return
    if value is not None:
        element.set("value", _primitive_text(value))
    if isinstance(companion, Mapping):
        _add_properties(element, companion, is_resource=False)


def _primitive_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"not a FHIR primitive: {value!r}")


def _xhtml(div: Any) -> ET.Element:
    if not isinstance(div, str):
        raise ValueError("Narrative.div must be an XHTML string")
    element = ET.fromstring(div)  # noqa: S314 - narratives of our own documents, never client input
    if element.tag != f"{{{XHTML_NAMESPACE}}}div":
        raise ValueError("Narrative.div must be a <div> in the XHTML namespace")
    return element
