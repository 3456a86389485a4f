"""SQL on FHIR v2: compile ViewDefinitions into single DuckDB queries.

Public API::

    view = load_view(path_or_dict)          # parse + validate (ViewDefinitionError names the element)
    compiled = compile_view(view)           # CompiledView: name, resource, columns [(name, duckdb type)]
    compiled.sql(NdjsonSource(paths=[...])) # SQL over NDJSON files
    compiled.sql(JsonTextSource(query=..., column="resource"))  # SQL over JSON text in DuckDB
    available_views(views_dir)              # shipped library + user views, by name
"""

from epic_assets.views.compiler import CompiledView, compile_view
from epic_assets.views.definition import ViewDefinition, load_view
from epic_assets.views.errors import ViewDefinitionError
from epic_assets.views.sources import JsonTextSource, NdjsonSource

__all__ = [
    "CompiledView",
    "JsonTextSource",
    "NdjsonSource",
    "ViewDefinition",
    "ViewDefinitionError",
    "compile_view",
    "load_view",
]
