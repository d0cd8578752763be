"""Reading corpora for the command line: which files the arguments name (files, folders, globs), how each is opened
(gzip, bz2, xz, zstd) and cut into documents (text per file, line or blank-line block; JSON Lines; Parquet).

Standard library only, except Parquet (pyarrow) and zstd (zstandard), imported when such a file is read. Every
problem is an `InputError` that names the file and where in it (byte offset, line or row).
"""

from __future__ import annotations

import bz2
import contextlib
import glob
import gzip
import json
import lzma
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMATS = ("auto", "text", "jsonl", "parquet")
SPLITS = ("file", "line", "blank")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")

# Bytes read per step from a file cut into lines, blocks or JSON lines: large enough that decoding and splitting run
# at C speed on whole chunks, small enough to bound memory.
CHUNK_BYTES = 1 << 20

# A blank line: nothing but spaces, tabs or a carriage return between two line feeds. Blocks end at the line feed
# before the first blank line; a run of blank lines is one separator.
_BLANK_LINES = re.compile(r"\r?\n(?:[^\S\n]*\n)+")
_LEADING_BLANK_LINES = re.compile(r"(?:[^\S\n]*\n)+")


class InputError(Exception):
    """A problem with the inputs the user named; the command line reports it as one line and exits with status 1."""


@dataclass(frozen=True)
class Source:
    """One input file and the format it is read in (``text``, ``jsonl`` or ``parquet``)."""

    path: Path
    format: str


def find_sources(arguments: Sequence[str], fmt: str = "auto") -> list[Source]:
    """The files that ``arguments`` name, in order: a file as is, a folder's files (recursively, sorted, hidden
    ones skipped), a glob's matches (sorted; ``**`` crosses folders). Fails on a name that matches nothing.

    ``fmt`` ``"auto"`` picks each file's format from its extension, once any compression extension is dropped:
    ``.jsonl``/``.ndjson`` are JSON Lines, ``.parquet`` is Parquet, anything else is text.
    """
    sources: list[Source] = []
    for argument in arguments:
        path = Path(argument)
        if path.exists():
            paths = _walk(path)
        elif glob.has_magic(argument):
            paths = [file for match in sorted(glob.glob(argument, recursive=True)) for file in _walk(Path(match))]
            if not paths:
                raise InputError(f"{argument}: no files match")
        else:
            raise InputError(f"{argument}: no such file")
        if not paths:
            raise InputError(f"{argument} is a folder with no files in it")
        sources.extend(Source(one, _format_of(one) if fmt == "auto" else fmt) for one in paths)
    return sources


def _walk(path: Path) -> list[Path]:
    try:
        mode = path.stat().st_mode
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    if not stat.S_ISDIR(mode):
        return [path]
    found: list[Path] = []
    for folder, folders, files in os.walk(path):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found.extend(Path(folder) / name for name in files if not name.startswith("."))
    # Sorted as paths (folder by folder), so a/1.txt comes before top.txt whatever order the OS lists them in.
    return sorted(found, key=lambda file: file.relative_to(path).parts)


def _format_of(path: Path) -> str:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(last, "text")


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed by its extension (``.gz``, ``.bz2``, ``.xz``, ``.zst``)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile is a binary IO
        if suffix == ".bz2":
            return bz2.open(path, "rb")
        if suffix == ".xz":
            return lzma.open(path, "rb")
        if suffix == ".zst":
            try:
                import zstandard
            except ImportError:
                raise InputError(
                    f"{path}: reading .zst files needs the zstandard package (pip install zstandard)"
                ) from None
            return zstandard.open(path, "rb")  # type: ignore[no-any-return]
        return open(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None


def read_documents(source: Source, split: str, errors: str, field: str) -> Iterator[list[str]]:
    """The documents of ``source``, a few MiB at a time (a whole file at once with ``split="file"``).

    Text: the whole file (``split="file"``), each line without its line ending, empty lines skipped (``"line"``),
    or each block of lines between blank lines, without the last line ending (``"blank"``). JSON Lines: the string
    ``field`` of each line's object (blank lines skipped). Parquet: the string column ``field``. Text that is not
    valid UTF-8 follows ``errors`` (``"strict"``: an error naming the file and byte offset).
    """
    if source.format == "parquet":
        yield from _read_parquet(source.path, field)
        return
    with _reading(source.path) as stream:
        if source.format == "jsonl":
            yield from _read_json_lines(source.path, stream, errors, field)
        elif split == "file":
            yield [_decode(source.path, stream.read(), 0, 1, errors)]
        else:
            yield from _read_split(source.path, stream, errors, split)


def line_chunks(source: Source, sizes: Iterable[int]) -> Iterator[tuple[bytes, bytes, int, int]]:
    """The bytes of a text file in chunks cut after a line feed (the last at the end of the file), each read's size
    the next of ``sizes``, as ``(head, data, cut, offset)``: the chunk is ``head + data[:cut]``, where ``head`` is the
    end of the previous read's last line and ``data`` a whole read, kept apart so that no chunk is copied to join or
    cut them (Rust reads both in place: joining and slicing 16 MiB reads, and counting their lines, held the reader
    to 0.6-0.7 GB/s on English from the page cache, against 3.6 GB/s for the reads alone), and ``offset`` is the
    chunk's first byte in the file. For reading its lines in Rust, which checks the UTF-8 (see `check_utf8` for the
    error to raise)."""
    with _reading(source.path) as stream:
        # The reads since the last line feed, joined once a line ends (joining at every read copied a long line
        # once per read: 0.6 s for a 128 MiB file without a line feed, 7.4 s for 512 MiB).
        head_parts: list[bytes] = []
        offset = 0
        for size in sizes:
            data = stream.read(size)
            if not data:
                break
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line ends in this read: all of it begins the next chunk
                head_parts.append(data)
                continue
            head = b"".join(head_parts)
            yield head, data, cut, offset
            offset += len(head) + cut
            head_parts = [data[cut:]]
        if head := b"".join(head_parts):
            yield b"", head, len(head), offset


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened with `open_binary`; a read error or a truncated or corrupt archive, while open or while the
    block reads it, becomes an `InputError` naming the file."""
    try:
        with open_binary(path) as stream:
            yield stream
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise InputError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None


def check_utf8(path: Path, data: bytes, offset: int) -> None:
    """Raises the `InputError` that names where ``data``, the chunk of ``path`` that starts at byte ``offset`` (from
    `line_chunks`), is not UTF-8; the line is counted by reading the file up to ``offset`` again, as only an error
    needs it."""
    newlines, left = 0, offset
    with _reading(path) as stream:
        while left and (piece := stream.read(min(left, CHUNK_BYTES))):
            newlines += piece.count(b"\n")
            left -= len(piece)
    _decode(path, data, offset, newlines + 1, "strict")


def _chunks(stream: IO[bytes]) -> Iterator[tuple[bytes, int, int]]:
    """Chunks of ``stream`` cut after a line feed (so never inside a UTF-8 character), with the byte offset and the
    1-based line number each starts at."""
    carry: list[bytes] = []  # the reads since the last line feed, joined once a line ends (see `line_chunks`)
    offset = 0
    line = 1
    while True:
        data = stream.read(CHUNK_BYTES)
        if not data:
            break
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry.append(data)
            continue
        chunk = b"".join([*carry, data[:cut]])
        carry = [data[cut:]]
        yield chunk, offset, line
        offset += len(chunk)
        line += chunk.count(b"\n")
    if rest := b"".join(carry):
        yield rest, offset, line


def _decode(path: Path, data: bytes, offset: int, line: int, errors: str) -> str:
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as err:
        line += data.count(b"\n", 0, err.start)
        raise InputError(
            f"{path}: invalid UTF-8 at byte {offset + err.start} (line {line}, byte {data[err.start]:#04x}); "
            "pass --errors replace to read such bytes as U+FFFD, or --errors ignore to drop them"
        ) from None


def _read_split(path: Path, stream: IO[bytes], errors: str, split: str) -> Iterator[list[str]]:
    pending = ""  # blank mode: the block that the next chunk may continue
    for data, offset, line in _chunks(stream):
        text = _decode(path, data, offset, line, errors)
        if split == "line":
            lines = text.split("\n")
            if "\r" in text:
                lines = [one[:-1] if one.endswith("\r") else one for one in lines]
            yield [one for one in lines if one]
        else:
            text = pending + text
            # A chunk may start with the rest of a separator whose first line ended the previous chunk.
            leading = _LEADING_BLANK_LINES.match(text)
            blocks = _BLANK_LINES.split(text[leading.end() :] if leading else text)
            pending = blocks.pop()
            yield [block for block in blocks if block.strip()]
    if pending.strip():
        yield [_strip_line_ending(pending)]


def _strip_line_ending(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
    return text[:-1] if text.endswith("\r") else text


def _read_json_lines(path: Path, stream: IO[bytes], errors: str, field: str) -> Iterator[list[str]]:
    for data, offset, first_line in _chunks(stream):
        texts = []
        for number, raw in enumerate(_decode(path, data, offset, first_line, errors).split("\n"), first_line):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as err:
                raise InputError(f"{path}:{number}: invalid JSON: {err}") from None
            texts.append(_field_text(record, field, f"{path}:{number}"))
        yield texts


def _field_text(record: Any, field: str, where: str) -> str:
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object with a {field!r} field, found {type(record).__name__}")
    if field not in record:
        fields = ", ".join(map(repr, list(record)[:10])) or "none"
        raise InputError(f"{where}: no field {field!r} (fields: {fields}); pass --field NAME")
    text = record[field]
    if not isinstance(text, str):
        raise InputError(f"{where}: field {field!r} is {type(text).__name__}, not a string")
    return text


def _read_parquet(path: Path, column: str) -> Iterator[list[str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid (a ValueError) or OSError for a file it cannot read
        raise InputError(f"cannot read {path} as Parquet: {err}") from None
    names = parquet.schema_arrow.names
    if column not in names:
        raise InputError(f"{path}: no column {column!r} (columns: {', '.join(map(repr, names))}); pass --column NAME")
    row = 0
    for batch in parquet.iter_batches(batch_size=8192, columns=[column]):
        array = batch.column(0)
        if array.null_count:
            first_null = row + array.is_null().to_pylist().index(True)
            raise InputError(f"{path}: row {first_null} of column {column!r} is null")
        texts = array.to_pylist()
        if texts and not isinstance(texts[0], str):
            raise InputError(f"{path}: column {column!r} holds {array.type}, not strings")
        row += len(texts)
        yield texts
