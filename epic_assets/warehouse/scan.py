"""A fast byte-level pass over each export file before DuckDB reads it.

DuckDB reads each file as lines of text (see :mod:`epic_assets.warehouse.loader`). That reader needs
valid UTF-8 and treats a carriage return as a line break, which would shift line numbers. This pass
checks, at C speed over large chunks, whether a file is safe for it, and meanwhile computes the file's
SHA-256 (the export's identity), its line count (cross-checked against what DuckDB reads) and its
longest line (DuckDB's line-size limit must be raised for big resources such as inline attachments).

A file that is not safe — invalid UTF-8, CR-LF line ends, stray CR or NUL bytes — takes the slow path:
it is rewritten line by line into a scratch copy with the same line numbering, in which each line
DuckDB could not read faithfully is left empty and handed back as a :class:`BadLine` with its original
bytes, for the quarantine. CR-LF line ends are line terminators and are not part of the stored text.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from epic_assets.warehouse.export_dir import ExportFile

_CHUNK = 16 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BadLine:
    """A line the reader cannot take as text; kept byte for byte for the quarantine."""

    line_no: int
    reason: str
    detail: str
    raw: bytes

    @property
    def text(self) -> str | None:
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return None


@dataclass
class ScannedFile:
    """One export file after the byte pass: identity, shape and how DuckDB should read it."""

    file: ExportFile
    sha256: str
    byte_count: int
    line_count: int
    read_path: Path
    gzip_compressed: bool
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def slow_path(self) -> bool:
        return self.read_path != self.file.path


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_export_file(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")  # type: ignore[return-value]


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


def scan_file(export_file: ExportFile, scratch_dir: Path) -> ScannedFile:
    """Hash and check one file; rewrite it into ``scratch_dir`` when DuckDB cannot read it as is."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    byte_count = newlines = 0
    safe = True
    last = b""
    # hashlib releases the GIL on large buffers, so hashing one chunk overlaps checking the next.
    with ThreadPoolExecutor(max_workers=1) as hasher, open_export_file(export_file.path) as handle:
        pending: Future[None] | None = None
        for chunk in _chunks(handle):
            if pending is not None:
                pending.result()
            pending = hasher.submit(digest.update, chunk)
            byte_count += len(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
            if safe:
                safe = _readable_chunk(chunk, decoder)
        if pending is not None:
            pending.result()
    if safe:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            safe = False
    line_count = newlines + (1 if byte_count and last != b"\n" else 0)
    scanned = ScannedFile(
        file=export_file,
        sha256=digest.hexdigest(),
        byte_count=byte_count,
        line_count=line_count,
        read_path=export_file.path,
        gzip_compressed=is_gzip(export_file.path),
    )
    if not safe:
        _rewrite_for_reader(scanned, scratch_dir)
    return scanned


def _readable_chunk(chunk: bytes, decoder: codecs.IncrementalDecoder) -> bool:
    if b"\r" in chunk or b"\x00" in chunk:
        return False
    if chunk.isascii():
        return True
    try:
        decoder.decode(chunk)
    except UnicodeDecodeError:
        return False
    return True


def longest_line(path: Path) -> int:
    """Length in bytes of the longest line (only needed for files with unusually long lines)."""
    return max(map(len, _lines_of(path)), default=0)


def _lines_of(path: Path) -> Iterator[bytes]:
    with open_export_file(path) as handle:
        yield from _lines(handle)


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """Physical lines without their ``\\n`` (the last one may be unterminated)."""
    carry = b""
    for chunk in _chunks(handle):
        pieces = (carry + chunk).split(b"\n")
        carry = pieces.pop()
        yield from pieces
    if carry:
        yield carry


def _rewrite_for_reader(scanned: ScannedFile, scratch_dir: Path) -> None:
    descriptor, name = tempfile.mkstemp(suffix=".ndjson", dir=scratch_dir)
    scratch = Path(name)
    bad: list[BadLine] = []
    with open_export_file(scanned.file.path) as source, os.fdopen(descriptor, "wb") as target:
        for line_no, raw in enumerate(_lines(source), start=1):
            text = raw[:-1] if raw.endswith(b"\r") else raw
            problem = _unreadable(text)
            if problem is not None:
                bad.append(BadLine(line_no=line_no, reason=problem[0], detail=problem[1], raw=raw))
                text = b""
            target.write(text + b"\n")
    scanned.read_path = scratch
    scanned.gzip_compressed = False
    scanned.bad_lines = bad


def _unreadable(text: bytes) -> tuple[str, str] | None:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as error:
        return "invalid_utf8", f"not valid UTF-8 ({error.reason} at byte {error.start})"
    if b"\x00" in text:
        return "not_json", "not valid JSON (contains a NUL byte)"
    if b"\r" in text:
        return "unreadable_line", "contains a carriage return inside the line"
    return None
