"""Selfcheck's Retry-After reading: both forms HTTP allows (EPIC.md section 4)."""

from __future__ import annotations

import email.utils
import time

import pytest

from epic_assets.emulator.selfcheck import SelfcheckError, require_same_origin, retry_after_seconds


def test_delta_seconds() -> None:
    assert retry_after_seconds("120", default=1.0) == 120.0


def test_http_date_is_converted_to_seconds_from_now() -> None:
    header = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds(header, default=1.0) <= 61


def test_past_dates_mean_no_wait_and_garbage_or_absence_means_the_default() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", default=1.0) == 0.0
    assert retry_after_seconds("soon", default=1.5) == 1.5
    assert retry_after_seconds(None, default=2.0) == 2.0


def test_the_bearer_session_only_follows_urls_on_the_fhir_servers_origin() -> None:
    base = "http://127.0.0.1:8080/api/FHIR/R4"
    same = "http://127.0.0.1:8080/api/FHIR/BulkRequest/ABC/file1"
    assert require_same_origin(same, base, "file") == same
    for foreign in (
        "http://127.0.0.2:8080/api/FHIR/BulkRequest/ABC/file1",
        "http://127.0.0.1:9090/api/FHIR/BulkRequest/ABC/file1",
        "https://127.0.0.1:8080/api/FHIR/BulkRequest/ABC/file1",
    ):
        with pytest.raises(SelfcheckError, match="not on the FHIR server's origin"):
            require_same_origin(foreign, base, "manifest output url")
