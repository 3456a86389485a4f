"""Framework-free DuckDB layer: a lossless raw layer with a snapshot change log and a quarantine,
plus derived tables built from SQL on FHIR ViewDefinitions. No Dagster import here."""

from epic_assets.warehouse.connection import WarehouseLockedError
from epic_assets.warehouse.loader import LoadResult, TypeCounts, load_export
from epic_assets.warehouse.warehouse import Warehouse, open_warehouse

__all__ = ["LoadResult", "TypeCounts", "Warehouse", "WarehouseLockedError", "load_export", "open_warehouse"]
