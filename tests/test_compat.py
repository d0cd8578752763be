"""Identical ids to tiktoken, built offline from the same vocab files, for every bundled encoding.

Three sources of text: the committed ~1 MB samples (benches/corpus), cut into ~4 KiB documents and into single lines;
the full corpora in the shared folder (marked `corpus`: skipped without them, failing under CI); and generated text
mixing scripts, whitespace, digits, contractions, punctuation and special-token strings.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import ALL_ENCODINGS, CORPUS_KINDS, oracle, require_shared, sample_text, split_documents

import bytepair
from bytepair.config import ENCODINGS

# Single calls on lines cost one FFI call each; batches cover every line, single calls every LINE_STRIDE-th line.
LINE_STRIDE = 5

# With the shared corpora, encode(allowed_special="all") is compared on every SUBSET_STRIDE-th document.
SUBSET_STRIDE = 16


# ==== Helpers ====


def ordinary_key(name: str) -> tuple[str, str]:
    """What decides encode_ordinary: encodings that share it (gpt2 and r50k_base, ...) share the oracle's work."""
    spec = ENCODINGS[name]
    return spec.vocab_file, spec.pattern


def oracle_name(key: tuple[str, str]) -> str:
    return next(name for name in ALL_ENCODINGS if ordinary_key(name) == key)


@functools.cache
def texts(source: str, kind: str, split: str) -> list[str]:
    """The committed sample ("sample") or the shared corpus ("shared") of one kind, as documents or lines."""
    if source == "sample":
        text = sample_text(kind)
    else:
        text = require_shared(f"corpus/{kind}.txt").read_text(encoding="utf-8")
    if split == "documents":
        return split_documents(text)
    return text.splitlines(keepends=True)


@functools.cache
def expected_ordinary(key: tuple[str, str], source: str, kind: str, split: str) -> list[list[int]]:
    reference = oracle(oracle_name(key))
    if split == "lines":
        # tiktoken's batch hands each text to a thread pool, which costs more than encoding one short line.
        return [reference.encode_ordinary(text) for text in texts(source, kind, split)]
    return reference.encode_ordinary_batch(texts(source, kind, split))


def expected_all_special(name: str, source: str, kind: str, split: str) -> list[list[int]]:
    """tiktoken's encode(text, allowed_special="all") of each text.

    Text without any special-token string encodes as in encode_ordinary (which is already computed); the oracle
    encodes the others itself.
    """
    corpus = texts(source, kind, split)
    expected = list(expected_ordinary(ordinary_key(name), source, kind, split))
    encoding = oracle(name)
    specials = encoding.special_tokens_set
    heads = {token[:2] for token in specials}
    for index, text in enumerate(corpus):
        if any(head in text for head in heads) and any(token in text for token in specials):
            expected[index] = encoding.encode(text, allowed_special="all")
    return expected


def assert_same_ids(
    name: str, what: str, corpus: Sequence[str], expected: Sequence[list[int]], actual: Sequence[list[int]]
) -> None:
    """Equal ids for every text; otherwise name the first text that differs and where."""
    assert len(actual) == len(expected), f"{what}: {len(actual)} results for {len(expected)} texts"
    differing = [index for index, (want, got) in enumerate(zip(expected, actual, strict=True)) if want != got]
    if not differing:
        return
    index = differing[0]
    want, got = expected[index], list(actual[index])
    position = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got)))
    around = oracle(name).decode(want[max(0, position - 3) : position + 5])
    text = corpus[index]
    pytest.fail(
        f"{name} {what}: {len(differing)} of {len(corpus)} texts differ from tiktoken; the first is text {index} "
        f"({len(text)} chars, starting {text[:120]!r}).\n"
        f"Ids first differ at position {position}, near {around!r}:\n"
        f"  tiktoken: {want[position : position + 10]}\n"
        f"  bytepair: {got[position : position + 10]}"
    )


def encoding_kind_params() -> list[Any]:
    return [pytest.param(name, kind, id=f"{name}-{kind}") for name in ALL_ENCODINGS for kind in CORPUS_KINDS]


# ==== Committed samples, as documents ====


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_ordinary_equals_tiktoken_on_sample_documents(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "documents")
    encoding = bytepair.get_encoding(name)
    actual = [encoding.encode_ordinary(text) for text in corpus]
    expected = expected_ordinary(ordinary_key(name), "sample", kind, "documents")
    assert_same_ids(name, "encode_ordinary", corpus, expected, actual)


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_with_all_special_equals_tiktoken_on_sample_documents(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "documents")
    encoding = bytepair.get_encoding(name)
    actual = [encoding.encode(text, allowed_special="all") for text in corpus]
    expected = expected_all_special(name, "sample", kind, "documents")
    assert_same_ids(name, 'encode(allowed_special="all")', corpus, expected, actual)


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_to_numpy_equals_tiktoken_on_sample_documents(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "documents")
    encoding = bytepair.get_encoding(name)
    arrays = [encoding.encode_to_numpy(text, allowed_special="all") for text in corpus]
    assert all(array.dtype == np.uint32 for array in arrays)
    expected = expected_all_special(name, "sample", kind, "documents")
    assert_same_ids(name, "encode_to_numpy", corpus, expected, [array.tolist() for array in arrays])


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_ordinary_batch_equals_tiktoken_on_sample_documents(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "documents")
    actual = bytepair.get_encoding(name).encode_ordinary_batch(corpus)
    expected = expected_ordinary(ordinary_key(name), "sample", kind, "documents")
    assert_same_ids(name, "encode_ordinary_batch", corpus, expected, actual)


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_batch_equals_tiktoken_on_sample_documents(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "documents")
    actual = bytepair.get_encoding(name).encode_batch(corpus, allowed_special="all")
    expected = expected_all_special(name, "sample", kind, "documents")
    assert_same_ids(name, 'encode_batch(allowed_special="all")', corpus, expected, actual)


# ==== Committed samples, as single lines ====


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_ordinary_batch_equals_tiktoken_on_sample_lines(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "lines")
    actual = bytepair.get_encoding(name).encode_ordinary_batch(corpus)
    expected = expected_ordinary(ordinary_key(name), "sample", kind, "lines")
    assert_same_ids(name, "encode_ordinary_batch", corpus, expected, actual)


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_batch_equals_tiktoken_on_sample_lines(name: str, kind: str) -> None:
    corpus = texts("sample", kind, "lines")
    actual = bytepair.get_encoding(name).encode_batch(corpus, allowed_special="all")
    expected = expected_all_special(name, "sample", kind, "lines")
    assert_same_ids(name, 'encode_batch(allowed_special="all")', corpus, expected, actual)


@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_single_calls_equal_tiktoken_on_sample_lines(name: str, kind: str) -> None:
    """encode_ordinary, encode and encode_to_numpy, one line per call (every LINE_STRIDE-th line)."""
    corpus = texts("sample", kind, "lines")[::LINE_STRIDE]
    ordinary = expected_ordinary(ordinary_key(name), "sample", kind, "lines")[::LINE_STRIDE]
    all_special = expected_all_special(name, "sample", kind, "lines")[::LINE_STRIDE]
    encoding = bytepair.get_encoding(name)
    assert_same_ids(name, "encode_ordinary", corpus, ordinary, [encoding.encode_ordinary(t) for t in corpus])
    actual = [encoding.encode(t, allowed_special="all") for t in corpus]
    assert_same_ids(name, 'encode(allowed_special="all")', corpus, all_special, actual)
    arrays = [encoding.encode_to_numpy(t, allowed_special="all").tolist() for t in corpus]
    assert_same_ids(name, "encode_to_numpy", corpus, all_special, arrays)


# ==== Full corpora in the shared folder ====


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_ids_equal_tiktoken_on_every_shared_corpus_document(name: str, kind: str) -> None:
    corpus = texts("shared", kind, "documents")
    actual = bytepair.get_encoding(name).encode_ordinary_batch(corpus)
    expected = expected_ordinary(ordinary_key(name), "shared", kind, "documents")
    assert_same_ids(name, "encode_ordinary_batch", corpus, expected, actual)


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "kind"), encoding_kind_params())
def test_encode_with_all_special_equals_tiktoken_on_shared_corpus_subset(name: str, kind: str) -> None:
    corpus = texts("shared", kind, "documents")[::SUBSET_STRIDE]
    actual = bytepair.get_encoding(name).encode_batch(corpus, allowed_special="all")
    expected = oracle(name).encode_batch(corpus, allowed_special="all")
    assert_same_ids(name, 'encode_batch(allowed_special="all")', corpus, expected, actual)


# ==== Generated text ====

SCRIPTS = {
    "latin": (0x41, 0x24F),
    "cyrillic": (0x400, 0x4FF),
    "greek": (0x370, 0x3FF),
    "cjk": (0x4E00, 0x9FFF),
    "arabic": (0x600, 0x6FF),
    "devanagari": (0x900, 0x97F),
    "hangul": (0xAC00, 0xD7A3),
    "emoji": (0x1F300, 0x1FAFF),
}
WHITESPACE = [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\x0b", "\x0c"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'Ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D"]
PUNCTUATION = ".,;:!?-_/\\()[]{}<>|\"'`~@#$%^&*+="
SPECIAL_STRINGS = sorted(
    {token for name in ALL_ENCODINGS for token in ENCODINGS[name].special_tokens if "reserved" not in token}
    | {"<|reserved_200000|>", "<|reserved_200018|>", "<|reserved_201087|>", "<|endoftext", "endoftext|>", "<|", "|>"}
)


def script_word(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(min_codepoint=low, max_codepoint=high, exclude_categories=("Cs",)), min_size=1, max_size=8
    )


fragments = st.one_of(
    *[script_word(low, high) for low, high in SCRIPTS.values()],
    st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=4).map("".join),
    st.text("0123456789", min_size=1, max_size=12),
    st.sampled_from(CONTRACTIONS),
    st.text(PUNCTUATION, min_size=1, max_size=4),
    st.sampled_from(SPECIAL_STRINGS),
)
mixed_texts = st.lists(fragments, max_size=40).map("".join)


@pytest.mark.parametrize("name", ALL_ENCODINGS)
@given(text=mixed_texts)
def test_ids_equal_tiktoken_on_generated_mixed_text(name: str, text: str) -> None:
    encoding, reference = bytepair.get_encoding(name), oracle(name)
    assert encoding.encode_ordinary(text) == reference.encode_ordinary(text)
    assert encoding.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")
    assert encoding.encode(text, disallowed_special=()) == reference.encode(text, disallowed_special=())
