"""How the synthetic charts change from day to day, so consecutive exports differ as Epic's do.

Epic's bulk exports are full snapshots with no ``meta.lastUpdated``; between two daily exports a few
results are amended, a few problems resolve, some resources disappear (entered in error, merged) and
new ones are charted. Day 0 is the data exactly as generated (anchored at ``chart.AS_OF``). Day ``d``
replays, for each resource and each day 1..d, one event drawn from a hash of (seed, type, id, day): so
any day's export is reproducible on its own, without generating the days before it, and a resource's
history depends on nothing else.

Rates per resource and day: 1% amended (where the type has something that changes; see ``_AMEND``),
0.2% gone, 0.5% joined by a new resource. Patients are never removed or added (the Group's members stay
the same); their phone number may change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from epic_assets.emulator.synthetic.chart import AS_OF, DAY, iso_date
from epic_assets.emulator.synthetic.conditions import CLINICAL, status_concept

GONE = 0.002
AMENDED = 0.010
NEW = 0.005

_ID_AT = len('{"resourceType":"')


def evolve(resource_type: str, lines: Iterable[str], seed: int, day: int) -> Iterator[str]:
    """``lines`` (one type's NDJSON lines for day 0) as they stand on ``day``."""
    if day < 0:
        raise ValueError(f"day must be 0 or later, got {day}")
    for line in lines:
        if day == 0:
            yield line
        else:
            yield from _history(resource_type, _resource_id(line), line, seed, 1, day)


def _history(resource_type: str, resource_id: str, line: str, seed: int, first: int, last: int) -> Iterator[str]:
    born: list[tuple[str, str, int]] = []
    for day in range(first, last + 1):
        draw = _draw(seed, resource_type, resource_id, day)
        if draw < GONE and resource_type != "Patient":
            return
        if draw < GONE + AMENDED:
            line = _amend(resource_type, line, day)
        elif draw >= 1 - NEW and resource_type != "Patient":
            born.append((_new_id(seed, resource_type, resource_id, day), line, day))
    yield line
    for new_id, template, day in born:
        copy = _dump({**json.loads(template), "id": new_id})
        yield from _history(resource_type, new_id, copy, seed, day + 1, last)


def _resource_id(line: str) -> str:
    """The id of a generated line: every builder writes ``{"resourceType":"T","id":"..."`` first."""
    start = line.index('"id":"', _ID_AT) + 6
    return line[start : line.index('"', start)]


def _new_id(seed: int, resource_type: str, resource_id: str, day: int) -> str:
    """A fresh id shaped like Epic's short ones (``e`` + 22 characters + ``3``); the parent's id plus a
    suffix could pass FHIR's 64-character limit (Epic's Observation ids are up to 64 long)."""
    digest = hashlib.blake2b(f"new/{seed}/{resource_type}/{resource_id}/{day}".encode(), digest_size=11).hexdigest()
    return f"e{digest}3"


def _draw(seed: int, resource_type: str, resource_id: str, day: int) -> float:
    digest = hashlib.blake2b(f"{seed}/{resource_type}/{resource_id}/{day}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _dump(resource: dict[str, Any]) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


def _amend(resource_type: str, line: str, day: int) -> str:
    change = _AMEND.get(resource_type)
    if change is None:
        return line
    resource = json.loads(line)
    change(resource, day)
    return _dump(resource)


def _amend_result(resource: dict[str, Any], day: int) -> None:
    """A corrected result: status amended and the value revised."""
    if resource.get("status") in {"final", "preliminary"}:
        resource["status"] = "amended"
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
        value = quantity["value"]
        quantity["value"] = value + 1 if isinstance(value, int) else round(value * 1.02, 2)


def _resolve_problem(resource: dict[str, Any], day: int) -> None:
    resource["clinicalStatus"] = status_concept(CLINICAL, "resolved")
    resource["abatementDateTime"] = iso_date(AS_OF + day * DAY)


def _new_phone(resource: dict[str, Any], day: int) -> None:
    for telecom in resource.get("telecom", []):
        if telecom.get("system") == "phone":
            telecom["value"] = f"608-555-{(day * 7919 + len(resource['id'])) % 10000:04d}"
            return


def _set_status(before: set[str], after: str) -> Callable[[dict[str, Any], int], None]:
    def change(resource: dict[str, Any], day: int) -> None:
        if resource.get("status") in before:
            resource["status"] = after

    return change


_AMEND: dict[str, Callable[[dict[str, Any], int], None]] = {
    "Observation": _amend_result,
    "DiagnosticReport": _set_status({"final", "preliminary"}, "amended"),
    "Condition": _resolve_problem,
    "Patient": _new_phone,
    "Encounter": _set_status({"planned"}, "cancelled"),
    "MedicationRequest": _set_status({"active"}, "completed"),
}
