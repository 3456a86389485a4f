"""Bodies the emulator answers with: the IIS "404 - File or directory not found" page and OperationOutcomes.

Epic sits behind IIS, and anything outside its FHIR routes (including ``[base]/$export`` and
``Patient/$export``) gets IIS's stock HTML page rather than a FHIR error; clients must cope with that.
"""

from __future__ import annotations

from typing import Any

# The page is reproduced line for line; IIS ends lines with CRLF, and two CSS rules end in a space.
_IIS_404_LINES = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml">',
    "<head>",
    '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>',
    "<title>404 - File or directory not found.</title>",
    '<style type="text/css">',
    "<!--",
    "body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}",
    "fieldset{padding:0 15px 10px 15px;} ",
    "h1{font-size:2.4em;margin:0;color:#FFF;}",
    "h2{font-size:1.7em;margin:0;color:#CC0000;} ",
    "h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;} ",
    '#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, sans-serif;'
    "color:#FFF;",
    "background-color:#555555;}",
    "#content{margin:0 0 0 2%;position:relative;}",
    ".content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}",
    "-->",
    "</style>",
    "</head>",
    "<body>",
    '<div id="header"><h1>Server Error</h1></div>',
    '<div id="content">',
    ' <div class="content-container"><fieldset>',
    "  <h2>404 - File or directory not found.</h2>",
    "  <h3>The resource you are looking for might have been removed, had its name changed, "
    "or is temporarily unavailable.</h3>",
    " </fieldset></div>",
    "</div>",
    "</body>",
    "</html>",
)
IIS_404_HTML: bytes = ("\r\n".join(_IIS_404_LINES) + "\r\n").encode("ascii")
IIS_404_CONTENT_TYPE = "text/html"

# Epic's OperationOutcome code system (the OID seen on every sandbox outcome).
EPIC_OUTCOME_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369"

# Epic codes seen on real outcomes (EPIC.md sections 3 and 5) -> (FHIR issue code, display text).
# Displays for 59008/59100/59159/59204 are Epic's own; 59136's is ours (Epic's wording is unrecorded).
_EPIC_CODES: dict[str, tuple[str, str]] = {
    "59008": ("not-found", "The FHIR ID provided was not found."),
    "59100": ("invalid", "Content invalid against the specification or a profile."),
    "59136": ("not-supported", "The requested resource type is not supported."),
    "59159": (
        "business-rule",
        "The content/operation failed to pass a business rule, and so could not proceed.",
    ),
    "59204": (
        "suppressed",
        "The authenticated client's search request applies to a sub-resource that the client is not "
        "authorized for. Results of this sub-type will not be returned.",
    ),
}


def epic_issue(severity: str, epic_code: str, diagnostics: str) -> dict[str, Any]:
    """One OperationOutcome issue carrying one of Epic's numbered codes."""
    fhir_code, display = _EPIC_CODES[epic_code]
    return {
        "severity": severity,
        "code": fhir_code,
        "details": {
            "coding": [{"system": EPIC_OUTCOME_SYSTEM, "code": epic_code, "display": display}],
            "text": display,
        },
        "diagnostics": diagnostics,
    }


def plain_issue(severity: str, fhir_code: str, text: str) -> dict[str, Any]:
    """An issue for situations whose Epic code is not on record: text only, no invented code."""
    return {"severity": severity, "code": fhir_code, "details": {"text": text}, "diagnostics": text}


def operation_outcome(*issues: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}

