"""Reading a Group ``$export`` kick-off the way Epic does: which types, which filters, what is ignored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, unquote_plus

# Parameters Epic acts on; everything else is ignored and reported with issue 59100.
_NDJSON_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
# Observation categories whose _typeFilter makes Epic error instead of filtering (EPIC.md section 3).
FAILING_OBSERVATION_CATEGORIES = frozenset({"procedure", "therapy", "activity"})


@dataclass(frozen=True)
class KickoffParameters:
    types: tuple[str, ...]  # canonical names, in request order, only supported ones
    type_filters: dict[str, list[str]]  # type -> search query strings ("category=laboratory")
    unsupported_types: tuple[str, ...] = ()  # as the client spelled them (59136)
    ignored_parameters: tuple[str, ...] = ()  # unknown names (59100)
    explicit_types: bool = True  # False when no _type was sent and ``types`` means "every type"


@dataclass(frozen=True)
class KickoffRejection:
    """A kick-off Epic refuses outright (HTTP 400 with this diagnostic)."""

    diagnostics: str
    extra: dict[str, str] = field(default_factory=dict)


def _split_query(raw_query: str) -> list[tuple[str, str]]:
    """``name=value`` pairs with the value left percent-encoded, so ``%2C`` stays distinguishable from ``,``."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote_plus(name), value))
    return pairs


def parse_kickoff_query(raw_query: str, supported_types: Sequence[str]) -> KickoffParameters | KickoffRejection:
    canonical = {name.lower(): name for name in supported_types}
    requested: list[str] = []
    filters: list[str] = []
    ignored: list[str] = []
    for name, raw_value in _split_query(raw_query):
        if name == "_type":
            # Type names contain no commas, so an encoded %2C separates types just like a literal comma.
            requested += [item.strip() for item in unquote_plus(raw_value).split(",") if item.strip()]
        elif name == "_typeFilter":
            # Commas separate filters; a comma inside one filter arrives escaped as %2C.
            filters += [unquote_plus(item) for item in raw_value.split(",") if item]
        elif name == "_outputFormat":
            # Clients often send "application/fhir+ndjson" unencoded, where "+" would decode to a space.
            output_format = unquote(raw_value)
            if output_format not in _NDJSON_FORMATS:
                return KickoffRejection(f"Unsupported _outputFormat: {output_format}")
        else:
            ignored.append(name)

    if filters and not requested:
        return KickoffRejection("The _typeFilter parameter is only supported together with _type.")
    types = list(dict.fromkeys(canonical[t.lower()] for t in requested if t.lower() in canonical))
    unsupported = tuple(dict.fromkeys(t for t in requested if t.lower() not in canonical))
    if not requested:
        types = list(supported_types)

    type_filters: dict[str, list[str]] = {}
    for item in filters:
        type_name, question, query = item.partition("?")
        resolved = canonical.get(type_name.strip().lower())
        if not question or not query or resolved is None:
            return KickoffRejection(f"Invalid _typeFilter: {item}")
        if resolved not in types:
            return KickoffRejection(f"_typeFilter {item} names a type that _type does not request")
        type_filters.setdefault(resolved, []).append(query)
    return KickoffParameters(
        types=tuple(types),
        type_filters=type_filters,
        unsupported_types=unsupported,
        ignored_parameters=tuple(dict.fromkeys(ignored)),
        explicit_types=bool(requested),
    )


def epic_failure(params: KickoffParameters, patient_only_fails: bool) -> str | None:
    """Why Epic would fail this well-formed kick-off (EPIC.md section 3), or ``None``.

    Epic's code and wording for these failures are not on record, so the caller answers a text-only issue.
    ``patient_only_fails`` reproduces the reported failure of ``_type=Patient`` alone on a Group export.
    """
    if patient_only_fails and params.explicit_types and params.types == ("Patient",):
        return "A Group export of Patient alone is not supported; request Patient with other types."
    for query in params.type_filters.get("Observation", []):
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name != "category":
                continue
            for token in value.split(","):
                code = token.rpartition("|")[2].strip().lower()
                if code in FAILING_OBSERVATION_CATEGORIES:
                    return f"Observation category {code} cannot be used in _typeFilter."
    return None
