"""Whole corpora in one call: bytepair's native batch, flat-array and command-line paths against tiktoken's
`encode_ordinary_batch` (followed by concatenation into one NumPy array) and every installed peer's batch API.

Rows, for each encoding, corpus and document shape (chunks of about 4 KiB cut at line breaks, and single lines):

- batch, lists: ``encode_ordinary_batch(docs)``, one list of ids per document, on every core;
- batch, flat array: one ``uint32`` array of all ids plus offsets. bytepair: `encode_batch_to_numpy`; tiktoken:
  `encode_ordinary_batch` then ``np.fromiter(chain(...))`` (measured 3x faster than ``np.concatenate`` of per-document
  arrays on English lines, so the baseline is the faster of the two); peers: their flat-array call if they have one,
  else their batch call and the same concatenation;
- token file (lines only): the corpus file on disk to ``PREFIX.bin`` + ``PREFIX.idx.npy`` with end-of-text after each
  line. bytepair: ``bytepair encode FILE --split line`` (run in this process); tiktoken and peers: read the file, split
  it the same way, their flat-array row's call, separators inserted with NumPy, both files written with NumPy.

Every timed output is checked against tiktoken's ids (the token file is read back), and a peer whose ids differ is
shown as "wrong ids", not timed. compare.py has the single-document rows. Run from the repository root on a release
build (Linux; throughput in MB/s of UTF-8 text, best of --repeat):

    python benches/batch.py --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tiktoken
import tiktoken.load

import bytepair
import peers
from bytepair import cli
from bytepair.config import ENCODINGS
from compare import (
    CORPUS_KINDS,
    KIB,
    VOCAB_DIR,
    best_of,
    build_tiktoken,
    cpu_model,
    default_corpus_dir,
    load_corpus,
    megabytes_per_second,
    progress,
    require_release_build,
    split_documents,
    stderr_silenced,
)
from peers import BATCH, BATCH_ARRAY, Peer

WRONG = "wrong ids"
RAISES = "raises"
NA = "n/a"


@dataclass
class Row:
    encoding: str
    input: str
    benchmark: str
    size: int  # bytes of UTF-8 text the throughputs are computed on
    cells: dict[str, float | str] = field(default_factory=dict)  # library -> MB/s, or why not timed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_release_build()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = 256 * KIB if args.quick else None
    rows: list[Row] = []
    labels: list[str] = []
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bytepair-batch-") as scratch_dir:
        scratch = Path(scratch_dir)
        for name in args.encodings.split(","):
            spec = ENCODINGS[name]
            ours = bytepair.get_encoding(name)
            theirs = build_tiktoken(name)
            vocab_path = VOCAB_DIR / spec.vocab_file
            progress(f"{name}: building the installed peers")
            found, not_built = peers.build_all(
                spec, tiktoken.load.load_tiktoken_bpe(str(vocab_path)), vocab_path, threads, scratch
            )
            missing.update(not_built)
            labels += [peer.label for peer in found if peer.label not in labels]
            for kind in CORPUS_KINDS:
                path = args.corpus_dir / f"{kind}.txt"
                text = load_corpus(path, limit)
                if limit is not None:  # the token-file row reads the file: give it the same cut text
                    path = scratch / f"{kind}.txt"
                    path.write_text(text, encoding="utf-8", newline="")
                for shape, documents in (("4 KiB", split_documents(text)), ("lines", split_lines(text))):
                    progress(f"{name}: {kind}, {shape}")
                    rows += bench_documents(
                        name, f"{kind}, {shape}", documents, ours, theirs, found, threads, args.repeat
                    )
                progress(f"{name}: {kind}, token file")
                rows.append(bench_token_file(name, kind, path, ours, theirs, found, threads, args.repeat, scratch))
    command = shlex.join(["python", "benches/batch.py", *(sys.argv[1:] if argv is None else argv)])
    print(render(rows, labels, missing, command, threads, args))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir(), help="english/code/multilingual.txt")
    parser.add_argument("--encodings", default="cl100k_base", help="comma-separated names (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per cell; the best counts (default: 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on 256 KiB of each corpus")
    args = parser.parse_args(argv)
    unknown = [name for name in args.encodings.split(",") if name not in ENCODINGS]
    if unknown or args.repeat < 1:
        parser.error(f"unknown encodings {unknown}" if unknown else "--repeat must be at least 1")
    return args


def split_lines(text: str) -> list[str]:
    """One document per non-empty line, without its line ending: what ``bytepair encode --split line`` reads."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return [line for line in lines if line]


# ==== Rows ====


def flatten(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Lists of ids to one uint32 array and int64 offsets (the fastest of the ways measured; see the docstring)."""
    lengths = np.fromiter((len(one) for one in lists), dtype=np.int64, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.uint32, count=int(offsets[-1]))
    return tokens, offsets


def as_flat(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """A peer's flat-array result as (ids, offsets): most give the pair; gigatoken gives an awkward array, whose
    flat content and per-list counts awkward hands over without a Python object per token."""
    if isinstance(result, tuple):
        return np.asarray(result[0]), np.asarray(result[1])
    import awkward

    counts = awkward.num(result, axis=1).to_numpy()
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return awkward.flatten(result, axis=1).to_numpy(), offsets


def flat_calls(ours: Any, theirs: Any, found: list[Peer], threads: int) -> dict[str, Callable[[list[str]], Any]]:
    """Library -> documents -> (uint32 ids, int64 offsets)."""
    calls: dict[str, Callable[[list[str]], Any]] = {
        "tiktoken": lambda docs: flatten(theirs.encode_ordinary_batch(docs, num_threads=threads)),
        "bytepair": lambda docs: ours.encode_batch_to_numpy(docs, num_threads=threads),
    }
    for peer in found:
        if BATCH_ARRAY in peer.ops:
            calls[peer.label] = lambda docs, op=peer.ops[BATCH_ARRAY]: as_flat(op.run(docs))
        elif BATCH in peer.ops:
            op = peer.ops[BATCH]
            calls[peer.label] = lambda docs, op=op: flatten(op.read(op.run(docs)))
    return calls


def timed(repeat: int, call: Callable[[], Any], check: Callable[[Any], bool], size: int) -> float | str:
    """MB/s of the best of ``repeat`` runs, once the output passed ``check``; or why it was not timed."""
    try:
        with stderr_silenced():  # a peer's Rust panic prints its backtrace straight to fd 2
            if not check(call()):  # also the warm-up run
                return WRONG
            seconds, _ = best_of(repeat, call)
    except BaseException as err:  # PanicException derives from BaseException, not Exception
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        progress(f"  raises {type(err).__name__}: {err}")
        return RAISES
    return megabytes_per_second(size, seconds)


def bench_documents(
    name: str, label: str, documents: list[str], ours: Any, theirs: Any, found: list[Peer], threads: int, repeat: int
) -> list[Row]:
    size = sum(len(document.encode("utf-8")) for document in documents)
    expected = theirs.encode_ordinary_batch(documents, num_threads=threads)
    expected_tokens, expected_offsets = flatten(expected)
    lists = Row(name, label, "batch, lists", size)
    lists_calls: dict[str, Any] = {
        "tiktoken": lambda: theirs.encode_ordinary_batch(documents, num_threads=threads),
        "bytepair": lambda: ours.encode_ordinary_batch(documents, num_threads=threads),
    }
    for peer in found:
        if BATCH in peer.ops:
            op = peer.ops[BATCH]
            lists_calls[peer.label] = lambda op=op: op.read(op.run(documents))
    for library, call in lists_calls.items():
        lists.cells[library] = timed(repeat, call, lambda got: list(map(list, got)) == expected, size)

    flat = Row(name, label, "batch, flat array", size)
    for library, flat_call in flat_calls(ours, theirs, found, threads).items():
        flat.cells[library] = timed(
            repeat,
            lambda flat_call=flat_call: flat_call(documents),
            lambda got: np.array_equal(got[0], expected_tokens) and np.array_equal(got[1], expected_offsets),
            size,
        )
    return [lists, flat]


def bench_token_file(
    name: str,
    kind: str,
    path: Path,
    ours: Any,
    theirs: Any,
    found: list[Peer],
    threads: int,
    repeat: int,
    scratch: Path,
) -> Row:
    size = path.stat().st_size
    eot = theirs.eot_token
    dtype = np.dtype(cli.dtype_for(ours)).newbyteorder("<")
    expected_lists = theirs.encode_ordinary_batch(split_lines(path.read_text(encoding="utf-8")), num_threads=threads)
    expected = np.fromiter(
        itertools.chain.from_iterable([*one, eot] for one in expected_lists), dtype=np.uint32
    ).astype(dtype)
    prefix = scratch / "tokens"
    row = Row(name, f"{kind}, lines", "token file (.bin + .idx.npy)", size)

    def read_back() -> bool:
        tokens = np.fromfile(prefix.with_name("tokens.bin"), dtype=dtype)
        offsets = np.load(prefix.with_name("tokens.idx.npy"))
        return np.array_equal(tokens, expected) and len(offsets) == len(expected_lists) + 1

    def with_numpy(flat_call: Callable[[list[str]], Any]) -> Callable[[], None]:
        def run() -> None:
            tokens, offsets = flat_call(split_lines(path.read_text(encoding="utf-8")))
            tokens = np.insert(np.asarray(tokens, dtype=dtype), np.asarray(offsets[1:], dtype=np.int64), eot)
            tokens.tofile(prefix.with_name("tokens.bin"))
            np.save(prefix.with_name("tokens.idx.npy"), np.asarray(offsets, dtype=np.int64) + np.arange(len(offsets)))

        return run

    def bytepair_cli() -> None:
        argv = [str(path), "--split", "line", "-o", str(prefix), "--encoding", name, "--workers", str(threads), "-q"]
        if cli.main(["encode", *argv]) != 0:
            raise RuntimeError("bytepair encode failed")

    for library, flat_call in flat_calls(ours, theirs, found, threads).items():
        if library == "bytepair":
            row.cells[library] = timed(repeat, bytepair_cli, lambda _: read_back(), size)
        else:
            row.cells[library] = timed(repeat, with_numpy(flat_call), lambda _: read_back(), size)
    return row


# ==== Report ====


def render(
    rows: list[Row], labels: list[str], missing: dict[str, str], command: str, threads: int, args: argparse.Namespace
) -> str:
    libraries = ["tiktoken", "bytepair", *labels]
    lines = [
        f"Command: `{command}`",
        f"Machine: {cpu_model()}, {threads} CPUs usable, Python {sys.version.split()[0]}; "
        f"bytepair {bytepair.__version__}, tiktoken {tiktoken.__version__}; corpora from {args.corpus_dir}; "
        f"best of {args.repeat}; MB/s of UTF-8 text, every output checked against tiktoken's ids.",
        "",
        "| encoding | input | call | " + " | ".join(libraries) + " | bytepair vs tiktoken | vs fastest peer |",
        "| --- | --- | --- | " + " | ".join("---:" for _ in libraries) + " | ---: | ---: |",
    ]
    for row in rows:
        cells = [format_cell(row.cells.get(library, NA)) for library in libraries]
        ours = row.cells.get("bytepair")
        peer_speeds = [value for key, value in row.cells.items() if key not in ("tiktoken", "bytepair")]
        fastest = max((value for value in peer_speeds if isinstance(value, float)), default=None)
        lines.append(
            f"| {row.encoding} | {row.input} | {row.benchmark} | "
            + " | ".join(cells)
            + f" | {speedup(ours, row.cells.get('tiktoken'))} | {speedup(ours, fastest)} |"
        )
    if missing:
        lines += ["", "Not run: " + "; ".join(f"{label}: {why}" for label, why in missing.items())]
    return "\n".join(lines)


def format_cell(value: float | str) -> str:
    return f"{value:.1f}" if isinstance(value, float) else value


def speedup(ours: Any, theirs: Any) -> str:
    if isinstance(ours, float) and isinstance(theirs, float):
        return f"{ours / theirs:.2f}x"
    return NA


if __name__ == "__main__":
    sys.exit(main())
