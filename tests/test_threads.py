"""One `Encoding` shared by many Python threads gives exactly the single-thread results, and `get_encoding` called
from many threads at once builds one instance."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.conftest import CORPUS_KINDS, oracle, sample_text, split_documents

import bytepair
from bytepair import registry

THREADS = 8


@pytest.fixture(scope="module")
def documents() -> list[str]:
    """The committed sample corpora (about 3 MB), cut into documents of about 4 KiB."""
    return [document for kind in CORPUS_KINDS for document in split_documents(sample_text(kind))]


def run_in_threads(work, count: int = THREADS) -> list[object]:  # type: ignore[no-untyped-def]
    """Run ``work(i)`` on ``count`` threads released together by a barrier, so the calls really overlap."""
    barrier = threading.Barrier(count)

    def start(i: int) -> object:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


@pytest.mark.parametrize(
    ("name", "step"), [pytest.param("cl100k_base", 3, id="cl100k_base"), pytest.param("o200k_base", 6, id="o200k_base")]
)
def test_threads_sharing_one_encoding_match_the_single_thread_result(
    name: str, step: int, documents: list[str]
) -> None:
    enc = bytepair.get_encoding(name)
    documents = documents[::step]  # about 1 MB and 0.5 MB of every kind of text, so the test takes a second or two
    # Each thread takes every THREADS-th document from its own starting point, in reverse on odd threads, so
    # threads work on different documents at the same moment and every document is encoded by every thread.
    expected = [enc.encode(document, disallowed_special=()) for document in documents]

    def work(i: int) -> list[list[int]]:
        order = list(range(i, len(documents))) + list(range(i))
        if i % 2:
            order.reverse()
        results: list[list[int] | None] = [None] * len(documents)
        for index in order:
            results[index] = enc.encode(documents[index], disallowed_special=())
        return results  # type: ignore[return-value]

    for result in run_in_threads(work):
        assert result == expected


def test_threads_calling_batch_and_ordinary_apis_concurrently_match(
    cl100k: bytepair.Encoding, documents: list[str]
) -> None:
    sample = documents[::8]
    expected = [cl100k.encode_ordinary(document) for document in sample]

    def work(i: int) -> list[list[int]]:
        if i % 3 == 0:
            return cl100k.encode_ordinary_batch(sample, num_threads=2)
        if i % 3 == 1:
            return cl100k.encode_batch(sample, disallowed_special=())
        return [list(cl100k.encode_to_numpy(document, disallowed_special=())) for document in sample]

    for result in run_in_threads(work):
        assert result == expected


def test_threads_decoding_concurrently_match(cl100k: bytepair.Encoding, documents: list[str]) -> None:
    tokens = [cl100k.encode_ordinary(document) for document in documents[::8]]
    expected = [cl100k.decode(t) for t in tokens]
    for result in run_in_threads(
        lambda i: cl100k.decode_batch(tokens) if i % 2 else [cl100k.decode(t) for t in tokens]
    ):
        assert result == expected


def test_concurrent_get_encoding_returns_one_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    # Start from an empty cache so that the threads race to build the encoding.
    monkeypatch.setattr(registry, "_cache", {})
    instances = run_in_threads(lambda i: bytepair.get_encoding("r50k_base"), count=16)
    assert all(instance is instances[0] for instance in instances)
    assert bytepair.get_encoding("r50k_base") is instances[0]


def test_concurrent_get_encoding_of_different_names_returns_each_cached_instance() -> None:
    names = bytepair.list_encoding_names()
    instances = run_in_threads(lambda i: bytepair.get_encoding(names[i % len(names)]), count=2 * len(names))
    for i, instance in enumerate(instances):
        assert instance is bytepair.get_encoding(names[i % len(names)])
        assert instance.name == names[i % len(names)]


def test_encodings_alternating_on_one_thread_share_no_cached_pieces(documents: list[str]) -> None:
    """Each thread keeps a cache of recently merged pieces; switching encodings on one thread must not let one
    encoding's merges answer for another's (cl100k_base and r50k_base merge the same pieces differently)."""
    encodings = [bytepair.get_encoding(name) for name in ("cl100k_base", "r50k_base", "o200k_base")]
    oracles = [oracle(encoding.name) for encoding in encodings]
    for index, document in enumerate(documents[::7]):
        for encoding, reference in zip(encodings, oracles, strict=True):
            # The same document twice in a row: the second call reads the pieces the first one cached.
            assert encoding.encode_ordinary(document) == reference.encode_ordinary(document), (encoding.name, index)
            assert encoding.encode_ordinary(document) == reference.encode_ordinary(document), (encoding.name, index)


def test_threads_keep_their_own_piece_caches(cl100k: bytepair.Encoding, documents: list[str]) -> None:
    """Threads encoding different documents at once, each with a warm cache, match the single-thread result."""
    expected = [cl100k.encode_ordinary(document) for document in documents[:64]]
    results = run_in_threads(lambda i: [cl100k.encode_ordinary(document) for document in documents[i::THREADS][:8]])
    for i, result in enumerate(results):
        assert result == expected[i::THREADS][:8]


LONG_TEXT = "hello world " * 400_000  # 4.8 MB: tens of milliseconds to encode


def cl100k_base() -> bytepair.Encoding:
    return bytepair.get_encoding("cl100k_base")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: cl100k_base().encode_ordinary(LONG_TEXT), id="encode_ordinary"),
        pytest.param(lambda: cl100k_base().encode(LONG_TEXT), id="encode"),
        pytest.param(lambda: cl100k_base().encode_to_numpy(LONG_TEXT), id="encode_to_numpy"),
        pytest.param(lambda: cl100k_base().count_tokens(LONG_TEXT), id="count_tokens"),
    ],
)
def test_other_python_threads_run_while_a_long_text_is_encoded(call: Callable[[], object]) -> None:
    """A long call releases the GIL (a short one keeps it: see `detach_unless_short` in bindings.rs). Another thread
    stamps the time in a loop; held through the call, the GIL would leave a gap in its stamps as long as the call.
    (`decode` and the `Tokenizer` calls release it too, but there reading the ids and making the string, or the
    Python side of the call, hold the GIL for about as long as the work released, so this test could not tell.)"""
    call()  # warm: the hot table and the vocab's pages
    stamps: list[float] = []
    stop = threading.Event()

    def stamp() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    stamper = threading.Thread(target=stamp)
    stamper.start()
    try:
        while not stamps:
            time.sleep(0.001)
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    finally:
        stop.set()
        stamper.join()
    during = [start, *(at for at in stamps if start < at < end), end]
    longest_gap = max(later - earlier for earlier, later in itertools.pairwise(during))
    took = end - start
    assert longest_gap < took / 2, f"no other thread ran for {longest_gap * 1e3:.1f} of the call's {took * 1e3:.1f} ms"
