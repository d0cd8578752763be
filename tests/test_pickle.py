"""Pickling and copying: a bundled encoding travels as its name and comes back as the cached instance's state; a
custom encoding travels with its ranks; both work in a spawned worker process."""

# ruff: noqa: S301  (these tests unpickle only what they pickled themselves)

from __future__ import annotations

import copy
import multiprocessing
import operator
import pickle

import pytest

import bytepair
from bytepair import registry

TEXT = "hello world <|endoftext|> abcd  ab cd\n中文 👍"


def encodes_alike(one: bytepair.Encoding, other: bytepair.Encoding) -> bool:
    return (
        one.encode(TEXT, allowed_special="all") == other.encode(TEXT, allowed_special="all")
        and one.encode_ordinary(TEXT) == other.encode_ordinary(TEXT)
        and one.special_tokens_set == other.special_tokens_set
        and one.n_vocab == other.n_vocab
    )


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_harmony"])
def test_bundled_encoding_pickles_small_and_unpickles_to_the_cached_state(name: str) -> None:
    enc = bytepair.get_encoding(name)
    data = pickle.dumps(enc)
    assert len(data) < 200
    loaded = pickle.loads(data)
    assert isinstance(loaded, bytepair.Encoding)
    assert loaded.name == name
    assert loaded._core is enc._core
    assert encodes_alike(loaded, enc)
    assert pickle.loads(pickle.dumps(loaded)).name == name


def test_custom_encoding_pickles_with_its_ranks(tiny: bytepair.Encoding) -> None:
    loaded = pickle.loads(pickle.dumps(tiny))
    assert loaded.name == "tiny"
    assert loaded._mergeable_ranks == tiny._mergeable_ranks
    assert loaded._special_tokens == tiny._special_tokens
    assert loaded._pat_str == tiny._pat_str
    assert encodes_alike(loaded, tiny)
    assert loaded.encode_ordinary("abcd") == [258]
    assert not registry.is_registered(loaded)


def test_custom_encoding_with_a_bundled_name_pickles_by_value(tiny: bytepair.Encoding) -> None:
    """Only the registry's own instance may travel as a name; a look-alike must not come back as cl100k_base."""
    impostor = bytepair.Encoding(
        "cl100k_base", pat_str=tiny._pat_str, mergeable_ranks=tiny._mergeable_ranks, special_tokens={"<|x|>": 500}
    )
    loaded = pickle.loads(pickle.dumps(impostor))
    assert loaded.n_vocab == impostor.n_vocab == 501
    assert loaded.encode("abcd<|x|>", allowed_special="all") == [258, 500]
    assert loaded._core is not bytepair.get_encoding("cl100k_base")._core


def test_extended_bundled_encoding_pickles_with_its_extra_special_token(cl100k: bytepair.Encoding) -> None:
    extended = bytepair.Encoding(
        "cl100k_im",
        pat_str=cl100k._pat_str,
        mergeable_ranks=cl100k._mergeable_ranks,
        special_tokens={**cl100k._special_tokens, "<|im_start|>": 100264},
    )
    loaded = pickle.loads(pickle.dumps(extended))
    assert loaded.encode("<|im_start|>hi", allowed_special="all") == [100264, 6151]
    assert encodes_alike(loaded, extended)


@pytest.mark.parametrize("copier", [pytest.param(copy.copy, id="copy"), pytest.param(copy.deepcopy, id="deepcopy")])
@pytest.mark.parametrize("which", ["bundled", "custom"])
def test_copy_and_deepcopy_give_an_encoding_that_encodes_alike(
    copier: object, which: str, cl100k: bytepair.Encoding, tiny: bytepair.Encoding
) -> None:
    enc = cl100k if which == "bundled" else tiny
    copied = copier(enc)  # type: ignore[operator]
    assert isinstance(copied, bytepair.Encoding)
    assert copied.name == enc.name
    assert encodes_alike(copied, enc)


def test_encodings_pickled_into_a_spawned_worker_encode_there(
    cl100k: bytepair.Encoding, tiny: bytepair.Encoding
) -> None:
    # Only bytepair and stdlib callables cross to the worker: a spawned child cannot import this test module.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(operator.methodcaller("encode", TEXT, allowed_special="all"), (cl100k,)) == cl100k.encode(
            TEXT, allowed_special="all"
        )
        assert pool.apply(operator.attrgetter("name", "n_vocab"), (cl100k,)) == ("cl100k_base", 100277)
        assert pool.apply(operator.methodcaller("encode_ordinary", TEXT), (tiny,)) == tiny.encode_ordinary(TEXT)
        assert pool.map(operator.methodcaller("encode_ordinary_batch", [TEXT, "abcd"]), [tiny]) == [
            tiny.encode_ordinary_batch([TEXT, "abcd"])
        ]
        returned = pool.apply(copy.copy, (tiny,))
    assert encodes_alike(returned, tiny)
