"""epic-assets: FHIR Bulk Data exports from Epic, landed in DuckDB as typed tables.

Layers (data flows one way, top to bottom):

- ``client``     framework-free Epic Bulk Data client (HTTP, auth, export lifecycle)
- ``emulator``   a faithful local Epic (HTTP server + synthetic Epic-shaped data)
- ``views``      SQL on FHIR v2 ViewDefinitions compiled to DuckDB SQL, and the shipped table library
- ``warehouse``  framework-free DuckDB layer: lossless raw resources, change log, derived tables
- ``pipeline``   the thin Dagster layer wiring the above into assets, jobs and schedules
- ``cli``        the ``epic-assets`` command
"""

__version__ = "0.1.0"
