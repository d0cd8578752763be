"""Token files for training loaders: ``PREFIX.bin`` (flat little-endian ``uint16``/``uint32`` tokens),
``PREFIX.idx.npy`` (``int64`` document offsets) and ``PREFIX.json`` (the sidecar), optionally split into shards
``PREFIX-00000.*``; written under temporary names and renamed only when the whole run succeeds.

Standard library only: the ``.npy`` header is written and read here (format version 1.0, which ``numpy.load``
reads), so writing needs no NumPy.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import json
import os
import re
import secrets
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

SIDECAR_FORMAT = "bytepair-tokens"
SIDECAR_VERSION = 1
DTYPE_SIZES = {"uint16": 2, "uint32": 4}

# The .npy header is written before the document count is known, then rewritten in place: this fixed size (a
# multiple of 64, as the format asks) leaves room for any count.
_NPY_HEADER_BYTES = 128
_NPY_MAGIC = b"\x93NUMPY\x01\x00"


def npy_header(count: int) -> bytes:
    """A ``.npy`` (version 1.0) header for a 1-D little-endian ``int64`` array of ``count`` items."""
    header = f"{{'descr': '<i8', 'fortran_order': False, 'shape': ({count},), }}"
    padding = _NPY_HEADER_BYTES - len(_NPY_MAGIC) - 2 - len(header) - 1
    return (
        _NPY_MAGIC + (_NPY_HEADER_BYTES - 10).to_bytes(2, "little") + header.encode("latin1") + b" " * padding + b"\n"
    )


def read_offsets(path: Path) -> array[int]:
    """The ``int64`` offsets of an ``.idx.npy`` file written by `TokenFiles` (or any 1-D ``<i8`` ``.npy``)."""
    data = path.read_bytes()
    if not data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{path} is not a .npy file")
    header_length = int.from_bytes(data[8:10], "little")
    header = ast.literal_eval(data[10 : 10 + header_length].decode("latin1"))
    if header.get("descr") != "<i8" or header.get("fortran_order") or len(header.get("shape", ())) != 1:
        raise ValueError(f"{path} does not hold a 1-D little-endian int64 array (header: {header})")
    offsets = array("q", data[10 + header_length :])
    if sys.byteorder == "big":
        offsets.byteswap()
    if len(offsets) != header["shape"][0]:
        raise ValueError(f"{path} is truncated: its header says {header['shape'][0]} offsets, it holds {len(offsets)}")
    return offsets


def temporary_name(target: Path) -> Path:
    """A hidden name beside ``target`` that no complete output has: ``.NAME.RANDOM.partial``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")


@contextlib.contextmanager
def staged(*targets: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``: renamed onto them in order if the block succeeds, removed if it fails.

    With several targets, the last is absent until its own rename (a stale one is removed first), so a reader that
    needs it, as `decode` needs the sidecar, never pairs it with data from an interrupted or failed run.
    """
    temps = [temporary_name(target) for target in targets]
    try:
        yield temps
        if len(targets) > 1:
            with contextlib.suppress(FileNotFoundError):
                os.remove(targets[-1])
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                os.remove(temp)
        raise


@dataclass
class _InputCounts:
    documents: int = 0
    bytes: int = 0
    tokens: int = 0


def _shifted(offsets: array[int], start: int, end: int, shift: int) -> bytes:
    """``offsets[start:end] + shift`` as little-endian int64 bytes.

    NumPy, when installed, adds in C: a Python loop took 50-100 ms per 100 000 documents, as long as encoding them.
    """
    try:
        import numpy as np
    except ImportError:
        part = offsets[start:end] if shift == 0 else array("q", [offset + shift for offset in offsets[start:end]])
        if sys.byteorder == "big":
            part.byteswap()
        return part.tobytes()
    native = np.frombuffer(offsets, dtype=np.int64, count=end - start, offset=start * offsets.itemsize)
    return (native + shift).astype("<i8", copy=False).tobytes()


def _prefix_sums(values: Sequence[int]) -> Sequence[int]:
    """``[0, values[0], values[0] + values[1], ...]``, summed in C by NumPy when it is installed (a Python loop took
    20 ms per 300,000 documents, a 16 MiB chunk of one-line documents)."""
    try:
        import numpy as np
    except ImportError:
        return [0, *itertools.accumulate(values)]
    sums = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.asarray(values, dtype=np.int64), out=sums[1:])
    # An int64 array indexes like the list (its items are NumPy ints: callers convert their differences).
    return sums  # type: ignore[return-value]


class _Runs:
    """Walks (input, document count) segments, handing out the next documents as (input, first, end) ranges."""

    def __init__(self, segments: list[tuple[str, int]]) -> None:
        self.segments = segments
        self.index = 0
        self.used = 0  # documents of segments[index] already handed out
        self.position = 0  # index of the next document in the batch

    def take(self, count: int) -> Iterator[tuple[str, int, int]]:
        while count:
            origin, total = self.segments[self.index]
            step = min(count, total - self.used)
            if step:
                yield origin, self.position, self.position + step
            self.used += step
            self.position += step
            count -= step
            if self.used == total:
                self.index, self.used = self.index + 1, 0


@dataclass
class _Shard:
    """One ``.bin``/``.idx.npy``/``.json`` triple being written under temporary names."""

    targets: tuple[Path, Path, Path]
    temps: tuple[Path, Path, Path]
    bin: BinaryIO
    idx: BinaryIO
    documents: int = 0
    bytes: int = 0
    tokens: int = 0
    inputs: dict[str, _InputCounts] = field(default_factory=dict)


class TokenFiles:
    """Writes batches of encoded documents to one token file, or to shards of at most ``shard_tokens`` tokens.

    Documents are never split: a shard ends before the document that would take it past ``shard_tokens`` (a
    document longer than that gets a shard of its own). Use as a context manager: on success every file is renamed
    into place (stale sidecars first, so no new ``.bin`` is ever paired with an old ``.json``); on any exception,
    including ``KeyboardInterrupt``, every temporary file is removed and no output is touched.
    """

    def __init__(self, prefix: Path, dtype: str, metadata: dict[str, Any], shard_tokens: int | None = None) -> None:
        self.prefix = prefix
        self.dtype = dtype
        self.width = DTYPE_SIZES[dtype]
        self.metadata = metadata
        self.shard_tokens = shard_tokens
        self.current: _Shard | None = None
        self.finished: list[tuple[_Shard, dict[str, Any]]] = []
        self.temps: list[Path] = []

    def __enter__(self) -> TokenFiles:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            if error is None:
                if self.current is not None:
                    self._close_current()
                self._publish()
        finally:
            if self.current is not None:
                with contextlib.suppress(OSError):
                    self.current.bin.close()
                    self.current.idx.close()
            # After a successful publish these names are gone; otherwise they are the only trace of the run.
            for temp in self.temps:
                with contextlib.suppress(OSError):
                    os.remove(temp)

    @property
    def sidecars(self) -> list[dict[str, Any]]:
        """The sidecar of each shard closed so far (all of them once the block has ended)."""
        return [sidecar for _, sidecar in self.finished]

    def write(
        self, tokens: bytes | bytearray, offsets: array[int], segments: list[tuple[str, int]], sizes: Sequence[int]
    ) -> None:
        """Append a batch: ``tokens`` (``width``-byte little-endian) and their ``len(sizes) + 1`` offsets; ``sizes``:
        each document's size in bytes; ``segments``: (input, document count) for runs of documents from one input.

        Work here is per shard and per segment, not per document, apart from one C-speed pass over the offsets.
        """
        view = memoryview(tokens)
        size_sums = _prefix_sums(sizes)
        runs = _Runs(segments)
        start = 0
        while start < len(sizes):
            shard = self.current or self._open()
            end = len(sizes)
            if self.shard_tokens is not None:
                room = self.shard_tokens - shard.tokens
                end = bisect_right(offsets, offsets[start] + room, start + 1) - 1
                if end == start:
                    if shard.documents:
                        self._close_current()
                        continue
                    end = start + 1
            shard.idx.write(_shifted(offsets, start, end, shard.tokens - offsets[start]))
            shard.bin.write(view[offsets[start] * self.width : offsets[end] * self.width])
            for origin, first, last in runs.take(end - start):
                counts = shard.inputs.setdefault(origin, _InputCounts())
                counts.documents += last - first
                counts.bytes += int(size_sums[last] - size_sums[first])
                counts.tokens += offsets[last] - offsets[first]
            shard.documents += end - start
            shard.bytes += int(size_sums[end] - size_sums[start])
            shard.tokens += offsets[end] - offsets[start]
            start = end
            if self.shard_tokens is not None and shard.tokens >= self.shard_tokens:
                self._close_current()

    def _paths(self, index: int) -> tuple[Path, Path, Path]:
        stem = self.prefix.name if self.shard_tokens is None else f"{self.prefix.name}-{index:05d}"
        return (
            self.prefix.with_name(stem + ".bin"),
            self.prefix.with_name(stem + ".idx.npy"),
            self.prefix.with_name(stem + ".json"),
        )

    def _open(self) -> _Shard:
        targets = self._paths(len(self.finished))
        temps = (temporary_name(targets[0]), temporary_name(targets[1]), temporary_name(targets[2]))
        self.temps.extend(temps)
        bin_file = open(temps[0], "xb")  # closed by _close_current or __exit__
        idx_file = open(temps[1], "xb")
        idx_file.write(npy_header(0))
        self.current = _Shard(targets, temps, bin_file, idx_file)
        return self.current

    def _close_current(self) -> None:
        shard = self.current
        assert shard is not None
        self.current = None
        with shard.bin, shard.idx:
            shard.idx.write(shard.tokens.to_bytes(8, "little", signed=True))
            shard.idx.seek(0)
            shard.idx.write(npy_header(shard.documents + 1))
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            **self.metadata,
            "dtype": self.dtype,
            "byteorder": "little",
            "shard": None if self.shard_tokens is None else len(self.finished),
            "documents": shard.documents,
            "bytes": shard.bytes,
            "tokens": shard.tokens,
            "offsets": shard.targets[1].name,
            "inputs": [{"path": path, **vars(counts)} for path, counts in shard.inputs.items()],
        }
        with open(shard.temps[2], "x", encoding="utf-8") as out:
            json.dump(sidecar, out, indent=2)
            out.write("\n")
        self.finished.append((shard, sidecar))

    def _publish(self) -> None:
        if not self.finished:  # no document at all: still write an empty token file, so the run has an output
            self._open()
            self._close_current()
        stale = [self.prefix.with_name(self.prefix.name + suffix) for suffix in (".bin", ".idx.npy", ".json")]
        if self.shard_tokens is not None:
            pattern = re.compile(re.escape(self.prefix.name) + r"-(\d{5})\.(bin|idx\.npy|json)")
            stale = [
                path
                for path in self.prefix.parent.iterdir()
                if (match := pattern.fullmatch(path.name)) and int(match.group(1)) >= len(self.finished)
            ]
        for path in [*(shard.targets[2] for shard, _ in self.finished), *stale]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for shard, _ in self.finished:
            os.replace(shard.temps[0], shard.targets[0])
            os.replace(shard.temps[1], shard.targets[1])
        for shard, _ in self.finished:
            os.replace(shard.temps[2], shard.targets[2])
