"""Deterministic synthetic data shaped like Epic's Bulk FHIR output, for any number of patients.

Public API (the emulator server codes against exactly this):

- :data:`SUPPORTED_TYPES` — the exportable resource types (Binary is served by :func:`render_binary`).
- :func:`group_patient_ids` — the Group's patient ids, Epic style.
- :func:`iter_resources` — one type's resources as dicts, in export order.
- :func:`write_export` — stream NDJSON files split at ``max_per_file`` resources, with ``_typeFilter``.
- :func:`render_binary` — the HTML/RTF body behind a DocumentReference's ``Binary/<id>``.
- :class:`Site` — another Epic customer's OID root and MRN label (default :data:`SANDBOX`).
- :func:`check_type_filters` — validate ``_typeFilter`` up front (e.g. at kick-off) with the errors
  :func:`write_export` would raise later.

Same (patients, seed) gives byte-identical output; patient k's data does not depend on how many
patients are generated. Shapes follow the captured sandbox payloads (``shared/epic-samples``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

from epic_assets.emulator.synthetic.chart import patient_id
from epic_assets.emulator.synthetic.documents import render_binary
from epic_assets.emulator.synthetic.export import (
    SUPPORTED_TYPES,
    check_counts,
    compile_type_filters,
    iter_rows,
    resolve_type,
    write_export,
)
from epic_assets.emulator.synthetic.filters import compile_filters
from epic_assets.emulator.synthetic.site import SANDBOX, Site

__all__ = [
    "SANDBOX",
    "SUPPORTED_TYPES",
    "Site",
    "check_type_filters",
    "group_patient_ids",
    "iter_resources",
    "render_binary",
    "write_export",
]


def group_patient_ids(patients: int, seed: int) -> list[str]:
    """Ids of the Group's patients, in export order (``e`` + 22 base-64 characters + ``3``)."""
    check_counts(patients, seed)
    return [patient_id(seed, index) for index in range(patients)]


def iter_resources(
    resource_type: str,
    patients: int,
    seed: int,
    type_filters: Sequence[str] | None = None,
    site: Site = SANDBOX,
) -> Iterator[dict]:
    """One type's resources as dicts, in the same order :func:`write_export` writes them.

    Arguments are checked at the call, not at the first ``next()``: a bad type or filter fails early.
    """
    resolved = resolve_type(resource_type)
    check_counts(patients, seed)
    if type_filters and not isinstance(type_filters, str):
        type_filters = [site.to_sandbox(query) for query in type_filters]
    predicate = compile_filters(resolved, type_filters) if type_filters else None
    rewrite = site.rewriter(resolved)
    rows = iter_rows(resolved, patients, seed, predicate)
    return (json.loads(row.line if rewrite is None else rewrite(row.line)) for row in rows)


def check_type_filters(types: Sequence[str], type_filters: Mapping[str, Sequence[str]] | None) -> None:
    """Raise ``ValueError`` (naming the type or parameter) for filters :func:`write_export` would reject."""
    compile_type_filters([resolve_type(name) for name in types], type_filters)
