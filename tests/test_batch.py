"""Batch array outputs (`encode_batch_to_numpy`, `encode_batch_padded`, `count_tokens*`, `encode_arrow`) against
one-by-one `encode`, their argument checks, and the native pool's safety after `os.fork()` and in worker processes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from itertools import pairwise
from typing import Any

import pytest
from tests.conftest import CORPUS_KINDS, ROOT, sample_text, split_documents

import bytepair
from bytepair.special_tokens import ENDOFTEXT, FIM_PREFIX

np = pytest.importorskip("numpy")

TEXTS = [
    "hello world",
    "",
    "naïve café 👍🏽 日本語のテキスト",
    f"one {ENDOFTEXT} two {FIM_PREFIX} three",
    "\n\n  spaces   and\ttabs\r\n",
    "x" * 5000,
    "lone surrogate \ud83d here",
]

SPECIAL_KWARGS = [
    pytest.param({"disallowed_special": ()}, id="ordinary"),
    pytest.param({"allowed_special": "all"}, id="all-allowed"),
    pytest.param({"allowed_special": {ENDOFTEXT}, "disallowed_special": ()}, id="one-allowed"),
]


@pytest.fixture(scope="module")
def corpus_documents() -> list[str]:
    """The committed sample corpora cut into documents of about 4 KiB (about 750 documents)."""
    return [document for kind in CORPUS_KINDS for document in split_documents(sample_text(kind))]


def one_by_one(encoding: bytepair.Encoding, texts: list[str], **kwargs: Any) -> list[list[int]]:
    return [encoding.encode(text, **kwargs) for text in texts]


def split_flat(tokens: Any, offsets: Any) -> list[list[int]]:
    return [tokens[start:end].tolist() for start, end in pairwise(offsets)]


# ==== encode_batch_to_numpy ====


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
@pytest.mark.parametrize("num_threads", [None, 1, 3])
def test_encode_batch_to_numpy_equals_encode_one_by_one_on_the_corpora(
    name: str, num_threads: int | None, corpus_documents: list[str]
) -> None:
    encoding = bytepair.get_encoding(name)
    tokens, offsets = encoding.encode_batch_to_numpy(corpus_documents, num_threads=num_threads)
    assert tokens.dtype == np.uint32
    assert offsets.dtype == np.int64
    assert len(offsets) == len(corpus_documents) + 1
    assert offsets[0] == 0
    assert offsets[-1] == len(tokens)
    assert split_flat(tokens, offsets) == one_by_one(encoding, corpus_documents)


@pytest.mark.parametrize("kwargs", SPECIAL_KWARGS)
def test_batch_arrays_follow_the_special_token_arguments(cl100k: bytepair.Encoding, kwargs: dict[str, Any]) -> None:
    tokens, offsets = cl100k.encode_batch_to_numpy(TEXTS, **kwargs)
    assert split_flat(tokens, offsets) == one_by_one(cl100k, TEXTS, **kwargs)
    assert cl100k.count_tokens_batch(TEXTS, **kwargs) == [len(one) for one in one_by_one(cl100k, TEXTS, **kwargs)]
    assert [cl100k.count_tokens(text, **kwargs) for text in TEXTS] == [len(cl100k.encode(t, **kwargs)) for t in TEXTS]


@pytest.mark.parametrize(
    "method", ["encode_batch_to_numpy", "encode_batch_padded", "count_tokens_batch", "encode_arrow", "count_tokens"]
)
@pytest.mark.parametrize(
    ("text", "kwargs", "fragment"),
    [
        pytest.param(f"not fine {ENDOFTEXT}", {}, r"allowed_special=\{'<\|endoftext\|>'", id="special-token"),
        pytest.param("a custom b", {"disallowed_special": {"custom"}}, "contains 'custom'", id="extra-string"),
    ],
)
def test_disallowed_text_in_a_batch_raises_like_encode(
    cl100k: bytepair.Encoding, method: str, text: str, kwargs: dict[str, Any], fragment: str
) -> None:
    argument: Any = ["fine", text]
    if method == "count_tokens":
        argument = text
    elif method == "encode_arrow":
        argument = pytest.importorskip("pyarrow").array(argument)
    with pytest.raises(bytepair.DisallowedSpecialTokenError, match=fragment):
        getattr(cl100k, method)(argument, **kwargs)


def test_empty_batch_gives_empty_arrays(cl100k: bytepair.Encoding) -> None:
    tokens, offsets = cl100k.encode_batch_to_numpy([])
    assert tokens.shape == (0,)
    assert offsets.tolist() == [0]
    ids, mask = cl100k.encode_batch_padded([])
    assert ids.shape == mask.shape == (0, 0)
    assert cl100k.count_tokens_batch([]) == []


def test_batch_array_is_writable_and_owned(cl100k: bytepair.Encoding) -> None:
    tokens, offsets = cl100k.encode_batch_to_numpy(["hello world"])
    tokens[0] = 1
    offsets[0] = 0
    assert tokens.tolist() == [1, 1917]


@pytest.mark.parametrize("text", ["", "hello world", "hello world " * 1000])
def test_encode_to_numpy_gives_a_writable_array_of_its_own(cl100k: bytepair.Encoding, text: str) -> None:
    # The array holds the encoder's own vector (no copy): each call's must be a new one.
    first, second = cl100k.encode_to_numpy(text), cl100k.encode_to_numpy(text)
    expected = cl100k.encode(text)
    assert first.dtype == np.uint32 and first.ndim == 1 and first.flags.c_contiguous
    assert first.flags.writeable and not np.shares_memory(first, second)
    first += 1
    assert first.tolist() == [token + 1 for token in expected] and second.tolist() == expected
    del second
    assert first.tolist() == [token + 1 for token in expected]


@pytest.mark.parametrize(
    "method", ["encode_batch_to_numpy", "encode_batch_padded", "count_tokens_batch", "encode_batch", "decode_batch"]
)
@pytest.mark.parametrize("num_threads", [0, -1])
def test_num_threads_below_one_is_a_value_error(cl100k: bytepair.Encoding, method: str, num_threads: int) -> None:
    argument: list[Any] = [[1, 2]] if method == "decode_batch" else ["a"]
    with pytest.raises(ValueError, match=f"num_threads must be at least 1.*got {num_threads}"):
        getattr(cl100k, method)(argument, num_threads=num_threads)


# ==== encode_batch_padded ====


def expected_padded(
    rows: list[list[int]], length: int | None, pad: int, padding_side: str, truncation_side: str
) -> tuple[list[list[int]], list[list[int]]]:
    length = max((len(row) for row in rows), default=0) if length is None else length
    ids, mask = [], []
    for row in rows:
        kept = row[:length] if truncation_side == "right" else row[max(0, len(row) - length) :]
        fill = [pad] * (length - len(kept))
        ids.append(kept + fill if padding_side == "right" else fill + kept)
        ones = [1] * len(kept)
        zeros = [0] * len(fill)
        mask.append(ones + zeros if padding_side == "right" else zeros + ones)
    return ids, mask


@pytest.mark.parametrize("max_length", [None, 1, 7, 10_000])
@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("truncation_side", ["left", "right"])
def test_padded_rows_equal_encode_cut_and_filled(
    cl100k: bytepair.Encoding, max_length: int | None, padding_side: Any, truncation_side: Any
) -> None:
    ids, mask = cl100k.encode_batch_padded(
        TEXTS,
        max_length=max_length,
        padding_side=padding_side,
        truncation_side=truncation_side,
        allowed_special="all",
    )
    rows = one_by_one(cl100k, TEXTS, allowed_special="all")
    expected_ids, expected_mask = expected_padded(rows, max_length, cl100k.eot_token, padding_side, truncation_side)
    assert ids.shape == (len(TEXTS), max_length or max(map(len, rows)))
    assert ids.tolist() == expected_ids
    assert mask.tolist() == expected_mask


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        pytest.param("gpt2", "uint16", id="gpt2-uint16"),
        pytest.param("cl100k_base", "uint32", id="cl100k_base-uint32"),
        pytest.param("o200k_base", "int64", id="o200k_base-int64"),
        pytest.param("o200k_base", "int32", id="o200k_base-int32"),
    ],
)
def test_padded_dtype_applies_to_ids_and_mask(name: str, dtype: str) -> None:
    encoding = bytepair.get_encoding(name)
    ids, mask = encoding.encode_batch_padded(TEXTS, dtype=dtype, pad_token=0, max_length=50, disallowed_special=())
    assert ids.dtype == mask.dtype == np.dtype(dtype)
    rows = one_by_one(encoding, TEXTS, disallowed_special=())
    expected_ids, expected_mask = expected_padded(rows, 50, 0, "right", "right")
    assert ids.tolist() == expected_ids
    assert mask.tolist() == expected_mask


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"dtype": "uint16"}, "uint16 cannot hold the ids of cl100k_base", id="uint16-too-narrow"),
        pytest.param({"dtype": "float32"}, "dtype must be one of uint16, uint32", id="float-dtype"),
        pytest.param({"max_length": 0}, "max_length must be a positive int", id="zero-length"),
        pytest.param({"padding_side": "top"}, "padding_side must be 'left' or 'right'", id="bad-padding-side"),
        pytest.param({"truncation_side": "mid"}, "truncation_side must be 'left' or 'right'", id="bad-truncation"),
        pytest.param({"pad_token": 100_300}, r"pad_token must be an id of cl100k_base \(0 to 100276\)", id="pad"),
    ],
)
def test_padded_rejects_bad_arguments(cl100k: bytepair.Encoding, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        cl100k.encode_batch_padded(["a"], **kwargs)


def test_padded_without_end_of_text_needs_a_pad_token(tiny: bytepair.Encoding) -> None:
    no_eot = bytepair.Encoding(
        "no-eot", pat_str=tiny._pat_str, mergeable_ranks=tiny._mergeable_ranks, special_tokens={}
    )
    with pytest.raises(ValueError, match=re.escape("no <|endoftext|> token to pad with; pass pad_token=ID")):
        no_eot.encode_batch_padded(["ab", "abcd ab"])
    ids, mask = no_eot.encode_batch_padded(["ab", "abcd ab"], pad_token=0, dtype="uint16")
    assert ids.tolist() == [[256, 0, 0], [258, 32, 256]]
    assert mask.tolist() == [[1, 0, 0], [1, 1, 1]]


# ==== encode_arrow ====


@pytest.mark.parametrize("string_type", ["string", "large_string"])
def test_encode_arrow_equals_encode_and_keeps_nulls(cl100k: bytepair.Encoding, string_type: str) -> None:
    pa = pytest.importorskip("pyarrow")
    texts = [*TEXTS[:-1], None, "last"]  # arrow strings are UTF-8: no lone surrogates
    result = cl100k.encode_arrow(pa.array(texts, type=getattr(pa, string_type)()), allowed_special="all")
    assert result.type == pa.list_(pa.uint32())
    assert result.null_count == 1
    assert result.to_pylist() == [None if t is None else cl100k.encode(t, allowed_special="all") for t in texts]


def test_encode_arrow_takes_chunked_arrays_chunk_by_chunk(cl100k: bytepair.Encoding) -> None:
    pa = pytest.importorskip("pyarrow")
    chunked = pa.chunked_array([pa.array(["hello world", None]), pa.array([], pa.string()), pa.array(["x y"])])
    result = cl100k.encode_arrow(chunked)
    assert isinstance(result, pa.ChunkedArray)
    assert [len(chunk) for chunk in result.chunks] == [2, 0, 1]
    assert result.to_pylist() == [[15339, 1917], None, [87, 379]]


def test_encode_arrow_rejects_other_types(cl100k: bytepair.Encoding) -> None:
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(TypeError, match="string or large_string array, got int64"):
        cl100k.encode_arrow(pa.array([1, 2]))
    with pytest.raises(TypeError, match="pyarrow Array or ChunkedArray, got list"):
        cl100k.encode_arrow(["a"])


# ==== Processes: fork, multiprocessing, pickling ====


def run_script(source: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` in a fresh interpreter with warnings as errors; a deadlock fails by timeout, not a hang."""
    return subprocess.run(  # noqa: S603  (our own interpreter running our own script)
        [sys.executable, "-W", "error", "-c", textwrap.dedent(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_encode_to_numpy_without_numpy_raises_import_error() -> None:
    """The core makes the array with NumPy's C API, whose crate would panic without NumPy: it imports NumPy first."""
    result = run_script(
        """
    import sys
    sys.modules["numpy"] = None  # its import fails
    import bytepair
    enc = bytepair.get_encoding("cl100k_base")
    assert enc.encode("hello world") == [15339, 1917]
    try:
        enc.encode_to_numpy("hello world")
    except ImportError as err:
        print(type(err).__name__, "numpy" in str(err))
    """
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ModuleNotFoundError True\n", "")


PREAMBLE = """
    import bytepair
    enc = bytepair.get_encoding("cl100k_base")
    docs = [("hello world %d " % i) * (i % 50 + 1) for i in range(2000)]
    expected = [enc.encode_ordinary(doc) for doc in docs]
    def flat(tokens_offsets):
        tokens, offsets = tokens_offsets
        return [tokens[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="os.fork is POSIX-only")
def test_batch_encoding_works_in_a_forked_child_after_the_parent_used_threads() -> None:
    result = run_script(
        PREAMBLE
        + """
    import os
    assert flat(enc.encode_batch_to_numpy(docs, num_threads=4)) == expected  # the parent's threads ran and ended
    pid = os.fork()
    if pid == 0:
        ok = flat(enc.encode_batch_to_numpy(docs, num_threads=4)) == expected and enc.encode_batch(docs) == expected
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    print("ok")
    """
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_batch_encoding_works_in_multiprocessing_workers(method: str) -> None:
    """The encoding travels pickled into the workers (by name), which encode batches on their own threads."""
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    result = run_script(
        PREAMBLE
        + f"""
    import multiprocessing
    enc.encode_batch_to_numpy(docs)
    if __name__ == "__main__":
        with multiprocessing.get_context("{method}").Pool(2) as pool:
            chunks = [docs[i::4] for i in range(4)]
            results = pool.starmap(bytepair.Encoding.encode_batch_to_numpy, [(enc, chunk) for chunk in chunks])
        for i, result in enumerate(results):
            assert flat(result) == expected[i::4]
        print("ok")
    """
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_lists_of_every_length_around_the_prefetch_distance_hold_every_id(cl100k: bytepair.Encoding) -> None:
    # A list's ints are prefetched 16 tokens ahead of the one being set: the last 16 have none to prefetch.
    for count in range(40):
        text = "".join(f" w{index}" for index in range(count))
        as_list = cl100k.encode_ordinary(text)
        assert as_list == cl100k.encode_to_numpy(text).tolist()
        assert cl100k.encode_ordinary_batch([text, text]) == [as_list, as_list]
