"""Streaming NDJSON export: one pass over the patients, one open file per type, split every N resources.

Each patient's chart is built once and every requested type is rendered from it, so cost grows
linearly with the number of resources and memory stays flat (one chart plus one write buffer per type).
Files are written under a ``.part`` name and renamed when complete, so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from epic_assets.emulator.synthetic.allergies import allergies
from epic_assets.emulator.synthetic.chart import Chart, build_chart
from epic_assets.emulator.synthetic.conditions import conditions
from epic_assets.emulator.synthetic.documents import document_references
from epic_assets.emulator.synthetic.encounters import encounters
from epic_assets.emulator.synthetic.evolution import evolve
from epic_assets.emulator.synthetic.filters import Predicate, compile_filters
from epic_assets.emulator.synthetic.immunizations import immunizations
from epic_assets.emulator.synthetic.medications import medication_requests
from epic_assets.emulator.synthetic.observations import observations
from epic_assets.emulator.synthetic.patients import patients as patient_rows
from epic_assets.emulator.synthetic.procedures import procedures
from epic_assets.emulator.synthetic.reports import diagnostic_reports
from epic_assets.emulator.synthetic.rows import Row
from epic_assets.emulator.synthetic.site import SANDBOX, Site

Builder = Callable[[Chart], Iterator[Row]]

BUILDERS: dict[str, Builder] = {
    "Patient": patient_rows,
    "Encounter": encounters,
    "Observation": observations,
    "Condition": conditions,
    "Immunization": immunizations,
    "MedicationRequest": medication_requests,
    "DiagnosticReport": diagnostic_reports,
    "AllergyIntolerance": allergies,
    "Procedure": procedures,
    "DocumentReference": document_references,
}
SUPPORTED_TYPES: tuple[str, ...] = tuple(BUILDERS)
_WRITE_BUFFER = 1 << 20


def resolve_type(name: str) -> str:
    """The canonical type name; Epic accepts any letter case in ``_type``, so we do too."""
    if name in BUILDERS:
        return name
    for known in BUILDERS:
        if known.lower() == str(name).lower():
            return known
    raise ValueError(f"unsupported resource type {name!r} (supported: {', '.join(SUPPORTED_TYPES)})")


def check_counts(patients: int, seed: int) -> None:
    if isinstance(patients, bool) or not isinstance(patients, int) or patients < 0:
        raise ValueError(f"patients must be a non-negative integer, got {patients!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")


def compile_type_filters(
    types: Sequence[str], type_filters: Mapping[str, Sequence[str]] | None
) -> dict[str, Predicate]:
    predicates: dict[str, Predicate] = {}
    for name, queries in (type_filters or {}).items():
        resource_type = resolve_type(name)
        if resource_type not in types:
            raise ValueError(f"_typeFilter given for {resource_type}, which is not among the exported types")
        predicate = compile_filters(resource_type, queries)
        if predicate is not None:
            predicates[resource_type] = predicate
    return predicates


def iter_rows(resource_type: str, patients: int, seed: int, predicate: Predicate | None = None) -> Iterator[Row]:
    builder = BUILDERS[resolve_type(resource_type)]
    check_counts(patients, seed)
    for index in range(patients):
        for row in builder(build_chart(seed, index)):
            if predicate is None or predicate(row):
                yield row


class _SplitWriter:
    """Writes one type's lines into ``<Type>.<nnn>.ndjson`` files of at most ``max_per_file`` lines.

    The name is the one the warehouse reads without a manifest (type up to the first dot).
    """

    def __init__(self, directory: Path, resource_type: str, max_per_file: int) -> None:
        self._directory = directory
        self._type = resource_type
        self._max = max_per_file
        self._file: TextIO | None = None
        self._part: Path | None = None
        self._count = 0
        self.paths: list[Path] = []

    def _open(self) -> TextIO:
        final = self._directory / f"{self._type}.{len(self.paths) + 1:03d}.ndjson"
        self._part = final.with_name(final.name + ".part")
        self.paths.append(final)
        self._count = 0
        return self._part.open("w", encoding="utf-8", newline="\n", buffering=_WRITE_BUFFER)

    def write(self, lines: list[str]) -> None:
        """Append lines (one patient's resources of this type), starting new files as they fill."""
        start = 0
        while start < len(lines):
            handle = self._file
            if handle is None:
                handle = self._file = self._open()
            room = self._max - self._count
            chunk = lines[start : start + room]
            handle.write("\n".join(chunk))
            handle.write("\n")
            self._count += len(chunk)
            start += len(chunk)
            if self._count >= self._max:
                self._finish()

    def _finish(self) -> None:
        if self._file is not None and self._part is not None:
            self._file.close()
            self._part.replace(self.paths[-1])
            self._file = None

    def close(self) -> None:
        self._finish()

    def abort(self) -> None:
        """Remove everything written so far: a failed export must not look like a short one."""
        if self._file is not None and self._part is not None:
            self._file.close()
            self._part.unlink(missing_ok=True)
            self._file = None
        for path in self.paths:
            path.unlink(missing_ok=True)


def write_export(
    types: Sequence[str],
    patients: int,
    seed: int,
    out_dir: Path,
    max_per_file: int = 3000,
    type_filters: Mapping[str, Sequence[str]] | None = None,
    site: Site = SANDBOX,
    day: int = 0,
) -> dict[str, list[Path]]:
    """Write ``types`` for ``patients`` patients as NDJSON files of at most ``max_per_file`` lines.

    Returns each type's files in order (an empty list when nothing matched its filters). ``site``
    renders another Epic customer's OIDs and MRN label; filters may use that site's systems. ``day``
    is the number of days after the data's anchor date: later days have a few resources amended, gone
    or new (see :mod:`.evolution`); day 0 is the data as generated.
    """
    if isinstance(types, str):
        raise TypeError("types is a sequence of type names, not a single string")
    resolved = list(dict.fromkeys(resolve_type(name) for name in types))
    if not resolved:
        raise ValueError("no resource types requested")
    check_counts(patients, seed)
    if isinstance(max_per_file, bool) or not isinstance(max_per_file, int) or max_per_file < 1:
        raise ValueError(f"max_per_file must be a positive integer, got {max_per_file!r}")
    if type_filters and not site.is_sandbox:
        type_filters = {name: [site.to_sandbox(query) for query in queries] for name, queries in type_filters.items()}
    predicates = compile_type_filters(resolved, type_filters)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {name: _SplitWriter(out_dir, name, max_per_file) for name in resolved}
    if isinstance(day, bool) or not isinstance(day, int) or day < 0:
        raise ValueError(f"day must be a whole number of days, 0 or later, got {day!r}")
    plan = [
        (name, BUILDERS[name], writers[name].write, predicates.get(name), site.rewriter(name)) for name in resolved
    ]
    try:
        for index in range(patients):
            chart = build_chart(seed, index)
            for name, builder, write, predicate, rewrite in plan:
                if predicate is None:
                    lines = [row.line for row in builder(chart)]
                else:
                    lines = [row.line for row in builder(chart) if predicate(row)]
                if day:
                    lines = list(evolve(name, lines, seed, day))
                if rewrite is not None:
                    lines = [rewrite(line) for line in lines]
                if lines:
                    write(lines)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    for writer in writers.values():
        writer.close()
    return {name: writers[name].paths for name in resolved}
