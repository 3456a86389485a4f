"""``epic-assets load DIR``: apply a downloaded export to the warehouse and rebuild the derived tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from epic_assets.cli.common import add_db_argument, format_rows, open_from_args
from epic_assets.errors import EpicAssetsError
from epic_assets.settings import Settings, load_settings
from epic_assets.warehouse import LoadResult, Warehouse

_COLUMNS = ("loaded", "inserted", "updated", "unchanged", "deleted", "quarantined", "duplicates")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load an export directory (NDJSON[.gz] files, optional manifest.json) into DuckDB",
        description=(
            "Load the NDJSON files of one export into the raw layer (original JSON kept byte for byte),"
            " record what changed, quarantine bad lines, then bring the derived tables up to date (re-flattening"
            " only the resources that changed since each table was built)."
            " Without --incremental the export is a complete snapshot of the types it holds."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="export directory")
    parser.add_argument("--source", metavar="NAME", help="source label (default: <host>.<Group> from manifest.json)")
    parser.add_argument(
        "--incremental", action="store_true", help="the export was made with _since: upsert and apply deleted[]"
    )
    parser.add_argument("--no-tables", action="store_true", help="load the raw layer only; skip the derived tables")
    parser.add_argument(
        "--rebuild-tables",
        action="store_true",
        help="flatten every resource again, instead of only those that changed since each table was built",
    )
    add_db_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_from_args(args, read_only=False) as warehouse:
        load_and_report(
            warehouse,
            args.directory,
            load_settings(),
            source=args.source,
            incremental=args.incremental,
            tables=not args.no_tables,
            full_rebuild=args.rebuild_tables,
        )
    return 0


def load_and_report(
    warehouse: Warehouse,
    directory: Path,
    settings: Settings,
    *,
    source: str | None,
    incremental: bool,
    tables: bool,
    full_rebuild: bool = False,
) -> LoadResult:
    """Load one export, print its summary, then (optionally) rebuild and list the derived tables."""
    result = warehouse.load(directory, source=source, incremental=incremental, progress=_progress)
    print(summary(result), end="")
    if tables:
        try:
            warehouse.build_tables(
                views_dir=settings.views_dir,
                constants=settings.view_constants,
                full=full_rebuild,
                on_built=lambda built: print(f"table {built.name}: {built.describe()}", flush=True),
            )
        except EpicAssetsError as error:
            message = f"the export is loaded, but the derived tables were not all rebuilt: {error}"
            raise EpicAssetsError(message) from None
    return result


def _progress(line: str) -> None:
    """Phases of a load as they end, on stderr, so the summary on stdout stays clean for scripts."""
    print(f"load: {line}", file=sys.stderr, flush=True)


def summary(result: LoadResult) -> str:
    """The per-type table printed after a load."""
    if result.already_loaded:
        return (
            f"source {result.source}: this export was already loaded as export {result.export_id};"
            " nothing changed (0 changes).\n"
        )
    rows = [[t.resource_type, *(getattr(t, c) for c in _COLUMNS)] for t in result.types]
    rows.append(["total", *(result.total(c) for c in _COLUMNS)])
    header = (
        f"source {result.source}: export {result.export_id} ({result.mode}), {result.lines} lines"
        f" ({result.blank_lines} blank) in {result.seconds:.2f} s\n"
    )
    table = format_rows(["type", *_COLUMNS], rows, "table", footer=False)
    if result.messages:
        listed = ", ".join(f"{n} {severity}" for severity, n in sorted(result.messages.items()))
        table += f"the server reported issues with this export ({listed}); see raw_export_messages\n"
    return header + table
