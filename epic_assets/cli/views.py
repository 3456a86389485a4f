"""``epic-assets views``: run, inspect and test SQL on FHIR ViewDefinitions.

* ``views run VIEW --input FILE_OR_DIR [--format csv|json]`` prints the view's rows.
* ``views sql VIEW`` prints the compiled DuckDB SQL.
* ``views test [--suite DIR] [--report FILE]`` runs the official conformance suite.
* ``views list`` shows the shipped and user views (``EPIC_VIEWS_DIR``).

VIEW is a ViewDefinition JSON file or the name of an available view.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import duckdb

from epic_assets.settings import load_settings
from epic_assets.views import CompiledView, NdjsonSource, ViewDefinitionError, compile_view
from epic_assets.views.catalog import CatalogEntry, catalog
from epic_assets.views.conformance import report, run_suite

_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("views", help="SQL on FHIR ViewDefinitions: run, show SQL, test, list")
    commands = parser.add_subparsers(title="views commands", metavar="COMMAND")

    run = commands.add_parser("run", help="run a view over NDJSON files and print its rows")
    run.add_argument("view", help="ViewDefinition JSON file or the name of an available view")
    run.add_argument("--input", required=True, type=Path, help="NDJSON file (.ndjson/.ndjson.gz) or a folder")
    run.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json lines")
    run.set_defaults(handler=_run)

    sql = commands.add_parser("sql", help="print the compiled DuckDB SQL of a view")
    sql.add_argument("view", help="ViewDefinition JSON file or the name of an available view")
    sql.add_argument("--input", type=Path, help="NDJSON file or folder to show in the FROM clause")
    sql.set_defaults(handler=_sql)

    test = commands.add_parser("test", help="run the SQL on FHIR v2 conformance suite")
    test.add_argument("--suite", type=Path, help="folder of suite files (default: ../shared/.../latest)")
    test.add_argument("--report", type=Path, help="write the upstream test_report.json here")
    test.set_defaults(handler=_test)

    listing = commands.add_parser("list", help="list shipped and user views")
    listing.set_defaults(handler=_list)
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 2)[1])


def _catalog() -> dict[str, CatalogEntry]:
    settings = load_settings()
    return catalog(settings.views_dir, settings.view_constants)


def _compile(reference: str) -> CompiledView:
    path = Path(reference)
    if path.suffix == ".json" or path.exists():
        compiled = compile_view(path)
    else:
        entries = _catalog()
        entry = entries.get(reference)
        if entry is None:
            raise ViewDefinitionError(
                f"{reference}: no such file and no view of that name (available: {', '.join(entries)})"
            )
        compiled = compile_view(entry.view)
    for warning in compiled.warnings:
        print(f"epic-assets: warning: {warning}", file=sys.stderr)
    return compiled


def _first_resource_type(path: Path) -> str | None:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            if line.strip():
                try:
                    value = json.loads(line).get("resourceType")
                except (json.JSONDecodeError, AttributeError):
                    raise ViewDefinitionError(f"{path}: line 1 is not a JSON object") from None
                return value if isinstance(value, str) else None
    return None


def input_files(location: Path, resource: str) -> list[Path]:
    """The NDJSON file given, or the files in a folder whose resources are of type ``resource``."""
    if location.is_file():
        return [location]
    if not location.is_dir():
        raise ViewDefinitionError(f"{location}: no such file or folder")
    candidates = sorted(p for p in location.iterdir() if p.is_file() and p.name.endswith(_NDJSON_SUFFIXES))
    return [p for p in candidates if _first_resource_type(p) == resource]


def _run(args: argparse.Namespace) -> int:
    compiled = _compile(args.view)
    files = input_files(args.input, compiled.resource)
    if not files:
        raise ViewDefinitionError(f"{args.input}: no NDJSON files of {compiled.resource} resources")
    connection = duckdb.connect()
    try:
        cursor = connection.execute(compiled.sql(NdjsonSource(files)))
        columns = [c[0] for c in cursor.description]
        _print_rows(columns, iter(lambda: cursor.fetchmany(10_000), []), args.format)
    except duckdb.Error as error:
        raise ViewDefinitionError(f"{args.view}: query failed: {error}") from None
    except BrokenPipeError:  # the reader (e.g. `head`) stopped early: not an error
        sys.stderr.close()
    finally:
        connection.close()
    return 0


def _print_rows(columns: list[str], batches: Any, output_format: str) -> None:
    out = sys.stdout
    if output_format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for batch in batches:
            writer.writerows([_csv_value(v) for v in row] for row in batch)
        return
    for batch in batches:
        for row in batch:
            out.write(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n")


def _csv_value(value: object) -> object:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def _sql(args: argparse.Namespace) -> int:
    compiled = _compile(args.view)
    files: list[Path | str] = [f"{compiled.resource}.ndjson"]
    if args.input is not None:
        files = list(input_files(args.input, compiled.resource)) or files
    print(compiled.sql(NdjsonSource(files)))
    return 0


def _suite_dir(given: Path | None) -> Path:
    if given is not None:
        if not given.is_dir():
            raise ViewDefinitionError(f"{given}: suite folder does not exist")
        return given
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base.parent / "shared" / "sql-on-fhir-tests" / "latest"
        if candidate.is_dir():
            return candidate
    raise ViewDefinitionError("no suite folder found; pass --suite DIR (a folder of SQL on FHIR test files)")


def _test(args: argparse.Namespace) -> int:
    suite = _suite_dir(args.suite)
    results = run_suite(suite)
    for result in results:
        if not result.passed:
            print(f"FAIL {result.file} :: {result.name}: {result.detail[:500]}")
    if args.report is not None:
        args.report.write_text(json.dumps(report(results), indent=2) + "\n", encoding="utf-8")
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


def _list(args: argparse.Namespace) -> int:
    entries = _catalog()
    width = max((len(name) for name in entries), default=4)
    print(f"{'name':<{width}}  {'resource':<20}  {'origin':<8}  path")
    for name, entry in entries.items():
        print(f"{name:<{width}}  {entry.resource:<20}  {entry.origin:<8}  {entry.path}")
    return 0
