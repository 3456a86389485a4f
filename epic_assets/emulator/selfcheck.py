"""``epic-assets selfcheck``: one full bulk export against a fresh in-process emulator, over real HTTP.

It proves the installation works end to end (keys, assertion signing, discovery, token, kick-off,
polling, download, cleanup) and that the exported data hangs together. The HTTP helpers here are
deliberately minimal; the production bulk client lives in ``epic_assets.client``.
"""

from __future__ import annotations

import email.utils
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from epic_assets import identifiers
from epic_assets.emulator import synthetic
from epic_assets.emulator.config import EmulatorConfig
from epic_assets.emulator.runtime import run_emulator
from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import generate_key_files, load_private_key

CLIENT_ID = "epic-assets-selfcheck"
_TIMEOUT = 30
_MAX_POLL_WAIT_SECONDS = 5.0  # a local export never needs long waits; cap whatever Retry-After says
_EXPORT_DEADLINE_SECONDS = 600


class SelfcheckError(Exception):
    """A step of the walk failed; the message says which and why."""


@dataclass
class SelfcheckReport:
    base_url: str = ""
    steps: list[tuple[str, bool, str]] = field(default_factory=list)
    files: Counter[str] = field(default_factory=Counter)
    resources: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(passed for _, passed, _ in self.steps)

    def record(self, step: str, passed: bool, detail: str) -> None:
        self.steps.append((step, passed, detail))


def retry_after_seconds(value: str | None, default: float) -> float:
    """Retry-After as delta-seconds or HTTP-date (both are allowed, EPIC.md section 4)."""
    if not value:
        return default
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - time.time())


def _save(response: requests.Response, path: Path) -> None:
    """Stream a download to ``path`` (written as ``.part``, renamed when complete)."""
    part = path.with_name(path.name + ".part")
    with part.open("wb") as handle:
        for chunk in response.iter_content(chunk_size=256 * 1024):
            handle.write(chunk)
    part.replace(path)


def _ndjson_lines(path: Path, url: str) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise SelfcheckError(f"{url} line {number}: not JSON") from None


def _patient_references(node: Any) -> Iterator[str]:
    """Every ``Patient/<id>`` reference anywhere inside a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value.startswith("Patient/"):
                yield value.removeprefix("Patient/")
            else:
                yield from _patient_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patient_references(item)


def _binary_urls(resource: dict[str, Any]) -> Iterator[str]:
    """Relative ``Binary/<id>`` attachment URLs of a DocumentReference."""
    for content in resource.get("content", []) if resource.get("resourceType") == "DocumentReference" else []:
        url = content.get("attachment", {}).get("url", "")
        if url.startswith("Binary/"):
            yield url


def require_same_origin(url: str, base_url: str, what: str) -> str:
    """The session carries the bearer token, so it may only ever talk to the FHIR server's own origin."""
    if _origin(url) != _origin(base_url):
        raise SelfcheckError(f"{what} {url} is not on the FHIR server's origin; the token is not sent elsewhere")
    return url


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _expect(response: requests.Response, status: int, step: str) -> requests.Response:
    if response.status_code != status:
        raise SelfcheckError(f"{step}: expected HTTP {status}, got {response.status_code} from {response.url}")
    return response


def _walk(
    base_url: str,
    group_id: str,
    key_dir: Path,
    kid: str,
    patients: int,
    seed: int,
    report: SelfcheckReport,
    download_dir: Path,
) -> None:
    session = requests.Session()
    session.headers["Accept"] = "application/fhir+json"

    smart = _expect(session.get(f"{base_url}/.well-known/smart-configuration", timeout=_TIMEOUT), 200, "discovery")
    token_url = smart.json()["token_endpoint"]
    report.record("discovery", True, f"token endpoint {token_url}")

    assertion = sign_client_assertion(
        load_private_key(key_dir / "private_key.pem"), client_id=CLIENT_ID, token_url=token_url, kid=kid
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    token = _expect(session.post(token_url, data=form, timeout=_TIMEOUT), 200, "token").json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    report.record("token", True, f"bearer token, expires_in {token['expires_in']}")

    types = ",".join(synthetic.SUPPORTED_TYPES)
    kickoff = session.get(
        f"{base_url}/Group/{group_id}/$export",
        params={"_type": types},
        headers={"Prefer": "respond-async"},
        timeout=_TIMEOUT,
    )
    status_url = _expect(kickoff, 202, "kick-off").headers["Content-Location"]
    require_same_origin(status_url, base_url, "status URL")
    report.record("kick-off", True, status_url)

    deadline = time.monotonic() + _EXPORT_DEADLINE_SECONDS
    polls = 0
    while True:
        polls += 1
        status = session.get(status_url, timeout=_TIMEOUT)
        if status.status_code == 200:
            manifest = status.json()
            break
        if status.status_code not in {202, 429} or time.monotonic() > deadline:
            raise SelfcheckError(f"poll: unexpected HTTP {status.status_code} after {polls} polls")
        time.sleep(min(_MAX_POLL_WAIT_SECONDS, retry_after_seconds(status.headers.get("Retry-After"), 0.2)))
    report.record("poll", True, f"manifest after {polls} polls ({len(manifest['output'])} files)")

    patient_ids: set[str] = set()
    referenced: set[str] = set()
    binaries: set[str] = set()
    download_dir.mkdir(parents=True, exist_ok=True)
    for entry in manifest["output"]:
        # Files are named by the last segment of their URL beside manifest.json: the warehouse's convention.
        require_same_origin(entry["url"], base_url, "manifest output url")
        name = identifiers.fhir_id(entry["url"].rsplit("/", 1)[-1], where=f"manifest output url {entry['url']}")
        path = download_dir / name
        with session.get(entry["url"], stream=True, timeout=_TIMEOUT) as download:
            _save(_expect(download, 200, "download"), path)
        report.files[entry["type"]] += 1
        for resource in _ndjson_lines(path, entry["url"]):
            if resource.get("resourceType") != entry["type"]:
                raise SelfcheckError(f"{entry['url']}: a {resource.get('resourceType')} in a {entry['type']} file")
            report.resources[entry["type"]] += 1
            if entry["type"] == "Patient":
                patient_ids.add(resource["id"])
            else:
                referenced.update(_patient_references(resource))
            binaries.update(_binary_urls(resource))
    (download_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    report.record("download", True, f"{sum(report.resources.values())} resources in {sum(report.files.values())} files")

    if manifest["error"]:
        raise SelfcheckError(f"the manifest lists {len(manifest['error'])} error file(s) for a clean export")
    expected = set(synthetic.group_patient_ids(patients, seed))
    if patient_ids != expected:
        raise SelfcheckError(f"exported {len(patient_ids)} patients, the Group has {len(expected)}")
    dangling = referenced - patient_ids
    if dangling:
        raise SelfcheckError(f"{len(dangling)} patient references do not resolve, e.g. Patient/{min(dangling)}")
    report.record("integrity", True, f"{len(patient_ids)} patients; all {len(referenced)} referenced ids resolve")

    if binaries:
        sample = sorted(binaries)[0]
        _expect(session.get(f"{base_url}/{sample}", timeout=_TIMEOUT), 200, "binary")
        report.record("binary", True, f"{sample} of {len(binaries)} attachments")

    _expect(session.delete(status_url, timeout=_TIMEOUT), 202, "delete")
    _expect(session.get(status_url, timeout=_TIMEOUT), 404, "status after delete")
    report.record("delete", True, "status URL gone")


def run_selfcheck(
    patients: int = 20,
    seed: int = 0,
    max_per_file: int = 3000,
    emit: Callable[[str], None] = print,
    download_dir: Path | None = None,
    day: int = 0,
) -> SelfcheckReport:
    """Run the walk and print a summary with ``emit``; the report says whether every step passed.

    With ``download_dir`` the export is kept there (``manifest.json`` plus one file per manifest entry),
    ready for ``epic-assets load``; otherwise it lives in a temporary directory removed afterwards.
    ``day`` is the emulator's data day (see :mod:`epic_assets.emulator.synthetic.evolution`).
    """
    report = SelfcheckReport()
    with tempfile.TemporaryDirectory(prefix="epic-selfcheck-") as temp:
        key_dir = Path(temp) / "keys"
        keys = generate_key_files(key_dir)
        config = EmulatorConfig(
            jwks=str(keys.jwks),
            client_id=CLIENT_ID,
            patients=patients,
            seed=seed,
            max_per_file=max_per_file,
            day=day,
        )
        with run_emulator(config) as emulator:
            report.base_url = emulator.base_url
            emit(f"selfcheck: emulator at {emulator.base_url} (Group {emulator.group_id}, {patients} patients)")
            try:
                _walk(
                    emulator.base_url,
                    emulator.group_id,
                    key_dir,
                    keys.kid,
                    patients,
                    seed,
                    report,
                    download_dir or Path(temp) / "export",
                )
            except (SelfcheckError, requests.RequestException, KeyError, ValueError, OSError) as error:
                report.record("failed", False, f"{type(error).__name__}: {error}")
    for step, passed, detail in report.steps:
        emit(f"  {'ok  ' if passed else 'FAIL'} {step:<10} {detail}")
    if report.resources:
        emit(f"  {'type':<24}{'files':>6}{'resources':>11}")
        for type_name in sorted(report.resources):
            emit(f"  {type_name:<24}{report.files[type_name]:>6}{report.resources[type_name]:>11}")
    emit("selfcheck passed" if report.ok else "selfcheck FAILED")
    return report
