"""HTTP routing for the emulator: Epic's paths, status codes and headers on top of the job/auth modules.

Routes (everything else is IIS's HTML 404, as on Epic):

    POST   /oauth2/token
    GET    /api/FHIR/R4/.well-known/smart-configuration   (public)
    GET    /api/FHIR/R4/metadata                          (public)
    GET    /api/FHIR/R4/Group/{id}/$export
    GET    /api/FHIR/R4/Binary/{id}
    GET    /api/FHIR/BulkRequest/{request id}             (status)
    DELETE /api/FHIR/BulkRequest/{request id}
    GET    /api/FHIR/BulkRequest/{request id}/{file id}

FHIR resources on ``/api/FHIR/R4`` routes (metadata, OperationOutcomes) are FHIR XML unless the Accept
header names a JSON media type, as on Epic; bulk status and file routes always answer JSON/NDJSON.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from epic_assets.emulator import synthetic
from epic_assets.emulator.auth import AssertionRejectedError, AssertionVerifier, RegisteredKeys, TokenStore
from epic_assets.emulator.capability import capability_statement, smart_configuration
from epic_assets.emulator.config import EmulatorConfig
from epic_assets.emulator.exports import ExportFile, ExportManager, TooRecentError, manifest
from epic_assets.emulator.faults import RequestCounters
from epic_assets.emulator.fhir_xml import FHIR_XML, accepts_fhir_json, resource_to_xml
from epic_assets.emulator.kickoff import KickoffRejection, epic_failure, parse_kickoff_query
from epic_assets.emulator.pages import (
    IIS_404_CONTENT_TYPE,
    IIS_404_HTML,
    epic_issue,
    operation_outcome,
    plain_issue,
)

log = logging.getLogger("epic_assets.emulator.access")

FHIR_PREFIX = "/api/FHIR/R4"
BULK_PREFIX = "/api/FHIR/BulkRequest"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json; charset=utf-8"
_INVALID_CLIENT = b'{"error":"invalid_client","error_description":null}'
_UNAUTHORIZED_CLIENT = b'{"error":"unauthorized_client","error_description":null}'
_WWW_AUTHENTICATE = 'Bearer error="invalid_token", error_description="The access token provided is not valid"'
_INSUFFICIENT_SCOPE = (
    'Bearer error="insufficient_scope", '
    'error_description="The access token provided is valid, but is not authorized for this service"'
)
_BINARY_GRANT = "DocumentReference"  # Binary serves document content, so it comes with DocumentReference
_REQUEST_ID = r"[0-9A-F]{32}"
_FILE_ID = r"[A-Za-z0-9]{1,64}"
_STREAM_CHUNK = 256 * 1024
_MAX_FORM_BYTES = 64 * 1024
_SECRET_QUERY_FIELDS = re.compile(r"((?:client_assertion|access_token)=)[^&\s]*", re.IGNORECASE)


class EmulatorApp:
    """Everything the handlers share: config, keys, tokens, jobs, fault counters and public URLs."""

    def __init__(
        self,
        config: EmulatorConfig,
        keys: RegisteredKeys,
        exports: ExportManager,
        root_url: str,
    ) -> None:
        self.config = config
        self.root_url = root_url
        self.fhir_base = root_url + FHIR_PREFIX
        self.oauth_base = root_url + "/oauth2"
        self.token_url = root_url + TOKEN_PATH
        self.verifier = AssertionVerifier(keys, config.client_id, self.token_url, config.clock)
        self.tokens = TokenStore(config.clock)
        self.exports = exports
        self.counters = RequestCounters()

    def status_url(self, request_id: str) -> str:
        return f"{self.root_url}{BULK_PREFIX}/{request_id}"

    def file_url(self, request_id: str, export_file: ExportFile) -> str:
        return f"{self.status_url(request_id)}/{export_file.file_id}"


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: EmulatorApp


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line and status reach the log; headers (Authorization) and bodies (the
        # client assertion) never do, and secret-looking query values are masked as well.
        log.info("%s %s", self.address_string(), _SECRET_QUERY_FIELDS.sub(r"\1[redacted]", format % args))

    def send(
        self, status: int, body: bytes = b"", content_type: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(
        self, status: int, document: Any, content_type: str = FHIR_JSON, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send(status, json.dumps(document).encode("utf-8"), content_type, headers)

    def send_fhir(self, status: int, resource: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        """A FHIR resource: XML on FHIR routes unless the Accept header asks for JSON (EPIC.md section 1).
        The bulk status and file routes always speak JSON, as the Bulk Data spec requires."""
        on_fhir_route = self.path.startswith(FHIR_PREFIX + "/")
        if on_fhir_route and not accepts_fhir_json(self.headers.get("Accept")):
            self.send(status, resource_to_xml(resource), FHIR_XML, headers)
        else:
            self.send_json(status, resource, FHIR_JSON, headers)

    def send_outcome(self, status: int, *issues: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.send_fhir(status, operation_outcome(*issues), headers)

    def send_iis_404(self) -> None:
        self.send(404, IIS_404_HTML, IIS_404_CONTENT_TYPE)

    def send_not_found_outcome(self) -> None:
        found = epic_issue("fatal", "59008", "Invalid FHIR ID provided")
        found.update({"location": ["/f:id"], "expression": ["id"]})
        self.send_outcome(404, found)

    def retry_after_headers(self) -> dict[str, str]:
        faults = self.app.config.faults
        if faults.retry_after_date is not None:
            moment = self.app.config.clock.now() + faults.retry_after_date
            return {"Retry-After": email.utils.formatdate(moment, usegmt=True)}
        return {} if faults.retry_after is None else {"Retry-After": str(faults.retry_after)}

    def authorized_client(self) -> str | None:
        """The client behind a valid bearer token; otherwise answers 401 and returns ``None``."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        client = self.app.tokens.client_for(token.strip()) if scheme.lower() == "bearer" and token else None
        if client is None:
            self.send(401, b"", "application/json; charset=utf-8", {"WWW-Authenticate": _WWW_AUTHENTICATE})
        return client

    def refuse_ungranted(self, types: Iterable[str]) -> bool:
        """Answer Epic's client-level 403 (no body) when any of ``types`` is not granted; True if refused."""
        granted = self.app.config.granted_types
        if granted is None or all(name in granted for name in types):
            return False
        self.send(403, b"", None, {"WWW-Authenticate": _INSUFFICIENT_SCOPE})
        return True

    def drain_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = _MAX_FORM_BYTES + 1  # unreadable framing: do not trust the connection any further
        if length > _MAX_FORM_BYTES:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    # -- dispatch ---------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self.dispatch("OPTIONS")

    def dispatch(self, method: str) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        path = unquote(raw_path)
        route = _match(method, path)
        if route is None:
            self.drain_body()
            self.send_iis_404()
            return
        handler, groups = route
        try:
            handler(self, raw_query, *groups)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            # A bug in the emulator must surface as a 500 the client can see, not a silent hang-up.
            log.exception("internal error handling %s %s", method, raw_path)
            self.close_connection = True
            with contextlib.suppress(OSError):  # headers may already be out; then the hang-up says it
                self.send_outcome(500, plain_issue("fatal", "exception", "Internal emulator error."))

    # -- OAuth ------------------------------------------------------------------------------------------
    def token(self, _query: str) -> None:
        body = self.drain_body()
        if self.app.counters.next("token") <= self.app.config.faults.token_400:
            self.send(400)  # the transient, body-less 400 clients report from Epic's token endpoint
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if self.command != "POST" or content_type != "application/x-www-form-urlencoded":
            self.send_json(400, {"error": "invalid_request", "error_description": None}, "application/json")
            return
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != JWT_BEARER
            or not form.get("client_assertion")
        ):
            self.send_json(400, {"error": "invalid_request", "error_description": None}, "application/json")
            return
        try:
            client_id = self.app.verifier.verify(form["client_assertion"])
        except AssertionRejectedError as error:
            log.debug("client assertion rejected: %s", error)
            self.send(400, _INVALID_CLIENT, "application/json")
            return
        config = self.app.config
        if config.faults.unmapped_client:  # Epic checks the background-user mapping after the assertion
            self.send(400, _UNAUTHORIZED_CLIENT, "application/json")
            return
        # token-expiry makes tokens die early while still advertising the normal expires_in.
        lifetime = config.faults.token_expiry
        if lifetime is None:
            lifetime = config.token_lifetime_seconds
        issued = self.app.tokens.issue(client_id, lifetime)
        scope = form.get("scope") or " ".join(f"system/{name}.read" for name in self.granted_scope_types())
        self.send_json(
            200,
            {
                "access_token": issued.access_token,
                "token_type": "bearer",
                "expires_in": config.token_lifetime_seconds,
                "scope": scope,
            },
            "application/json;charset=UTF-8",
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def granted_scope_types(self) -> list[str]:
        granted = self.app.config.granted_types
        types = [name for name in synthetic.SUPPORTED_TYPES if granted is None or name in granted]
        return ["Group", *(["Binary"] if _BINARY_GRANT in types else []), *types]

    # -- FHIR -------------------------------------------------------------------------------------------
    def smart_configuration(self, _query: str) -> None:
        self.send_json(200, smart_configuration(self.app.oauth_base), "application/json")

    def metadata(self, _query: str) -> None:
        document = capability_statement(
            self.app.fhir_base, self.app.oauth_base, synthetic.SUPPORTED_TYPES, self.app.config.clock.now()
        )
        self.send_fhir(200, document)

    def kickoff(self, raw_query: str, group_id: str) -> None:
        app = self.app
        if app.counters.next("kickoff") <= app.config.faults.kickoff_503:
            self.send_outcome(
                503,
                plain_issue("error", "transient", "Service temporarily unavailable."),
                headers=self.retry_after_headers(),
            )
            return
        client_id = self.authorized_client()
        if client_id is None:
            return
        if group_id != app.config.group_id:
            self.send_not_found_outcome()
            return
        if "respond-async" not in (self.headers.get("Prefer") or "").lower():
            self.send_outcome(400, plain_issue("fatal", "invalid", "The Prefer header must be respond-async."))
            return
        params = parse_kickoff_query(raw_query, synthetic.SUPPORTED_TYPES)
        if isinstance(params, KickoffRejection):
            self.send_outcome(400, epic_issue("fatal", "59159", params.diagnostics))
            return
        granted = app.config.granted_types
        if not params.explicit_types and granted is not None:
            # Without _type Epic exports every type the client is authorised for, and only those.
            params = replace(params, types=tuple(name for name in params.types if name in granted))
        if self.refuse_ungranted(params.types):
            return
        failure = epic_failure(params, app.config.faults.patient_only_fails)
        if failure is not None:
            self.send_outcome(400, plain_issue("fatal", "processing", failure))
            return
        try:  # a filter the data source cannot apply is refused now, not discovered hours later
            synthetic.check_type_filters(params.types, params.type_filters or None)
        except ValueError as error:
            self.send_outcome(400, epic_issue("fatal", "59159", f"Invalid _typeFilter: {error}"))
            return
        try:
            job = app.exports.start(client_id, group_id, params, app.root_url + self.path)
        except TooRecentError as error:
            self.send_outcome(429, plain_issue("fatal", "throttled", str(error)))
            return
        self.send(202, b"", None, {"Content-Location": app.status_url(job.request_id), **self.retry_after_headers()})

    def binary(self, _query: str, binary_id: str) -> None:
        if self.authorized_client() is None or self.refuse_ungranted([_BINARY_GRANT]):
            return
        rendered = synthetic.render_binary(binary_id, self.app.config.seed)
        if rendered is None:
            self.send_not_found_outcome()
            return
        content_type, body = rendered
        self.send(200, body, content_type)

    # -- bulk status and files --------------------------------------------------------------------------
    def status(self, _query: str, request_id: str) -> None:
        app, faults = self.app, self.app.config.faults
        ordinal = app.counters.next("status")
        if ordinal <= faults.status_429:
            self.send_outcome(
                429, plain_issue("error", "throttled", "Too many requests."), headers=self.retry_after_headers()
            )
            return
        if ordinal <= faults.status_429 + faults.status_500:
            self.send_outcome(500, plain_issue("fatal", "exception", "An unexpected error occurred."))
            return
        client_id = self.authorized_client()
        if client_id is None:
            return
        job = app.exports.get(request_id)
        if job is None or job.client_id != client_id:
            self.send_not_found_outcome()
            return
        now = app.config.clock.now()
        if job.failure is not None:
            self.send_outcome(500, plain_issue("fatal", "exception", f"The export failed: {job.failure}"))
            return
        if not job.is_complete(now):
            self.send(202, b"", None, {"X-Progress": job.progress_text(now), **self.retry_after_headers()})
            return
        document = manifest(job, lambda f: app.file_url(job.request_id, f), faults.requires_token_bool)
        self.send_json(200, document, "application/json")

    def delete(self, _query: str, request_id: str) -> None:
        client_id = self.authorized_client()
        if client_id is None:
            return
        job = self.app.exports.get(request_id)
        if job is None or job.client_id != client_id or not self.app.exports.delete(request_id):
            self.send_not_found_outcome()
            return
        self.send(202)

    def download(self, _query: str, request_id: str, file_id: str) -> None:
        app, faults = self.app, self.app.config.faults
        ordinal = app.counters.next("file")
        if ordinal <= faults.file_500:
            self.send_outcome(500, plain_issue("fatal", "exception", "An unexpected error occurred."))
            return
        drop_halfway = ordinal <= faults.file_500 + faults.file_drop
        client_id = self.authorized_client()
        if client_id is None:
            return
        export_file = None if faults.expired_files else app.exports.find_file(request_id, file_id)
        job = app.exports.get(request_id)
        if export_file is None or job is None or job.client_id != client_id:
            self.send_not_found_outcome()
            return
        try:
            handle = export_file.path.open("rb")
        except FileNotFoundError:  # deleted between lookup and open
            self.send_not_found_outcome()
            return
        with handle:
            size = export_file.path.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+ndjson")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.command == "HEAD":
                return
            if drop_halfway:
                self.wfile.write(handle.read(size // 2))
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            # sendfile streams from the page cache without copying through Python.
            self.connection.sendfile(handle)


_SMART_CONFIGURATION = FHIR_PREFIX + "/.well-known/smart-configuration"
_Route = tuple[str, re.Pattern[str], Callable[..., None]]
_ROUTES: list[_Route] = [
    ("POST", re.compile(re.escape(TOKEN_PATH)), EmulatorHandler.token),
    ("GET", re.compile(re.escape(_SMART_CONFIGURATION)), EmulatorHandler.smart_configuration),
    ("GET", re.compile(re.escape(FHIR_PREFIX + "/metadata")), EmulatorHandler.metadata),
    ("GET", re.compile(re.escape(FHIR_PREFIX) + r"/Group/([^/]+)/\$export"), EmulatorHandler.kickoff),
    ("GET", re.compile(re.escape(FHIR_PREFIX) + r"/Binary/([A-Za-z0-9\-.]{1,256})"), EmulatorHandler.binary),
    ("GET", re.compile(re.escape(BULK_PREFIX) + f"/({_REQUEST_ID})"), EmulatorHandler.status),
    ("DELETE", re.compile(re.escape(BULK_PREFIX) + f"/({_REQUEST_ID})"), EmulatorHandler.delete),
    ("GET", re.compile(re.escape(BULK_PREFIX) + f"/({_REQUEST_ID})/({_FILE_ID})"), EmulatorHandler.download),
]


def _match(method: str, path: str) -> tuple[Callable[..., None], tuple[str, ...]] | None:
    if path == TOKEN_PATH:
        # Any verb on the token endpoint gets OAuth's invalid_request, not the IIS page.
        return EmulatorHandler.token, ()
    for route_method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groups()
    return None
