"""pytest-benchmark: the hot calls through Python, on the inputs of benches/encode.rs and with the same ids.

Ids read `operation/encoding/size`; the Rust-only numbers come from `cargo bench`, and the difference is the cost of
crossing into Python. When tiktoken is installed, the same inputs run through it too, in the same benchmark group.
`pytest` runs each benchmark once as a smoke test; time them with `pytest benches/bench_encode.py --benchmark-enable`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bytepair
from bytepair import _core
from bytepair.config import ENCODINGS

assert _core.is_release_build, "run: maturin develop --release"

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = ROOT / "benches" / "corpus" / "english.txt"
ENCODING = "cl100k_base"
# Prefixes of english.txt, repeated end to end when it is shorter, cut back to a character boundary
# (the same inputs as benches/encode.rs).
SIZES = {"100B": 100, "1KiB": 1024, "10KiB": 10 * 1024, "1MiB": 1024 * 1024}
THREADS = os.cpu_count() or 1

# operation -> call on (encoding, text, documents, tokens); `documents` is the text cut into ~4 KiB at line breaks
# (as benches/compare.py cuts its corpora), for the batch call.
OPERATIONS: dict[str, Callable[[Any, str, list[str], list[int]], Any]] = {
    "encode_ordinary": lambda enc, text, docs, tokens: enc.encode_ordinary(text),
    "encode": lambda enc, text, docs, tokens: enc.encode(text),
    "encode_to_numpy": lambda enc, text, docs, tokens: enc.encode_to_numpy(text),
    "encode_ordinary_batch": lambda enc, text, docs, tokens: enc.encode_ordinary_batch(docs, num_threads=THREADS),
    "decode_bytes": lambda enc, text, docs, tokens: enc.decode_bytes(tokens),
}

CASES = [
    pytest.param(operation, size, id=f"{operation}/{ENCODING}/{size}") for operation in OPERATIONS for size in SIZES
]


@cache
def text_of(size: str) -> str:
    corpus = ENGLISH.read_bytes()
    n = SIZES[size]
    repeated = corpus * (n // len(corpus) + 1)
    # The file is valid UTF-8, so "ignore" only drops a character cut in half at the end.
    return repeated[:n].decode("utf-8", errors="ignore")


@cache
def documents_of(size: str) -> list[str]:
    documents, current, length = [], [], 0
    for line in text_of(size).splitlines(keepends=True):
        current.append(line)
        length += len(line.encode("utf-8"))
        if length >= 4096:
            documents.append("".join(current))
            current, length = [], 0
    if current:
        documents.append("".join(current))
    return documents


@cache
def expected_tokens(size: str) -> list[int]:
    """The tokens of one input, computed once; every benchmark of that input checks its result against them."""
    return bytepair.get_encoding(ENCODING).encode_ordinary(text_of(size))


@cache
def expected_batch(size: str) -> list[list[int]]:
    encoding = bytepair.get_encoding(ENCODING)
    return [encoding.encode_ordinary(document) for document in documents_of(size)]


def check(operation: str, size: str, result: Any) -> None:
    if operation == "decode_bytes":
        assert result == text_of(size).encode("utf-8")
    elif operation == "encode_ordinary_batch":
        assert result == expected_batch(size)
    elif operation == "encode_to_numpy":
        assert result.dtype == np.uint32
        assert np.array_equal(result, np.asarray(expected_tokens(size), dtype=np.uint32))
    else:
        assert result == expected_tokens(size)


def run(benchmark: Any, encoding: Any, operation: str, size: str) -> None:
    text = text_of(size)
    tokens = expected_tokens(size)
    call = OPERATIONS[operation]
    # One group per input, so bytepair and tiktoken sit side by side in the report.
    benchmark.group = f"{operation}/{ENCODING}/{size}"
    benchmark.extra_info["bytes"] = len(text.encode("utf-8"))
    result = benchmark(call, encoding, text, documents_of(size), tokens)
    check(operation, size, result)


@pytest.fixture(scope="module")
def tiktoken_encoding() -> Any:
    """Official tiktoken built offline from the vocab file bytepair ships (never `get_encoding`, which downloads)."""
    pytest.importorskip("tiktoken")
    import tiktoken.load

    spec = ENCODINGS[ENCODING]
    return tiktoken.Encoding(
        ENCODING,
        pat_str=spec.pattern,
        mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(ROOT / "python" / "bytepair" / "vocab" / spec.vocab_file)),
        special_tokens=dict(spec.special_tokens),
    )


@pytest.mark.parametrize(("operation", "size"), CASES)
def test_bytepair(benchmark: Any, operation: str, size: str) -> None:
    run(benchmark, bytepair.get_encoding(ENCODING), operation, size)


@pytest.mark.parametrize(("operation", "size"), CASES)
def test_tiktoken(benchmark: Any, tiktoken_encoding: Any, operation: str, size: str) -> None:
    run(benchmark, tiktoken_encoding, operation, size)
