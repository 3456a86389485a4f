"""The small side files of an export: ``deleted[]`` Bundles and ``error[]`` OperationOutcomes.

They are tiny next to the resource files, so plain Python reads them; both keep what they cannot
understand visible (an error naming the file and line, or the raw text) rather than skipping it.
"""

from __future__ import annotations

import json

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse.export_dir import ExportFile
from epic_assets.warehouse.scan import open_export_file


def read_operation_outcomes(
    files: tuple[ExportFile, ...],
) -> list[tuple[str, int, str | None, str | None, str | None, str]]:
    """``(file, line, severity, code, message, text)`` per issue of each OperationOutcome line."""
    issues: list[tuple[str, int, str | None, str | None, str | None, str]] = []
    for export_file in files:
        with open_export_file(export_file.path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    outcome = json.loads(text)
                except json.JSONDecodeError:
                    issues.append((export_file.name, line_no, None, None, "not valid JSON", text))
                    continue
                found = outcome.get("issue") if isinstance(outcome, dict) else None
                for issue in found if isinstance(found, list) and found else [{}]:
                    issue = issue if isinstance(issue, dict) else {}
                    details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
                    codings = details.get("coding") if isinstance(details.get("coding"), list) else []
                    epic_code = next((c.get("code") for c in codings if isinstance(c, dict) and c.get("code")), None)
                    code = " ".join(str(c) for c in (issue.get("code"), epic_code) if c) or None
                    message = details.get("text") or issue.get("diagnostics")
                    issues.append((export_file.name, line_no, issue.get("severity"), code, message, text))
    return issues


def read_deleted_bundles(files: tuple[ExportFile, ...]) -> list[tuple[str, str]]:
    """``(type, id)`` pairs from ``deleted[]`` NDJSON Bundles with ``request.method = DELETE``."""
    deletions: list[tuple[str, str]] = []
    for export_file in files:
        with open_export_file(export_file.path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                where = f"{export_file.name} line {line_no}"
                try:
                    bundle = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise EpicAssetsError(f"deleted-resources file {where} is not valid JSON: {error}") from None
                for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
                    request = entry.get("request", {}) if isinstance(entry, dict) else {}
                    if str(request.get("method", "")).upper() != "DELETE":
                        continue
                    url = str(request.get("url", ""))
                    type_name, _, resource_id = url.strip("/").rpartition("/")
                    if not resource_id or "/" in type_name:
                        raise EpicAssetsError(f"deleted-resources file {where}: request.url {url!r} is not Type/id")
                    deletions.append((identifiers.resource_type(type_name, where=where), resource_id))
    return deletions
