"""The Dagster entry point (``workspace.yaml`` loads ``defs`` from here)."""

from dagster import Definitions

defs = Definitions()
