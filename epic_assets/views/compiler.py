"""Compile a ViewDefinition into one DuckDB query.

Shape of the generated SQL::

    SELECT <columns> FROM (<source relation: one typed column per top-level element>) AS _resource
    WHERE "resourceType" = '<resource>' AND <view where>

when every select yields exactly one row per resource, and otherwise::

    SELECT _row."a", _row."b" FROM (SELECT unnest(<list of row structs>) AS _row FROM (...) WHERE ...)

Each select compiles to either a set of scalar column expressions (one row) or a DuckDB list of row
structs: ``forEach`` maps a lambda over a collection, nested selects form a cross product, ``unionAll``
concatenates lists, ``repeat`` walks a recursive element depth first. The source relation is built from
the view's minimal schema (:mod:`epic_assets.views.schema`) by an input source, so the same body serves
NDJSON files and JSON text already in DuckDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from epic_assets.identifiers import quote_sql_literal
from epic_assets.views import fhir_model
from epic_assets.views.definition import ViewDefinition, load_view
from epic_assets.views.errors import ViewDefinitionError
from epic_assets.views.expressions import Expr, Scope, Translator, constant_expr, derive
from epic_assets.views.schema import SchemaNode, new_root, quote_identifier
from epic_assets.views.temporal import ansi_cast

# How deep ``repeat`` follows a recursive element. Deeper data raises a query error rather than being
# silently cut (Questionnaire items nested this deep are not seen in practice).
REPEAT_MAX_DEPTH = 32
_MAX_COMPILE_PASSES = 6


class Source(Protocol):
    def relation(self, compiled: CompiledView) -> str:
        """SQL producing one row per resource with one typed column per top-level element."""


@dataclass(frozen=True)
class _Rows:
    """What a select produces: ``single`` column SQL (exactly one row) or ``rows`` (a list of structs)."""

    columns: tuple[str, ...]
    single: Mapping[str, str] | None = None
    rows: str | None = None
    # For forEach/repeat with a column-only body: (collection, item variable, 1-based index variable),
    # the body's column SQL being ``item_single``; lets the top level unnest the items instead.
    each: tuple[str, str, str] | None = None
    item_single: Mapping[str, str] | None = None


@dataclass
class CompiledView:
    """A compiled view: its output columns and the SQL to run it against an input source."""

    name: str
    resource: str
    schema: SchemaNode
    select_sql: str  # the body, with a placeholder standing for the source relation
    columns: list[tuple[str, str]] = field(default_factory=list)
    # Compile-time notes that do not stop the view, e.g. an element unknown to FHIR R4 (a typo?).
    warnings: list[str] = field(default_factory=list)
    # Whether the view has ``where`` conditions: filters on parsed elements beyond the resource type.
    filtered: bool = False

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def root_fields(self) -> list[tuple[str, SchemaNode]]:
        return list(self.schema.children.items())

    def read_json_columns(self) -> str:
        """The ``columns={...}`` argument of ``read_json``: the minimal typed schema."""
        entries = ", ".join(f"{quote_sql_literal(k)}: {quote_sql_literal(n.sql_type())}" for k, n in self.root_fields())
        return "{" + entries + "}"

    def transform_structure(self) -> dict[str, object]:
        """The ``json_transform`` structure equivalent to :meth:`read_json_columns`."""
        return {k: n.transform_structure() for k, n in self.root_fields()}

    def sql(self, source: Source) -> str:
        return self.select_sql.replace(_RELATION_PLACEHOLDER, source.relation(self))


_RELATION_PLACEHOLDER = "/*__relation__*/"


class _Compiler:
    def __init__(self, view: ViewDefinition, forced_json: frozenset[tuple[str, ...]]) -> None:
        self.view = view
        self.schema = new_root(view.resource, forced_json)
        self.root_token = f"/*root-{uuid.uuid4().hex}*/"
        root = Expr(self.root_token, False, view.resource, (self.schema,), is_root=True)
        constants = {c.name: constant_expr(c.fhir_type, c.value) for c in view.constants}
        self.t = Translator(root, constants, self.root_token)
        self.root = root
        self.type_filter = f"{quote_identifier('resourceType')} = {quote_sql_literal(view.resource)}"

    # ------------------------------------------------------------------ selects
    def build(self) -> tuple[_Rows, str]:
        scope = Scope(self.root, "CAST(0 AS BIGINT)")
        parts = [self.select(s, scope, f"select[{k}]") for k, s in enumerate(self.view.select)]
        rows = self.product(parts, "select")
        multis = [p for p in parts if p.single is None]
        if rows.single is None:
            # Resource-level columns next to row lists: computed after the unnest on the resource's
            # own columns, rather than captured into the row lambda (see finish()).
            singles = {name: sql for p in parts if p.single is not None for name, sql in p.single.items()}
            if len(multis) == 1 and multis[0].each is not None and multis[0].item_single is not None:
                # The only row list maps columns over one collection: unnest the items themselves and
                # compute the columns on them, with no lambda and no row structs.
                singles.update(multis[0].item_single)
                rows = _Rows(rows.columns, single=singles, each=multis[0].each)
            elif len(multis) < len(parts):
                rows = _Rows(rows.columns, single=singles, rows=self.product(multis, "select").rows)
        conditions = [self.type_filter]
        for k, path in enumerate(self.view.where):
            where = f"where[{k}].path"
            expr = self.t.translate(path, scope, where)
            conditions.append(f"coalesce({self.t.boolean(expr, where)}, false)")
        return rows, " AND ".join(conditions)

    def select(self, select: Mapping[str, Any], scope: Scope, where: str) -> _Rows:
        iteration = next((k for k in ("forEach", "forEachOrNull", "repeat") if k in select), None)
        inner_scope = scope
        collection = ""
        variable = index = ""
        if iteration is not None:
            if iteration == "repeat":
                items = self.repeat(select["repeat"], scope, f"{where}.repeat")
            else:
                items = self.t.translate(select[iteration], scope, f"{where}.{iteration}")
            if iteration == "forEach" and items.root_condition is not None and scope.focus.is_root:
                return self.select_if(select, items.root_condition, scope, where)
            collection = self.t.as_list(items)
            variable, index = self.t.fresh("e"), self.t.fresh("i")
            focus = Expr(variable, False, items.fhir_type, items.nodes, items.json)
            inner_scope = Scope(focus, f"CAST({index} - 1 AS BIGINT)")
        parts: list[_Rows] = []
        if "column" in select:
            parts.append(self.columns(select["column"], inner_scope, f"{where}.column"))
        for k, nested in enumerate(select.get("select", [])):
            parts.append(self.select(nested, inner_scope, f"{where}.select[{k}]"))
        if "unionAll" in select:
            parts.append(self.union_all(select["unionAll"], inner_scope, f"{where}.unionAll"))
        body = self.product(parts, where)
        if iteration is None:
            return body
        if iteration == "forEachOrNull":
            collection = f"(CASE WHEN coalesce(len({collection}), 0) = 0 THEN [NULL] ELSE {collection} END)"
        if body.single is not None:
            rows = f"list_transform({collection}, lambda {variable}, {index}: {self.struct(body)})"
            return _Rows(body.columns, rows=rows, each=(collection, variable, index), item_single=body.single)
        rows = f"flatten(list_transform({collection}, lambda {variable}, {index}: {body.rows}))"
        return _Rows(body.columns, rows=rows)

    def select_if(self, select: Mapping[str, Any], condition: str, scope: Scope, where: str) -> _Rows:
        """``forEach: where(criteria)`` on the resource: its rows, computed on the resource, when criteria holds.

        The only item is the resource itself (``%rowIndex`` 0), so the columns read the resource's own
        columns and share its once-per-row subexpressions, instead of packing every top-level element
        into a struct and mapping a lambda over a one-item list (measured: most of vital_signs' cost).
        """
        focus = Scope(scope.focus, "CAST(0 AS BIGINT)")
        self.t.conditional += 1
        try:
            body = self.select({k: v for k, v in select.items() if k != "forEach"}, focus, where)
        finally:
            self.t.conditional -= 1
        # A criteria that is false or empty (NULL) selects no item, as list_filter did.
        return _Rows(body.columns, rows=f"(CASE WHEN {condition} THEN {self.as_row_list(body)} ELSE [] END)")

    def struct(self, rows: _Rows) -> str:
        assert rows.single is not None
        fields = ", ".join(f"{quote_identifier(name)} := {rows.single[name]}" for name in rows.columns)
        return f"struct_pack({fields})"

    def as_row_list(self, rows: _Rows) -> str:
        return f"[{self.struct(rows)}]" if rows.single is not None else str(rows.rows)

    def product(self, parts: Sequence[_Rows], where: str) -> _Rows:
        columns: list[str] = []
        for part in parts:
            for name in part.columns:
                if name in columns:
                    raise ViewDefinitionError(f"{where}: column name '{name}' is used twice")
                columns.append(name)
        multis = [p for p in parts if p.single is None]
        if len(parts) == 1 and multis:
            return parts[0]  # its rows already are the product: no lambda rebuilding each row as it is
        sources: dict[str, str] = {}
        variables: list[str] = []
        for part in parts:
            if part.single is not None:
                sources.update(part.single)
            else:
                variable = self.t.fresh("r")
                variables.append(variable)
                sources.update({name: f"{variable}.{quote_identifier(name)}" for name in part.columns})
        merged = _Rows(tuple(columns), single={name: sources[name] for name in columns})
        if not multis:
            return merged
        sql = f"list_transform({multis[-1].rows}, lambda {variables[-1]}: {self.struct(merged)})"
        for part, variable in reversed(list(zip(multis[:-1], variables[:-1], strict=True))):
            sql = f"flatten(list_transform({part.rows}, lambda {variable}: {sql}))"
        return _Rows(tuple(columns), rows=sql)

    def union_all(self, branches: Sequence[Mapping[str, Any]], scope: Scope, where: str) -> _Rows:
        compiled = [self.select(b, scope, f"{where}[{k}]") for k, b in enumerate(branches)]
        first = compiled[0].columns
        for k, branch in enumerate(compiled[1:], start=1):
            if branch.columns != first:
                raise ViewDefinitionError(
                    f"{where}[{k}]: columns {list(branch.columns)} do not match {where}[0] columns {list(first)} "
                    "(unionAll branches need the same names in the same order)"
                )
        sql = self.as_row_list(compiled[0])
        for branch in compiled[1:]:
            sql = f"list_concat({sql}, {self.as_row_list(branch)})"
        return _Rows(first, rows=sql)

    def columns(self, columns: Sequence[Mapping[str, Any]], scope: Scope, where: str) -> _Rows:
        names: list[str] = []
        values: dict[str, str] = {}
        for k, column in enumerate(columns):
            here = f"{where}[{k}]"
            name = column["name"]
            if name in values:
                raise ViewDefinitionError(f"{here}.name: column name '{name}' is used twice")
            expr = self.t.translate(column["path"], scope, f"{here}.path")
            values[name] = self.column_value(column, expr, here)
            names.append(name)
        return _Rows(tuple(names), single=values)

    def column_value(self, column: Mapping[str, Any], expr: Expr, where: str) -> str:
        declared = column.get("type")
        if expr.json and fhir_model.is_primitive(declared):
            expr = self.t.to_text(derive(expr, fhir_type=None))
            sql_type = fhir_model.sql_type_of_primitive(str(declared))
            if sql_type != fhir_model.TEXT_SQL_TYPE:
                expr = self.cast_items(expr, sql_type)
        elif expr.json and expr.fhir_type is not None and fhir_model.is_primitive(expr.fhir_type):
            expr = self.t.to_text(derive(expr, fhir_type=None))
        if column.get("collection") is True:
            sql = f"coalesce({self.t.as_list(expr)}, [])"
        else:
            sql = self.t.singleton(expr, f"{where}.path").sql
        ansi = next((t.get("value") for t in column.get("tag", []) if t.get("name") == "ansi/type"), None)
        if ansi is not None:
            if column.get("collection") is True:
                v = self.t.fresh()
                sql = f"list_transform({sql}, lambda {v}: {ansi_cast(v, ansi, f'{where}.tag')})"
            else:
                sql = ansi_cast(sql, ansi, f"{where}.tag")
        return sql

    def cast_items(self, expr: Expr, sql_type: str) -> Expr:
        if expr.many:
            v = self.t.fresh()
            return derive(expr, sql=f"list_transform({expr.sql}, lambda {v}: TRY_CAST({v} AS {sql_type}))")
        return derive(expr, sql=f"TRY_CAST({expr.sql} AS {sql_type})")

    # ------------------------------------------------------------------ repeat
    def repeat(self, paths: Sequence[str], scope: Scope, where: str) -> Expr:
        """All nodes reached by following ``paths`` recursively, depth first, parents before children.

        Recursive elements cannot be a static STRUCT, so the first step is held as JSON (requested from
        the schema; the compile reruns once if that changes it) and deeper levels navigate JSON. The walk
        is breadth first, one level per step, each node tagged with its index path; sorting by that path
        gives depth-first pre-order. Steps are chained through single-element lists acting as ``let``,
        which keeps both the SQL text and DuckDB's binding time linear in the depth.
        """
        t = self.t
        first_level = [t.translate(p, scope, f"{where}[{k}]") for k, p in enumerate(paths)]
        for expr in first_level:
            if not expr.json:
                t.json_requests.update(node.path for node in expr.nodes)
        fhir_type = next((e.fhir_type for e in first_level if e.fhir_type is not None), None)

        def tagged(items: list[Expr], parent_key: str | None) -> str:
            lists = []
            for k, item in enumerate(items):
                c, i = t.fresh("c"), t.fresh("i")
                key = f"[{k}, {i}]" if parent_key is None else f"list_concat({parent_key}, [{k}, {i}])"
                node_list = f"coalesce({t.as_list(t.as_json(item))}, [])"
                lists.append(f"list_transform({node_list}, lambda {c}, {i}: struct_pack(k := {key}, n := {c}))")
            sql = lists[0]
            for other in lists[1:]:
                sql = f"list_concat({sql}, {other})"
            return sql

        def step(frontier: str) -> str:
            e = t.fresh("e")
            focus = Expr(f"{e}.n", False, fhir_type, (), True)
            items = [t.translate(p, Scope(focus, scope.row_index), f"{where}[{k}]") for k, p in enumerate(paths)]
            return f"flatten(list_transform({frontier}, lambda {e}: {tagged(items, f'{e}.k')}))"

        top = tagged(first_level, None)
        state = f"struct_pack(f := {top}, a := {top})"
        for _ in range(REPEAT_MAX_DEPTH):
            s, g = t.fresh("s"), t.fresh("g")
            grown = f"struct_pack(f := {g}, a := list_concat({s}.a, {g}))"
            advanced = f"list_transform([{step(f'{s}.f')}], lambda {g}: {grown})[1]"
            state = f"list_transform([{state}], lambda {s}: {advanced})[1]"
        s = t.fresh("s")
        message = quote_sql_literal(f"{where}: data nested deeper than {REPEAT_MAX_DEPTH} levels")
        finished = f"(CASE WHEN coalesce(len({s}.f), 0) > 0 THEN error({message}) ELSE {s}.a END)"
        ordered = f"list_sort(list_transform([{state}], lambda {s}: {finished})[1])"
        n = t.fresh("n")
        return Expr(f"list_transform({ordered}, lambda {n}: {n}.n)", True, fhir_type, (), True)

    def finish(self, rows: _Rows, condition: str) -> str:
        root_fields = ", ".join(f"{quote_identifier(k)} := {quote_identifier(k)}" for k in self.schema.children)
        relation = f"({_RELATION_PLACEHOLDER}) AS _resource"
        if self.t.hoisted:
            shared = ",\n  ".join(f"{sql} AS {expr.sql}" for sql, expr in self.t.hoisted.values())
            relation = f"(SELECT *,\n  {shared}\nFROM {relation}\nWHERE {self.type_filter}) AS _resource"
        if rows.single is not None and rows.each is not None:
            # Items unnested beside the resource's columns, bound to the names the lambda gave them, so
            # the same column SQL reads them; two unnests of equal length are zipped by DuckDB. The
            # collection is computed once, in its own projection (it may be a filter or a repeat walk).
            collection, item, index = rows.each
            projections = ",\n  ".join(f"{rows.single[n]} AS {quote_identifier(n)}" for n in rows.columns)
            items = f"(SELECT *, {collection} AS _items\nFROM {relation}\nWHERE {condition}) AS _items"
            sql = (
                f"SELECT\n  {projections}\nFROM (SELECT *, unnest(_items) AS {item}, "
                f"unnest(range(1, len(_items) + 1)) AS {index}\nFROM {items}) AS _rows"
            )
        elif rows.single is not None and rows.rows is not None:
            # *: the resource's columns ride along the unnest for the resource-level columns, each
            # evaluated once per output row with plain vectorised expressions; a resource without rows
            # is dropped by the unnest before they run, as the lambda never ran them for it.
            projections = ",\n  ".join(
                f"{rows.single[n] if n in rows.single else '_row.' + quote_identifier(n)} AS {quote_identifier(n)}"
                for n in rows.columns
            )
            sql = (
                f"SELECT\n  {projections}\nFROM (SELECT *, unnest({rows.rows}) AS _row\n"
                f"FROM {relation}\nWHERE {condition}) AS _rows"
            )
        elif rows.single is not None:
            projections = ",\n  ".join(f"{rows.single[name]} AS {quote_identifier(name)}" for name in rows.columns)
            sql = f"SELECT\n  {projections}\nFROM {relation}\nWHERE {condition}"
        else:
            projections = ",\n  ".join(f"_row.{quote_identifier(n)} AS {quote_identifier(n)}" for n in rows.columns)
            sql = (
                f"SELECT\n  {projections}\nFROM (SELECT unnest({rows.rows}) AS _row\n"
                f"FROM {relation}\nWHERE {condition}) AS _rows"
            )
        return sql.replace(self.root_token, f"struct_pack({root_fields})")


def compile_view(view: ViewDefinition | Mapping[str, Any] | str | Path) -> CompiledView:
    """Compile a view (or anything :func:`load_view` accepts) into a :class:`CompiledView`."""
    definition = load_view(view)
    forced: frozenset[tuple[str, ...]] = frozenset()
    for _ in range(_MAX_COMPILE_PASSES):
        compiler = _Compiler(definition, forced)
        rows, condition = compiler.build()
        requested = forced | compiler.t.json_requests
        if requested == forced:
            break
        forced = frozenset(requested)
    else:  # pragma: no cover - each pass only adds paths, so this needs a pathological view
        raise ViewDefinitionError("ViewDefinition: schema did not settle while compiling repeat paths")
    name = definition.name or definition.resource.lower()
    compiled = CompiledView(name, definition.resource, compiler.schema, compiler.finish(rows, condition))
    compiled.warnings = list(compiler.t.warnings)
    compiled.filtered = bool(definition.where)
    if not fhir_model.is_known_type(definition.resource):
        compiled.warnings.insert(
            0, f"resource: {definition.resource} is not in the shipped FHIR R4 definitions; elements are read as JSON"
        )
    compiled.columns = _describe(compiled)
    return compiled


def _describe(compiled: CompiledView) -> list[tuple[str, str]]:
    """Output column names and DuckDB types, asked of DuckDB itself over an empty input."""
    import duckdb

    from epic_assets.views.sources import JsonTextSource

    empty = JsonTextSource(query="SELECT CAST(NULL AS VARCHAR) AS resource WHERE false", column="resource")
    connection = duckdb.connect()
    try:
        description = connection.sql(compiled.sql(empty)).description
    except duckdb.Error as error:
        raise ViewDefinitionError(f"ViewDefinition: DuckDB rejected the compiled query: {error}") from None
    finally:
        connection.close()
    return [(column[0], str(column[1])) for column in description]
