"""A/B of two or more bytepair builds in one process: each build's extension (``bytepair/_core*.so`` in a directory
made by ``pip install --no-deps --target DIR WHEEL``) is loaded side by side, and the builds encode the same slices of
the corpus in turn, so a slow spell of the machine (this project's 2-core machine swings up to 2x within minutes)
falls on every build alike and a change of a few percent shows; `builds.py` and `compare.py` time one build per
process, where that noise is larger than such a change. The builds share the process's caches, as two libraries in
one program do.

The corpus is cut into ~4 KiB documents as compare.py cuts it, and the documents into slices of SLICE documents; after
one warm-up pass per build, each pass times every slice once per build (the builds' order alternating from slice to
slice) and keeps each slice's best time per build; printed: MB/s per build over the whole corpus (10^6 bytes of UTF-8
per second) and each build's ratio to the first:

    python benches/side_by_side.py /tmp/b-base,/tmp/b-new cl100k_base ../shared/corpus/english.txt --passes 5

A build named ``gigatoken`` is that peer (if installed), built from the same vocab file, in the same turns: its
``Tokenizer.encode`` for ``numpy``, ``as_tiktoken().encode_ordinary`` for ``list``; compare.py checks its ids.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from compare import load_corpus, split_documents


def load_extension(directory: Path) -> ModuleType:
    """The ``bytepair._core`` extension installed under ``directory``, loaded apart from any other."""
    found = sorted(directory.glob("bytepair/_core*.so")) + sorted(directory.glob("bytepair/_core*.pyd"))
    if not found:
        raise SystemExit(f"{directory}: no bytepair/_core extension (pip install --no-deps --target {directory} WHEEL)")
    loader = importlib.machinery.ExtensionFileLoader("bytepair._core", str(found[0]))
    spec = importlib.util.spec_from_file_location("bytepair._core", found[0], loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def encoder_call(core: ModuleType, encoding: str, mode: str) -> Callable[[str], Any]:
    """One document's encode with the build ``core``: ``numpy`` a ``uint32`` array (what `encode_to_numpy` wraps:
    ``encode_to_array``, or in builds before it ``encode_to_bytes`` and ``numpy.frombuffer``), ``list`` a list of ints
    (`encode_ordinary`)."""
    from bytepair.config import ENCODINGS
    from bytepair.registry import read_vocab_file

    spec = ENCODINGS[encoding]
    encoder = core.Encoder(read_vocab_file(spec), spec.pattern, list(spec.special_tokens.items()))
    if mode == "list":
        return encoder.encode_ordinary  # type: ignore[no-any-return]
    policy = encoder.special_policy([], list(spec.special_tokens))
    if hasattr(encoder, "encode_to_array"):
        return lambda document: encoder.encode_to_array(document, policy)
    import numpy as np

    frombuffer, dtype = np.frombuffer, np.dtype("<u4")
    return lambda document: frombuffer(encoder.encode_to_bytes(document, policy), dtype)


def gigatoken_call(encoding: str, mode: str) -> Callable[[str], Any]:
    """One document's encode with the gigatoken peer, from the bundled vocab file (its name picks the pattern)."""
    import gigatoken  # type: ignore[import-not-found]

    from bytepair.config import ENCODINGS

    vocab = Path(__file__).parent.parent / "python" / "bytepair" / "vocab" / ENCODINGS[encoding].vocab_file
    tokenizer = gigatoken.Tokenizer.from_tiktoken(str(vocab))
    return tokenizer.encode if mode == "numpy" else tokenizer.as_tiktoken().encode_ordinary  # type: ignore[no-any-return]


def best_slice_times(
    calls: list[Callable[[str], Any]],
    slices: list[list[str]],
    passes: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[list[float]]:
    """Per build, each slice's best time over ``passes`` passes, the builds taking turns on each slice."""
    best = [[float("inf")] * len(slices) for _ in calls]
    for each_pass in range(passes):
        for index, documents in enumerate(slices):
            order = list(range(len(calls)))
            if (each_pass + index) % 2:
                order.reverse()
            for build in order:
                call = calls[build]
                start = clock()
                for document in documents:
                    call(document)
                best[build][index] = min(best[build][index], clock() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", help="comma-separated directories, each holding an installed bytepair")
    parser.add_argument("encoding", help="a bundled encoding, e.g. cl100k_base")
    parser.add_argument("corpus", type=Path, help="a UTF-8 text file")
    parser.add_argument("--mode", choices=["numpy", "list"], default="numpy")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--slice", type=int, default=64, help="documents per slice (default 64)")
    args = parser.parse_args(argv)

    directories = [Path(build) for build in args.builds.split(",")]
    calls = [
        gigatoken_call(args.encoding, args.mode)
        if str(directory) == "gigatoken"
        else encoder_call(load_extension(directory), args.encoding, args.mode)
        for directory in directories
    ]
    documents = split_documents(load_corpus(args.corpus, None))
    slices = [documents[at : at + args.slice] for at in range(0, len(documents), args.slice)]
    size = sum(len(document.encode("utf-8")) for document in documents)
    for call in calls:  # warm-up: the caches and the ints of each build
        for document in documents:
            call(document)
    best = best_slice_times(calls, slices, args.passes)
    rates = [size / sum(times) / 1e6 for times in best]
    print(f"{args.encoding} {args.corpus.name} {args.mode}, {len(documents)} documents, {size / 1e6:.1f} MB")
    for directory, rate in zip(directories, rates, strict=True):
        print(f"  {directory}: {rate:.1f} MB/s, {rate / rates[0]:.3f}x the first")


if __name__ == "__main__":
    main()
