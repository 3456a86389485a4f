"""Discovery documents: SMART configuration and the CapabilityStatement, shaped like Epic's sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from epic_assets.emulator.auth import EC_ALGORITHMS, RSA_ALGORITHMS

_BULK_DATA_CAPABILITY = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
_SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def smart_configuration(oauth_base: str) -> dict[str, Any]:
    return {
        "authorization_endpoint": f"{oauth_base}/authorize",
        "token_endpoint": f"{oauth_base}/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": sorted(RSA_ALGORITHMS | EC_ALGORITHMS),
        "scopes_supported": ["system/*.read"],
        "response_types_supported": ["code"],
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        "grant_types_supported": ["client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "issuer": oauth_base,
    }


def _resource(type_name: str, interactions: Sequence[str], operations: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type_name,
        "interaction": [{"code": code} for code in interactions],
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchInclude": ["*"],
        "searchRevInclude": ["Provenance:target"],
    }
    if operations:
        entry["operation"] = list(operations)
    return entry


def capability_statement(fhir_base: str, oauth_base: str, exported_types: Sequence[str], now: float) -> dict[str, Any]:
    group_export = {
        "name": "group-export",
        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
    }
    resources = [_resource("Binary", ["read"]), _resource("Group", ["read"], [group_export])]
    resources += [_resource(name, ["read", "search-type"]) for name in sorted(exported_types)]

    def service(code: str) -> dict[str, Any]:
        return {"coding": [{"system": _SECURITY_SERVICE, "code": code, "display": code}], "text": code}

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "experimental": True,
        "date": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": "instance",
        "instantiates": [_BULK_DATA_CAPABILITY],
        "software": {"name": "epic-assets Epic emulator"},
        "implementation": {"description": "Local Epic emulator (synthetic data)", "url": fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "extension": [
                                {"valueUri": f"{oauth_base}/authorize", "url": "authorize"},
                                {"valueUri": f"{oauth_base}/token", "url": "token"},
                            ],
                            "url": _OAUTH_URIS,
                        }
                    ],
                    "cors": True,
                    "service": [service("OAuth"), service("SMART-on-FHIR")],
                },
                "resource": resources,
            }
        ],
    }
