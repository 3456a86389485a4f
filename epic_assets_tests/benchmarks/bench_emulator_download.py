"""Emulator download throughput: bulk files over HTTP vs. reading the same spool files from disk.

Runs ``epic-assets emulator`` as a subprocess (so its peak memory is measurable on its own), exports
the whole Group, downloads every file with streaming reads, then reads the same spool files straight
from disk as the baseline. Prints MB/s for both, their ratio, and the emulator's peak RSS.

    .venv/bin/python -m epic_assets_tests.benchmarks.bench_emulator_download [--patients N]
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import generate_key_files, load_private_key

CLIENT_ID = "bench-client"
CHUNK = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def download_all(session: requests.Session, urls: list[str]) -> int:
    total = 0
    for url in urls:
        with session.get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            for chunk in response.iter_content(CHUNK):
                total += len(chunk)
    return total


def read_all(files: list[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                total += len(chunk)
    return total


def start_emulator(jwks: Path, spool: Path, patients: int, max_per_file: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "epic_assets", "emulator", "--jwks", str(jwks), "--client-id", CLIENT_ID,
        "--patients", str(patients), "--max-per-file", str(max_per_file), "--spool-dir", str(spool), "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    printed = ""
    while "ready" not in printed:
        printed += lines.get(timeout=60)
    return process, re.search(r"FHIR base URL : (\S+)", printed).group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000, help="patients in the Group (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="download/read rounds; the best is reported")
    parser.add_argument("--max-per-file", type=int, default=3000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as temp:
        keys = generate_key_files(Path(temp) / "keys")
        spool = Path(temp) / "spool"
        process, base_url = start_emulator(keys.jwks, spool, args.patients, args.max_per_file)
        try:
            session = requests.Session()
            token_url = session.get(f"{base_url}/.well-known/smart-configuration", timeout=30).json()["token_endpoint"]
            assertion = sign_client_assertion(
                load_private_key(keys.private_key), client_id=CLIENT_ID, token_url=token_url, kid=keys.kid
            )
            token = session.post(
                token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion,
                },
                timeout=30,
            ).json()["access_token"]
            session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"})

            started = time.perf_counter()
            kickoff = session.get(
                f"{base_url}/Group/e3iabhmS8rsueyz7vaimuiaSmfGvi.QwjVXJANlPOgR83/$export",
                headers={"Prefer": "respond-async"},
                timeout=30,
            )
            status_url = kickoff.headers["Content-Location"]
            while (status := session.get(status_url, timeout=30)).status_code == 202:
                time.sleep(0.1)
            manifest = status.json()
            export_seconds = time.perf_counter() - started

            if status.status_code != 200:
                raise SystemExit(f"export failed: HTTP {status.status_code} {status.text[:300]}")
            urls = [entry["url"] for entry in manifest["output"]]
            files = [path for path in spool.rglob("*") if path.is_file()]
            http_seconds = disk_seconds = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                downloaded = download_all(session, urls)
                http_seconds = min(http_seconds, time.perf_counter() - started)
                started = time.perf_counter()
                read = read_all(files)
                disk_seconds = min(disk_seconds, time.perf_counter() - started)
            emulator_peak = peak_rss_mib(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    mib = downloaded / 2**20
    http_rate = mib / http_seconds
    disk_rate = read / 2**20 / disk_seconds
    print(f"patients={args.patients} files={len(urls)} bytes={downloaded:,} (spool {read:,}); best of {args.repeat}")
    print(f"export generation          : {export_seconds:8.2f} s")
    print(f"HTTP download (emulator)   : {http_seconds:8.3f} s  {http_rate:9.1f} MiB/s")
    print(f"disk read (baseline)       : {disk_seconds:8.3f} s  {disk_rate:9.1f} MiB/s")
    print(f"ratio HTTP / disk          : {http_rate / disk_rate:8.2f}x")
    print(f"emulator peak RSS (VmHWM)  : {emulator_peak:8.1f} MiB")


if __name__ == "__main__":
    main()
