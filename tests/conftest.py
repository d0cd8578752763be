"""Shared fixtures: encodings, the tiktoken oracle built offline, corpora, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hypothesis
import pytest

import bytepair
from bytepair.config import ENCODINGS

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
SAMPLE_CORPUS = ROOT / "benches" / "corpus"
VOCAB_DIR = ROOT / "python" / "bytepair" / "vocab"
CORPUS_KINDS = ("english", "code", "multilingual")
ALL_ENCODINGS = tuple(ENCODINGS)

hypothesis.settings.register_profile("fast", max_examples=50, deadline=None)
hypothesis.settings.register_profile("ci", max_examples=200, deadline=None)
hypothesis.settings.register_profile("thorough", max_examples=2_000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "fast"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stops before the first test when the package holds more than one build of the Rust library: Python loads
    ``_core.cpython-*.so`` before ``_core.abi3.so``, so a build left behind by an experiment, not the one just made,
    would be the one tested (this happened once: two hours of benchmark runs timed a stale build)."""
    package = Path(bytepair.__file__).parent
    builds = sorted(path.name for path in package.glob("_core.*") if path.suffix in (".so", ".pyd"))
    if len(builds) > 1:
        pytest.exit(
            f"{package} holds {len(builds)} builds of the Rust library ({', '.join(builds)}); Python loads the "
            f"first that matches this interpreter, which may be a stale one. Delete all but the fresh build "
            f"(`maturin develop --release` or `pip install -e .` writes _core.cpython-*.so, or _core.abi3.so with "
            f"`--features abi3`).",
            returncode=4,
        )


def shared_dir() -> Path:
    """Where the large third-party files live: $BYTEPAIR_SHARED, else ../shared beside the project."""
    return Path(os.environ.get("BYTEPAIR_SHARED", ROOT.parent / "shared"))


def require_shared(relative: str) -> Path:
    """A file under the shared folder; skips the test when it is absent, except under CI, where that fails."""
    path = shared_dir() / relative
    if not path.exists():
        reason = f"{path} is absent (set BYTEPAIR_SHARED to the folder holding vocab/ and corpus/)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run every test: {reason}")
        pytest.skip(reason)
    return path


def split_documents(text: str, size: int = 4096) -> list[str]:
    """Cut text into documents of about ``size`` characters at line breaks (how tests and benches use corpora)."""
    documents, current, length = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        length += len(line)
        if length >= size:
            documents.append("".join(current))
            current, length = [], 0
    if current:
        documents.append("".join(current))
    return documents


def sample_text(kind: str) -> str:
    """The committed ~1 MB sample of one corpus kind."""
    return (SAMPLE_CORPUS / f"{kind}.txt").read_text(encoding="utf-8")


@cache
def oracle(name: str) -> Any:
    """Official tiktoken, built offline from the vocab file bytepair ships for ``name``."""
    pytest.importorskip("tiktoken")
    import tiktoken.load

    spec = ENCODINGS[name]
    return tiktoken.Encoding(
        name,
        pat_str=spec.pattern,
        # expected_hash: tiktoken caches even local files by path; the hash keeps a stale copy from being used.
        mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(VOCAB_DIR / spec.vocab_file), spec.vocab_sha256),
        special_tokens=dict(spec.special_tokens),
        explicit_n_vocab=spec.explicit_n_vocab,
    )


@pytest.fixture(scope="session")
def cl100k() -> bytepair.Encoding:
    return bytepair.get_encoding("cl100k_base")


@pytest.fixture(scope="session")
def o200k() -> bytepair.Encoding:
    return bytepair.get_encoding("o200k_base")


@pytest.fixture(scope="session")
def tiny() -> bytepair.Encoding:
    """256 single bytes plus 'ab'=256, 'cd'=257, 'abcd'=258, ' a'=259, '  '=260; small enough to check by hand."""
    return bytepair.Encoding(
        "tiny",
        pat_str=r"\S+|\s+",
        mergeable_ranks=bytepair.load.load_tiktoken_bpe(VECTORS / "tiny.tiktoken"),
        special_tokens={"<|endoftext|>": 1000},
    )


@pytest.fixture(params=ALL_ENCODINGS)
def encoding_name(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder for a test's output files (the command-line tests check that it stays empty on failure)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder
