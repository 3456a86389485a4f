"""Building small export directories for the warehouse tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path


def resource(resource_type: str, resource_id: str, **fields: object) -> str:
    """A compact one-line FHIR resource."""
    return json.dumps({"resourceType": resource_type, "id": resource_id, **fields}, separators=(",", ":"))


def write_export(
    directory: Path,
    files: Mapping[str, Iterable[str | bytes]],
    *,
    manifest: Mapping[str, object] | None = None,
) -> Path:
    """Write ``files`` (name -> lines) into ``directory``; ``.gz`` names are gzipped. Lines get ``\\n``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        data = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
        path = directory / name
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    if manifest is not None:
        (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def epic_manifest(
    outputs: list[tuple[str, str]],
    *,
    transaction_time: str = "2024-05-09T09:54:22Z",
    types: str = "Patient,Observation",
    deleted: list[tuple[str, str]] | None = None,
    errors: list[str] | None = None,
) -> dict:
    """A manifest shaped like Epic's (string requiresAccessToken, no count) for ``(type, file id)`` pairs."""
    base = "https://fhir.example.org/api/FHIR/BulkRequest/0000000000000000000000000000ABCD"
    return {
        "transactionTime": transaction_time,
        "request": f"https://fhir.example.org/api/FHIR/R4/Group/grp1/$export?_type={types}",
        "requiresAccessToken": "true",
        "output": [{"type": t, "url": f"{base}/{name}"} for t, name in outputs],
        "deleted": [{"type": t, "url": f"{base}/{name}"} for t, name in deleted or []],
        "error": [{"type": "OperationOutcome", "url": f"{base}/{name}"} for name in errors or []],
    }


def delete_bundle(*references: str) -> str:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": ref}} for ref in references],
        }
    )
