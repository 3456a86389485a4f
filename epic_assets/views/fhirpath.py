"""A parser for the FHIRPath subset that SQL on FHIR ViewDefinitions use.

It turns an expression into a small immutable syntax tree; typing and translation to SQL happen in
:mod:`epic_assets.views.compiler`. Precedence follows the FHIRPath grammar (invocation and indexers bind
tightest, then unary sign, multiplicative, additive, ``|``, comparison, equality, ``in``/``contains``,
``and``, ``or``/``xor``, ``implies``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class FhirPathSyntaxError(ValueError):
    """The expression is not valid FHIRPath; the message says where it went wrong."""


@dataclass(frozen=True)
class Literal:
    value: object
    kind: str  # string | integer | decimal | boolean | date | dateTime | time | empty


@dataclass(frozen=True)
class Identifier:
    """A member name read from the current focus (``name`` in ``name.family``)."""

    name: str


@dataclass(frozen=True)
class This:
    """``$this``: the current focus."""


@dataclass(frozen=True)
class Variable:
    """``%name``: a view constant or an environment variable such as ``%rowIndex``."""

    name: str


@dataclass(frozen=True)
class Member:
    base: Node
    name: str


@dataclass(frozen=True)
class Call:
    base: Node | None  # None: called on the current focus (``where(...)`` at the start of a path)
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Index:
    base: Node
    index: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


Node = Literal | Identifier | This | Variable | Member | Call | Index | Binary | Unary

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@T?\d{2,4}(?:[-:]\d{2})*(?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<special>\$this|\$index|\$total)
  | (?P<variable>%[A-Za-z_][A-Za-z0-9_]*|%`(?:[^`\\]|\\.)*`|%'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|!~|[-+*/&|<>=~.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "/": "/", "\\": "\\", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

# Binding power of binary operators (higher binds tighter).
_BINARY = {
    "implies": 10,
    "or": 20,
    "xor": 20,
    "and": 30,
    "in": 40,
    "contains": 40,
    "=": 50,
    "~": 50,
    "!=": 50,
    "!~": 50,
    "<": 60,
    ">": 60,
    "<=": 60,
    ">=": 60,
    "|": 70,
    "is": 75,
    "as": 75,
    "+": 80,
    "-": 80,
    "&": 80,
    "*": 90,
    "/": 90,
    "div": 90,
    "mod": 90,
}
_UNARY_POWER = 100


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise FhirPathSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        kind = match.lastgroup or ""
        if kind not in {"ws", "comment"}:
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.advance()
        if token.text != text:
            found = repr(token.text) if token.kind != "end" else "end of expression"
            raise FhirPathSyntaxError(f"expected {text!r} at offset {token.pos}, found {found}")

    def parse(self) -> Node:
        node = self.expression(0)
        if self.current.kind != "end":
            raise FhirPathSyntaxError(f"unexpected {self.current.text!r} at offset {self.current.pos}")
        return node

    def binary_operator(self) -> str | None:
        token = self.current
        if token.kind == "op" and token.text in _BINARY:
            return token.text
        if token.kind == "ident" and token.text in _BINARY:
            return token.text
        return None

    def expression(self, min_power: int) -> Node:
        left = self.unary()
        while True:
            op = self.binary_operator()
            if op is None or _BINARY[op] <= min_power:
                return left
            self.advance()
            if op in {"is", "as"}:
                right: Node = self.type_specifier()
            else:
                right = self.expression(_BINARY[op])
            left = Binary(op, left, right)

    def type_specifier(self) -> Node:
        node: Node = Identifier(self.identifier())
        while self.current.text == ".":
            self.advance()
            node = Member(node, self.identifier())
        return node

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.text in {"+", "-"}:
            op = self.advance().text
            operand = self.expression(_UNARY_POWER - 1)
            if isinstance(operand, Literal) and operand.kind in {"integer", "decimal"}:
                value = operand.value
                return Literal(-value if op == "-" else value, operand.kind)  # type: ignore[operator]
            return Unary(op, operand)
        return self.postfix(self.term())

    def identifier(self) -> str:
        token = self.advance()
        if token.kind == "ident":
            return token.text
        if token.kind == "delimited":
            return _unescape(token.text[1:-1])
        found = repr(token.text) if token.kind != "end" else "end of expression"
        raise FhirPathSyntaxError(f"expected a name at offset {token.pos}, found {found}")

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        args: list[Node] = []
        if self.current.text != ")":
            args.append(self.expression(0))
            while self.current.text == ",":
                self.advance()
                args.append(self.expression(0))
        self.expect(")")
        return tuple(args)

    def term(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(float(token.text), "decimal") if "." in token.text else Literal(int(token.text), "integer")
        if token.kind == "string":
            self.advance()
            return Literal(_unescape(token.text[1:-1]), "string")
        if token.kind == "datetime":
            self.advance()
            return _temporal_literal(token.text[1:])
        if token.kind == "special":
            self.advance()
            if token.text == "$this":
                return This()
            return Variable(token.text[1:])
        if token.kind == "variable":
            self.advance()
            name = token.text[1:]
            return Variable(_unescape(name[1:-1]) if name[:1] in {"`", "'"} else name)
        if token.text == "(":
            self.advance()
            inner = self.expression(0)
            self.expect(")")
            return inner
        if token.text == "{":
            self.advance()
            self.expect("}")
            return Literal(None, "empty")
        if token.kind in {"ident", "delimited"}:
            if token.kind == "ident" and token.text in {"true", "false"}:
                self.advance()
                return Literal(token.text == "true", "boolean")
            name = self.identifier()
            if self.current.text == "(":
                return Call(None, name, self.arguments())
            return Identifier(name)
        found = repr(token.text) if token.kind != "end" else "end of expression"
        raise FhirPathSyntaxError(f"unexpected {found} at offset {token.pos}")

    def postfix(self, node: Node) -> Node:
        while True:
            if self.current.text == ".":
                self.advance()
                name = self.identifier()
                node = Call(node, name, self.arguments()) if self.current.text == "(" else Member(node, name)
            elif self.current.text == "[":
                self.advance()
                index = self.expression(0)
                self.expect("]")
                node = Index(node, index)
            else:
                return node


def _temporal_literal(text: str) -> Literal:
    if text.startswith("T"):
        return Literal(text[1:], "time")
    if "T" in text:
        return Literal(text.rstrip("T"), "dateTime")
    return Literal(text, "date")


def parse(text: str) -> Node:
    """Parse one FHIRPath expression; raises :class:`FhirPathSyntaxError` when it is malformed."""
    if not isinstance(text, str) or not text.strip():
        raise FhirPathSyntaxError("expected a non-empty FHIRPath expression")
    return _Parser(text).parse()
