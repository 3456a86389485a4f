"""Translation of FHIRPath (the ViewDefinition subset) into DuckDB SQL expressions over the parsed schema.

A translated expression is an :class:`Expr`: SQL text plus what the compiler knows statically about it —
whether it is a collection (a DuckDB ``LIST``) or at most one value (``NULL`` meaning empty), its FHIR
type, the schema nodes it was read from (so navigating further registers the elements it needs) and
whether it is held as raw ``JSON``. Static cardinality is what makes the common case fast: a path made
of 0..1 elements compiles to plain struct field access with no list functions at all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from epic_assets.identifiers import quote_sql_literal
from epic_assets.views import fhir_model, fhirpath
from epic_assets.views.errors import ViewDefinitionError
from epic_assets.views.schema import SchemaNode, quote_identifier

_LAMBDA_VARIABLE = re.compile(r"_[a-z]+[0-9]+")
_BOOLEAN_TYPES = {"boolean", None}
_NUMERIC_TYPES = {"integer", "decimal", "positiveInt", "unsignedInt", "integer64"}
_INTEGER_TYPES = {"integer", "positiveInt", "unsignedInt", "integer64"}
_STRING_TYPES = {"string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid", "base64Binary", "xhtml"}


@dataclass(frozen=True)
class Expr:
    """A translated FHIRPath expression."""

    sql: str
    many: bool
    fhir_type: str | None
    nodes: tuple[SchemaNode, ...] = ()
    json: bool = False
    is_root: bool = False
    # For ``a | b | c``: the operands, so ``.first()`` can become coalesce(a.first(), b.first(), ...)
    # instead of materialising and de-duplicating the concatenated list.
    union_parts: tuple[Expr, ...] = ()
    # For a single primitive read from an element: (parent, element name), so that ``.extension`` and
    # ``.id`` can read the FHIR JSON '_element' sibling that holds a primitive's extensions.
    origin: tuple[Expr, str] | None = None
    # For ``c.where(...)`` over a collection: the SQL of ``c``, so that ``.first()`` of a union of
    # filters of one collection can skip the filters when ``c`` holds at most one item.
    filtered_from: str | None = None
    # For ``c.f`` flattened over a collection ``c`` (``flatten(list_transform(c, ...))``): the SQL of
    # ``c`` and of ``c[1].f``, so that a one-item ``c`` can be read without building the flat list.
    flattened_from: tuple[str, str] | None = None
    # For a collection computed item by item from a collection ``c`` (filters, single-valued member
    # reads: ``c.where(...).code``): the SQL of ``c`` and of this value when ``c`` holds at most one
    # item, computed on ``c[1]`` without list lambdas. ``.first()`` uses it for the usual one-item case.
    one_item: tuple[str, str] | None = None
    # For a collection of string literals (``'a' | 'b'``): the distinct SQL literals, in order, so that
    # membership compiles to ``x IN ('a', 'b')`` rather than list lambdas run for every row.
    literal_items: tuple[str, ...] = ()
    # For ``where(criteria)`` applied to the resource itself: the SQL condition, so that a ``forEach``
    # over it can evaluate its columns on the resource's own columns (see the compiler's select()).
    root_condition: str | None = None


def derive(e: Expr, **changes: object) -> Expr:
    """A copy of ``e`` with changes; union operands never carry over to a derived value."""
    changes.setdefault("union_parts", ())
    changes.setdefault("origin", None)
    changes.setdefault("filtered_from", None)
    changes.setdefault("flattened_from", None)
    changes.setdefault("one_item", None)
    changes.setdefault("literal_items", ())
    changes.setdefault("root_condition", None)
    return replace(e, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Choice:
    """A choice element (``value`` of ``value[x]``) awaiting ``ofType(T)``."""

    parent: Expr
    stem: str
    types: tuple[str, ...]


Value = Expr | Choice


@dataclass(frozen=True)
class Scope:
    """What an expression is evaluated against: the focus (``$this``) and ``%rowIndex``."""

    focus: Expr
    row_index: str


class Translator:
    """Translates FHIRPath for one view; shares the lambda-variable counter and the root schema."""

    def __init__(
        self,
        root: Expr,
        constants: Mapping[str, Expr],
        root_struct_token: str,
    ) -> None:
        self.root = root
        self.constants = constants
        self.root_struct_token = root_struct_token
        self._counter = itertools.count(1)
        self.json_requests: set[tuple[str, ...]] = set()
        # Paths that read elements the shipped definitions do not know (kept as untyped JSON).
        self.warnings: list[str] = []
        # Resource-level subexpressions computed once per row in an inner projection (see call()).
        self.hoisted: dict[fhirpath.Node, tuple[str, Expr]] = {}
        # Above zero while translating columns evaluated only for some resources (a forEach over
        # where(...) of the resource): they reuse hoisted subexpressions but add none, since a hoisted
        # one runs for every resource and could then raise (single(), overflow) where it did not before.
        self.conditional = 0

    def fresh(self, prefix: str = "x") -> str:
        return f"_{prefix}{next(self._counter)}"

    # ----------------------------------------------------------------- entry points
    def translate(self, text: object, scope: Scope, where: str) -> Expr:
        if not isinstance(text, str):
            raise ViewDefinitionError(f"{where}: expected a FHIRPath string, got {type(text).__name__}")
        try:
            node = fhirpath.parse(text)
        except fhirpath.FhirPathSyntaxError as error:
            raise ViewDefinitionError(f"{where}: invalid FHIRPath {text!r}: {error}") from None
        return self.resolve(self.value(node, scope, where), where)

    def resolve(self, value: Value, where: str) -> Expr:
        if isinstance(value, Choice):
            raise ViewDefinitionError(
                f"{where}: '{value.stem}' is a choice element ({'|'.join(value.types[:6])}"
                f"{'|...' if len(value.types) > 6 else ''}); pick one with .ofType(Type)"
            )
        return value

    # ----------------------------------------------------------------- helpers on collections
    def as_list(self, e: Expr) -> str:
        if e.many:
            return e.sql
        if e.sql == "NULL":
            return "[]"
        v = self.fresh("n")
        return f"list_filter([{e.sql}], lambda {v}: {v} IS NOT NULL)"

    def first(self, e: Expr) -> Expr:
        if e.union_parts:
            # Under the priority guard the parts only run for collections of two or more items, where
            # a one-item fast path would never apply.
            plain = f"coalesce({', '.join(f'({p.sql})[1]' if p.many else p.sql for p in e.union_parts)})"
            chosen = _guard_priority_choice(e.union_parts, plain)
            if chosen is None:
                chosen = f"coalesce({', '.join(self.first(p).sql for p in e.union_parts)})"
            return derive(e, sql=chosen, many=False, union_parts=())
        if not e.many:
            return e
        if e.one_item is not None:
            collection, single = e.one_item
            return derive(
                e,
                sql=f"(CASE WHEN coalesce(len({collection}), 0) <= 1 THEN {single} ELSE ({e.sql})[1] END)",
                many=False,
            )
        return derive(e, sql=f"({e.sql})[1]", many=False)

    @staticmethod
    def _one_item_source(e: Expr) -> tuple[str, str]:
        """The collection a per-item chain starts from and the chain's value on its only item."""
        return e.one_item if e.one_item is not None else (e.sql, f"({e.sql})[1]")

    def singleton(self, e: Expr, where: str) -> Expr:
        """At most one value, raising at query time when the collection holds more (FHIRPath semantics)."""
        if not e.many:
            return e
        message = quote_sql_literal(f"{where}: expression returned more than one value")
        return derive(e, sql=f"(CASE WHEN len({e.sql}) > 1 THEN error({message}) ELSE ({e.sql})[1] END)", many=False)

    def to_text(self, e: Expr) -> Expr:
        """A JSON-held value of unknown type, read as text for comparison and output."""
        if e.json and e.fhir_type is None:
            if e.many:
                v = self.fresh()
                return derive(e, sql=f"list_transform({e.sql}, lambda {v}: json_extract_string({v}, '$'))", json=False)
            return derive(e, sql=f"json_extract_string({e.sql}, '$')", json=False)
        return e

    def boolean(self, e: Expr, where: str) -> str:
        e = self.singleton(self.to_text(e), where)
        if e.fhir_type not in _BOOLEAN_TYPES:
            raise ViewDefinitionError(f"{where}: expected a boolean expression, got {e.fhir_type}")
        if e.fhir_type is None:
            return f"TRY_CAST({e.sql} AS BOOLEAN)"
        return e.sql

    # ----------------------------------------------------------------- navigation
    def member(self, base: Expr, name: str, where: str) -> Value:
        if fhir_model.is_primitive(base.fhir_type) and name in {"extension", "id"} and base.origin is not None:
            parent, element_name = base.origin
            sibling = self._navigate(parent, f"_{element_name}", "Element", False, where)
            return self.member(sibling, name, where)
        if fhir_model.is_primitive(base.fhir_type) and not base.json:
            raise ViewDefinitionError(f"{where}: cannot read '{name}' of a {base.fhir_type} value")
        definition = fhir_model.element(base.fhir_type, name) if base.fhir_type else None
        if definition is not None and definition.is_choice:
            return Choice(base, name, definition.types)
        if definition is None:
            if base.fhir_type is not None and fhir_model.is_known_type(base.fhir_type):
                message = f"{where}: '{name}' is not an element of {base.fhir_type} in FHIR R4; read as untyped JSON"
                if message not in self.warnings:
                    self.warnings.append(message)
            return self._navigate(base, name, None, False, where)
        return self._navigate(base, name, definition.types[0], definition.many, where)

    def _navigate(self, base: Expr, name: str, fhir_type: str | None, many: bool, where: str) -> Expr:
        result = self._navigate_to(base, name, fhir_type, many, where)
        if fhir_model.is_primitive(fhir_type) and not many and not base.many:
            return replace(result, origin=(base, name))
        return result

    def _navigate_to(self, base: Expr, name: str, fhir_type: str | None, many: bool, where: str) -> Expr:
        nodes = tuple(n.child(name, fhir_type, many) for n in base.nodes)
        for node in base.nodes:
            node.navigated = True
        if base.json:
            return self._json_navigate(base, name, fhir_type, many, nodes)
        child_json = any(n.held_as_json for n in nodes) if nodes else True
        if base.is_root:
            sql = quote_identifier(name)
            return self._normalise_unknown(Expr(sql, many, fhir_type, nodes, child_json), fhir_type)

        def access(v: str) -> str:
            if _LAMBDA_VARIABLE.fullmatch(v):
                return f"{v}.{quote_identifier(name)}"
            return f"struct_extract({v}, {quote_sql_literal(name)})"

        return self._normalise_unknown(self._lift(base, access, many, fhir_type, nodes, child_json), fhir_type)

    def _lift(
        self,
        base: Expr,
        access: Callable[[str], str],
        many: bool,
        fhir_type: str | None,
        nodes: tuple[SchemaNode, ...],
        json: bool,
    ) -> Expr:
        """Apply a per-item access to a value or a collection, flattening as FHIRPath does."""
        if not base.many:
            return Expr(access(base.sql), many, fhir_type, nodes, json)
        v = self.fresh()
        mapped = f"list_transform({base.sql}, lambda {v}: {access(v)})"
        if many:
            first_items = access(f"({base.sql})[1]")
            return Expr(f"flatten({mapped})", True, fhir_type, nodes, json, flattened_from=(base.sql, first_items))
        w = self.fresh()
        collection, item = self._one_item_source(base)
        return Expr(
            f"list_filter({mapped}, lambda {w}: {w} IS NOT NULL)",
            True,
            fhir_type,
            nodes,
            json,
            one_item=(collection, access(item)),
        )

    def _normalise_unknown(self, e: Expr, fhir_type: str | None) -> Expr:
        """An element the definitions do not know: raw JSON of unknown cardinality, made a collection."""
        if fhir_type is not None:
            return e
        if e.many:
            v = self.fresh()
            items = f"CASE WHEN json_type({v}) = 'ARRAY' THEN json_extract({v}, '$[*]') ELSE [{v}] END"
            return derive(e, sql=f"flatten(list_transform({e.sql}, lambda {v}: {items}))")
        j = e.sql
        return derive(
            e,
            sql=f"(CASE WHEN {j} IS NULL THEN [] WHEN json_type({j}) = 'ARRAY' THEN json_extract({j}, '$[*]') "
            f"ELSE [{j}] END)",
            many=True,
        )

    def _json_navigate(
        self, base: Expr, name: str, fhir_type: str | None, many: bool, nodes: tuple[SchemaNode, ...]
    ) -> Expr:
        key = quote_sql_literal("$." + quote_identifier(name) + ("[*]" if many and fhir_type else ""))
        primitive = fhir_model.is_primitive(fhir_type)

        def access(v: str) -> str:
            if primitive:
                text = f"json_extract_string({v}, {key})"
                sql_type = fhir_model.sql_type_of_primitive(fhir_type or "")
                if sql_type == fhir_model.TEXT_SQL_TYPE:
                    return text
                if many:
                    w = self.fresh()
                    return f"list_transform({text}, lambda {w}: TRY_CAST({w} AS {sql_type}))"
                return f"TRY_CAST({text} AS {sql_type})"
            return f"json_extract({v}, {key})"

        e = self._lift(base, access, many if fhir_type else False, fhir_type, nodes, not primitive)
        return self._normalise_unknown(e, fhir_type)

    def of_type(self, value: Value, type_name: str, where: str) -> Expr:
        type_name = fhir_model.normalise_type_name(type_name)
        if isinstance(value, Choice):
            if type_name not in value.types:
                return Expr("NULL", False, type_name)
            concrete = fhir_model.choice_element_name(value.stem, type_name)
            return self._navigate(value.parent, concrete, type_name, False, where)
        if value.fhir_type == "Resource" and value.json:
            # contained resources and other polymorphic Resource elements: keep those of the type
            v = self.fresh()
            keep = f"json_extract_string({{}}, '$.resourceType') = {quote_sql_literal(type_name)}"
            if value.many:
                return Expr(f"list_filter({value.sql}, lambda {v}: {keep.format(v)})", True, type_name, (), True)
            return Expr(f"(CASE WHEN {keep.format(value.sql)} THEN {value.sql} END)", False, type_name, (), True)
        if value.fhir_type is None or value.fhir_type == type_name:
            return derive(value, fhir_type=type_name) if value.fhir_type is None and not value.json else value
        return Expr("NULL", False, type_name)

    # ----------------------------------------------------------------- the tree walk
    def value(self, node: fhirpath.Node, scope: Scope, where: str) -> Value:
        if isinstance(node, fhirpath.Literal):
            return literal(node)
        if isinstance(node, fhirpath.This):
            return scope.focus
        if isinstance(node, fhirpath.Variable):
            return self.variable(node.name, scope, where)
        if isinstance(node, fhirpath.Identifier):
            focus = scope.focus
            if focus.is_root and node.name == focus.fhir_type:
                return focus  # 'Patient.name' style: the resource type names the root
            return self.member(focus, node.name, where)
        if isinstance(node, fhirpath.Member):
            base = self.value(node.base, scope, where)
            if isinstance(base, Choice):
                raise ViewDefinitionError(
                    f"{where}: '{base.stem}' is a choice element; use {base.stem}.ofType(Type).{node.name}"
                )
            return self.member(base, node.name, where)
        if isinstance(node, fhirpath.Index):
            base = self.resolve(self.value(node.base, scope, where), where)
            index = self.singleton(self.resolve(self.value(node.index, scope, where), where), where)
            if base.many:
                return derive(base, sql=f"({base.sql})[({index.sql}) + 1]", many=False)
            return derive(base, sql=f"(CASE WHEN ({index.sql}) = 0 THEN {base.sql} END)")
        if isinstance(node, fhirpath.Call):
            return self.call(node, scope, where)
        if isinstance(node, fhirpath.Unary):
            operand = self.singleton(self.resolve(self.value(node.operand, scope, where), where), where)
            return derive(operand, sql=f"({node.op}{operand.sql})") if node.op == "-" else operand
        if isinstance(node, fhirpath.Binary):
            return self.binary(node, scope, where)
        raise ViewDefinitionError(f"{where}: unsupported expression {node!r}")

    def variable(self, name: str, scope: Scope, where: str) -> Expr:
        if name == "rowIndex":
            return Expr(scope.row_index, False, "integer")
        if name in {"resource", "rootResource", "context"}:
            return self.root
        if name in self.constants:
            return self.constants[name]
        known = ", ".join(sorted(self.constants)) or "none"
        raise ViewDefinitionError(f"{where}: undefined constant '%{name}' (constants defined: {known})")

    # ----------------------------------------------------------------- operators
    def binary(self, node: fhirpath.Binary, scope: Scope, where: str) -> Expr:
        op = node.op
        if op in {"is", "as"}:
            left = self.value(node.left, scope, where)
            type_name = type_name_of(node.right, where)
            narrowed = self.of_type(left, type_name, where)
            if op == "as":
                return narrowed
            return exists(self, narrowed)
        left = self.resolve(self.value(node.left, scope, where), where)
        right = self.resolve(self.value(node.right, scope, where), where)
        if op == "|":
            return self.union(left, right, where)
        if op in {"in", "contains"}:
            element, collection = (left, right) if op == "in" else (right, left)
            element = self.singleton(self.to_text(element), where)
            collection = self.to_text(collection)
            literals = _string_literals(collection)
            if literals and element.fhir_type in _STRING_TYPES:
                # A constant list of non-NULL strings: a string is in it or not, never unknown, exactly
                # as list_contains answers, without building the list for every row.
                found = f"({element.sql} IN ({', '.join(literals)}))"
            else:
                found = f"coalesce(list_contains({self.as_list(collection)}, {element.sql}), false)"
            return Expr(f"(CASE WHEN {element.sql} IS NOT NULL THEN {found} END)", False, "boolean")
        left = self.singleton(self.to_text(left), where)
        right = self.singleton(self.to_text(right), where)
        if op in {"and", "or"}:
            return Expr(f"({self.boolean(left, where)} {op.upper()} {self.boolean(right, where)})", False, "boolean")
        if op == "xor":
            return Expr(f"({self.boolean(left, where)} <> {self.boolean(right, where)})", False, "boolean")
        if op == "implies":
            return Expr(f"((NOT {self.boolean(left, where)}) OR {self.boolean(right, where)})", False, "boolean")
        if op in {"=", "!=", "<", ">", "<=", ">="}:
            sql_op = "<>" if op == "!=" else op
            return Expr(f"({left.sql} {sql_op} {right.sql})", False, "boolean")
        if op in {"~", "!~"}:
            equal = f"(lower(CAST({left.sql} AS VARCHAR)) = lower(CAST({right.sql} AS VARCHAR)))"
            return Expr(equal if op == "~" else f"(NOT {equal})", False, "boolean")
        if op == "&":
            return Expr(
                f"(coalesce(CAST({left.sql} AS VARCHAR), '') || coalesce(CAST({right.sql} AS VARCHAR), ''))",
                False,
                "string",
            )
        if op == "+" and (left.fhir_type in _STRING_TYPES or right.fhir_type in _STRING_TYPES):
            return Expr(f"({left.sql} || {right.sql})", False, "string")
        if op in {"+", "-", "*", "/", "div", "mod"}:
            integral = left.fhir_type in _INTEGER_TYPES and right.fhir_type in _INTEGER_TYPES
            sql_op = {"div": "//", "mod": "%"}.get(op, op)
            result = "integer" if integral and op != "/" else "decimal"
            if op in {"/", "div", "mod"}:
                return Expr(f"(CASE WHEN {right.sql} <> 0 THEN {left.sql} {sql_op} {right.sql} END)", False, result)
            return Expr(f"({left.sql} {sql_op} {right.sql})", False, result)
        raise ViewDefinitionError(f"{where}: unsupported operator {op!r}")

    def union(self, left: Expr, right: Expr, where: str) -> Expr:
        """``a | b``: both collections in order, duplicates removed (first occurrence kept)."""
        parts = [*(left.union_parts or (left,)), *(right.union_parts or (right,))]
        # ``{}`` adds nothing; left in, its missing type would turn the other operands into JSON text.
        parts = [p for p in parts if p is not EMPTY] or [EMPTY]
        node_sets = {frozenset(id(n) for n in p.nodes) for p in parts}
        primitive = all(fhir_model.is_primitive(p.fhir_type) for p in parts)
        if len({p.json for p in parts}) > 1 or (not primitive and (len(node_sets) > 1 or not parts[0].nodes)):
            parts = [self.as_json(p) for p in parts]
        types = {p.fhir_type for p in parts}
        fhir_type = types.pop() if len(types) == 1 else None
        if fhir_type is None and not parts[0].json:
            parts = [self.to_text(p) for p in parts]
        nodes = tuple(n for p in parts for n in p.nodes)
        literals = [p.sql for p in parts if p.sql != "NULL"]
        if literals and all(_STRING_LITERAL.fullmatch(sql) for sql in literals) and not any(p.many for p in parts):
            # A union of string literals (empty ``{}`` contributes nothing) is a constant: de-duplicate it
            # here. Equal SQL literals are equal strings, and DuckDB compares VARCHAR byte for byte, so
            # this keeps exactly the items the per-row list_position filter would.
            distinct = tuple(dict.fromkeys(literals))
            constant = f"[{', '.join(distinct)}]"
            return Expr(constant, True, fhir_type, nodes, union_parts=tuple(parts), literal_items=distinct)
        lists = [self.as_list(p) for p in parts]
        both = lists[0]
        for other in lists[1:]:
            both = f"list_concat({both}, {other})"
        v, i = self.fresh(), self.fresh("i")
        deduplicated = f"list_filter({both}, lambda {v}, {i}: list_position({both}, {v}) = {i})"
        return Expr(deduplicated, True, fhir_type, nodes, parts[0].json, union_parts=tuple(parts))

    def as_json(self, e: Expr) -> Expr:
        if e.json:
            return e
        if e.many:
            v = self.fresh()
            return derive(e, sql=f"list_transform({e.sql}, lambda {v}: to_json({v}))", json=True)
        return derive(e, sql=f"to_json({e.sql})", json=True)

    # ----------------------------------------------------------------- functions
    def call(self, node: fhirpath.Call, scope: Scope, where: str) -> Value:
        from epic_assets.views import functions  # the function table imports this module

        handler = functions.FUNCTIONS.get(node.name)
        if handler is None:
            raise ViewDefinitionError(f"{where}: unknown function '{node.name}'")
        hoistable = node.name == "first" and scope.focus.is_root and _selects_by_condition(node.base)
        if hoistable and node in self.hoisted:
            return self.hoisted[node][1]
        base: Value = scope.focus if node.base is None else self.value(node.base, scope, where)
        result = handler(self, base, node.args, scope, where)
        if hoistable and not self.conditional and isinstance(result, Expr) and not result.many:
            # Library views pick one coding by system priority and then read .code, .system and
            # .display from it: computing the choice once per row instead of once per column is the
            # single largest saving on wide views. Keyed by syntax, so equal paths share one column.
            alias = f"_shared{len(self.hoisted) + 1}"
            hoisted = derive(result, sql=quote_identifier(alias))
            self.hoisted[node] = (result.sql, hoisted)
            return hoisted
        return result

    def with_item_scope(self, base: Expr, scope: Scope) -> tuple[str, Scope]:
        """A lambda variable over the items of ``base`` and the scope that makes it ``$this``."""
        v = self.fresh()
        item = Expr(v, False, base.fhir_type, base.nodes, base.json)
        return v, Scope(item, scope.row_index)

    def filter(self, base: Expr, criteria: fhirpath.Node, scope: Scope, where: str) -> Expr:
        if base.many:
            v, inner = self.with_item_scope(base, scope)
            condition = self.boolean(self.resolve(self.value(criteria, inner, where), where), where)
            collection, item = self._one_item_source(base)
            item_scope = Scope(Expr(item, False, base.fhir_type, base.nodes, base.json), scope.row_index)
            item_condition = self.boolean(self.resolve(self.value(criteria, item_scope, where), where), where)
            # list_filter keeps items whose condition is true; NULL (FHIRPath empty) drops them as false would
            return derive(
                base,
                sql=f"list_filter({base.sql}, lambda {v}: {condition})",
                filtered_from=base.sql,
                one_item=(collection, f"(CASE WHEN {item_condition} THEN {item} END)"),
            )
        inner = Scope(base, scope.row_index)
        condition = self.boolean(self.resolve(self.value(criteria, inner, where), where), where)
        value_sql = self.root_struct_token if base.is_root else base.sql
        return Expr(
            f"(CASE WHEN {condition} THEN {value_sql} END)",
            False,
            base.fhir_type,
            base.nodes,
            base.json,
            root_condition=condition if base.is_root else None,
        )


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _string_literals(e: Expr) -> tuple[str, ...]:
    """The SQL string literals ``e`` is a constant collection of (none when it is not one)."""
    if e.literal_items:
        return e.literal_items
    if not e.many and _STRING_LITERAL.fullmatch(e.sql):
        return (e.sql,)
    return ()


_QUOTED_OR_LAMBDA_VARIABLE = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|\b_[a-z]+[0-9]+\b")


def _canonical_sql(sql: str) -> str:
    """SQL with lambda variables renamed by order of appearance (outside quotes).

    Equal paths translate with fresh variable names; renaming in order keeps which occurrences are the
    same variable, so only translations that differ in nothing but those names compare equal.
    """
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        return names.setdefault(match.group(0), f"_v{len(names)}")

    return _QUOTED_OR_LAMBDA_VARIABLE.sub(rename, sql)


def _guard_priority_choice(parts: tuple[Expr, ...], chosen: str) -> str | None:
    """``(c.where(a) | c.where(b) | c).first()`` without running the filters when they cannot matter.

    The library picks codings by system priority this way. DuckDB runs list lambdas even over NULL and
    one-item lists, and most codeable concepts hold zero or one coding: if every part is ``c`` or a
    filter of ``c``, an empty ``c`` gives empty, and when the last part is ``c`` itself a one-item ``c``
    gives that item whatever the filters say. Measured on 300k Synthea Observations this halves the
    cost of the code columns and removes most of it for mostly-absent elements (valueCodeableConcept).
    None when the parts are not all ``c`` or filters of one ``c``.
    """
    sources = [p.filtered_from if p.filtered_from is not None else p.sql for p in parts]
    if not all(p.many for p in parts) or len({_canonical_sql(s) for s in sources}) != 1:
        return None
    collection = parts[-1].sql if parts[-1].filtered_from is None else sources[0]
    if parts[-1].filtered_from is None:
        flattened = parts[-1].flattened_from
        if flattened is not None:
            # c = outer.f flattened (e.g. category.coding): at most one outer item holding at most one
            # item is the same test without building the flat list for every row.
            outer, first_items = flattened
            at_most_one = f"coalesce(len({outer}), 0) <= 1 AND coalesce(len({first_items}), 0) <= 1"
            return f"(CASE WHEN {at_most_one} THEN ({first_items})[1] ELSE {chosen} END)"
        return f"(CASE WHEN coalesce(len({collection}), 0) <= 1 THEN ({collection})[1] ELSE {chosen} END)"
    return f"(CASE WHEN len({collection}) > 0 THEN {chosen} END)"


def _selects_by_condition(node: fhirpath.Node | None) -> bool:
    """Whether a path filters or unions collections (worth computing once when used repeatedly)."""
    if isinstance(node, fhirpath.Binary):
        return node.op == "|" or _selects_by_condition(node.left) or _selects_by_condition(node.right)
    if isinstance(node, fhirpath.Call):
        return node.name == "where" or _selects_by_condition(node.base)
    if isinstance(node, (fhirpath.Member, fhirpath.Index)):
        return _selects_by_condition(node.base)
    return False


def exists(translator: Translator, e: Expr) -> Expr:
    if e.many:
        return Expr(f"coalesce(len({e.sql}) > 0, false)", False, "boolean")
    if e.is_root:
        return Expr("true", False, "boolean")
    return Expr(f"({e.sql} IS NOT NULL)", False, "boolean")


def type_name_of(node: fhirpath.Node, where: str) -> str:
    if isinstance(node, fhirpath.Identifier):
        return node.name
    if isinstance(node, fhirpath.Member) and isinstance(node.base, fhirpath.Identifier):
        return f"{node.base.name}.{node.name}"
    if isinstance(node, fhirpath.Literal) and node.kind == "string":
        return str(node.value)
    raise ViewDefinitionError(f"{where}: expected a type name")


# ``{}``, the empty collection: one shared value, so a union can recognise and drop it.
EMPTY = Expr("NULL", False, None)


def literal(node: fhirpath.Literal) -> Expr:
    kind, value = node.kind, node.value
    if kind == "empty":
        return EMPTY
    if kind == "boolean":
        return Expr("true" if value else "false", False, "boolean")
    if kind == "integer":
        return Expr(str(value), False, "integer")
    if kind == "decimal":
        return Expr(f"CAST({value!r} AS DOUBLE)", False, "decimal")
    return Expr(quote_sql_literal(str(value)), False, "string" if kind == "string" else kind)


def constant_expr(fhir_type: str, value: object) -> Expr:
    """A view constant as a SQL literal of the type its ``value[x]`` names."""
    if fhir_type == "boolean":
        return Expr("true" if value else "false", False, "boolean")
    if fhir_type in _INTEGER_TYPES:
        return Expr(f"CAST({int(value)} AS BIGINT)", False, fhir_type)  # type: ignore[call-overload]
    if fhir_type == "decimal":
        return Expr(f"CAST({float(value)!r} AS DOUBLE)", False, "decimal")  # type: ignore[arg-type]
    return Expr(quote_sql_literal(str(value)), False, fhir_type)
