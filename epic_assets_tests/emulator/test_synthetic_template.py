"""The template mechanism the generator renders every resource with: same bytes as json.dumps, holes filled."""

from __future__ import annotations

import json

import pytest

from epic_assets.emulator.synthetic.template import Template, jd, js, member, num, optional, slot


def test_a_filled_template_equals_compact_json_of_the_same_dict() -> None:
    template = Template(
        {
            "resourceType": "Observation",
            "id": slot("id"),
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": 'Pulse "HR" {bpm}'},
            "valueQuantity": {"value": slot("value"), "unit": "/min"},
        }
    )
    rendered = template.render({"id": js("abc"), "value": "83"})
    expected = {
        "resourceType": "Observation",
        "id": "abc",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": 'Pulse "HR" {bpm}'},
        "valueQuantity": {"value": 83, "unit": "/min"},
    }
    assert rendered == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert template.holes == {"id", "value"}


def test_optional_members_appear_only_when_given() -> None:
    template = Template({"a": 1, optional("extra"): None, "b": [slot("items")]})
    assert template.render({"extra": "", "items": "1,2"}) == '{"a":1,"b":[1,2]}'
    with_member = template.render({"extra": member("note", jd({"text": "Ünïcode"})), "items": ""})
    assert json.loads(with_member) == {"a": 1, "note": {"text": "Ünïcode"}, "b": []}
    assert list(json.loads(with_member)) == ["a", "note", "b"]


def test_an_optional_member_cannot_open_an_object() -> None:
    with pytest.raises(ValueError, match="first member"):
        Template({optional("x"): None, "a": 1})


def test_a_missing_hole_is_an_error_not_a_silent_gap() -> None:
    with pytest.raises(KeyError):
        Template({"id": slot("id")}).render({})


def test_fragments_encode_like_json() -> None:
    assert js('say "hi"\n') == json.dumps('say "hi"\n')
    assert js("José") == '"José"'
    assert num(36.6099, 1) == "36.6" and num(83.4, 0) == "83" and num(0.1 + 0.2, 2) == "0.3"
