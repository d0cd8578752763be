"""Each exception bytepair raises: its type, the builtin it subclasses (the one tiktoken raises, so `except ValueError:`
code keeps working), the common `BytepairError` base, and the part of the message that tells the user what to do."""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.conftest import oracle

import bytepair
from bytepair import (
    BytepairError,
    DisallowedSpecialTokenError,
    UnknownEncodingError,
    UnknownModelError,
    UnknownTokenError,
    VocabFileError,
)

SINGLE_BYTES = {bytes([i]): i for i in range(256)}


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        pytest.param(DisallowedSpecialTokenError, ValueError, id="disallowed-special-is-value-error"),
        pytest.param(UnknownTokenError, KeyError, id="unknown-token-is-key-error"),
        pytest.param(VocabFileError, ValueError, id="vocab-file-is-value-error"),
        pytest.param(UnknownEncodingError, ValueError, id="unknown-encoding-is-value-error"),
        pytest.param(UnknownModelError, KeyError, id="unknown-model-is-key-error"),
    ],
)
def test_each_exception_subclasses_bytepair_error_and_the_builtin_tiktoken_raises(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, BytepairError)
    assert issubclass(error, builtin)
    assert issubclass(BytepairError, Exception)
    assert getattr(bytepair, error.__name__) is error
    assert error.__module__ == "bytepair.errors"


# ==== Disallowed special tokens ====


def test_disallowed_special_token_message_shows_both_fixes(cl100k: bytepair.Encoding) -> None:
    with pytest.raises(DisallowedSpecialTokenError) as info:
        cl100k.encode("hello <|endoftext|>")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, BytepairError)
    message = str(info.value)
    assert "'<|endoftext|>'" in message
    assert "allowed_special={'<|endoftext|>'" in message
    assert "disallowed_special=()" in message
    assert info.value.token == "<|endoftext|>"  # noqa: S105  (a token, not a password)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda enc: enc.encode("x<|fim_prefix|>"), id="encode"),
        pytest.param(lambda enc: enc.encode_to_numpy("x<|fim_prefix|>"), id="encode_to_numpy"),
        pytest.param(lambda enc: enc.encode_batch(["ok", "x<|fim_prefix|>"]), id="encode_batch"),
        pytest.param(lambda enc: enc.encode_with_unstable("x<|fim_prefix|> y"), id="encode_with_unstable"),
        pytest.param(
            lambda enc: enc.encode("x<|fim_prefix|>", allowed_special={"<|endoftext|>"}), id="encode-other-allowed"
        ),
    ],
)
def test_every_encode_method_raises_disallowed_special_token_error_naming_the_token(
    cl100k: bytepair.Encoding, call: Callable[[bytepair.Encoding], Any]
) -> None:
    with pytest.raises(DisallowedSpecialTokenError, match=r"<\|fim_prefix\|>") as info:
        call(cl100k)
    assert info.value.token == "<|fim_prefix|>"  # noqa: S105  (a token, not a password)


def test_disallowed_non_special_string_raises_naming_it(cl100k: bytepair.Encoding) -> None:
    with pytest.raises(DisallowedSpecialTokenError, match="'world'"):
        cl100k.encode("hello world", disallowed_special={"world"})


def test_disallowed_special_token_error_names_the_first_one_in_the_text(cl100k: bytepair.Encoding) -> None:
    with pytest.raises(DisallowedSpecialTokenError) as info:
        cl100k.encode("a <|fim_suffix|> b <|endoftext|>")
    assert info.value.token == "<|fim_suffix|>"  # noqa: S105  (a token, not a password)


# ==== Unknown token ids ====

UNKNOWN_ID = 100261  # inside cl100k_base's id range, but neither mergeable nor special

DECODERS = [
    pytest.param(lambda enc, token: enc.decode([1, token]), id="decode"),
    pytest.param(lambda enc, token: enc.decode_bytes([token, 1]), id="decode_bytes"),
    pytest.param(lambda enc, token: enc.decode_single_token_bytes(token), id="decode_single_token_bytes"),
    pytest.param(lambda enc, token: enc.decode_tokens_bytes([1, token]), id="decode_tokens_bytes"),
    pytest.param(lambda enc, token: enc.decode_batch([[1], [token]]), id="decode_batch"),
    pytest.param(lambda enc, token: enc.decode_bytes_batch([[token]]), id="decode_bytes_batch"),
    pytest.param(lambda enc, token: enc.decode_with_offsets([token]), id="decode_with_offsets"),
]


@pytest.mark.parametrize("token", [pytest.param(UNKNOWN_ID, id="gap-in-ids"), pytest.param(10**6, id="past-the-end")])
@pytest.mark.parametrize("decode", DECODERS)
def test_decoding_an_unknown_id_raises_key_error_naming_it(
    cl100k: bytepair.Encoding, decode: Callable[[Any, int], Any], token: int
) -> None:
    with pytest.raises(UnknownTokenError, match=str(token)) as info:
        decode(cl100k, token)
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError):
        decode(oracle("cl100k_base"), token)


@pytest.mark.parametrize(
    "token",
    [pytest.param(-1, id="negative"), pytest.param(2**32, id="above-u32"), pytest.param(2**64, id="above-u64")],
)
@pytest.mark.parametrize("decode", DECODERS)
def test_decoding_an_id_outside_u32_raises_overflow_error_as_tiktoken(
    cl100k: bytepair.Encoding, decode: Callable[[Any, int], Any], token: int
) -> None:
    with pytest.raises(OverflowError):
        decode(oracle("cl100k_base"), token)
    # tiktoken's says only "out of range integral type conversion attempted"; ours names the id and the range.
    with pytest.raises(OverflowError, match=rf"token id {token}\b.* out of range: token ids are integers from 0 to"):
        decode(cl100k, token)


CONTAINERS = [
    pytest.param(list, id="list"),
    pytest.param(tuple, id="tuple"),
    pytest.param(iter, id="iterator"),
    pytest.param(lambda ids: np.array(ids, dtype=np.int64), id="numpy"),
    pytest.param(lambda ids: array.array("q", ids), id="array"),
]


@pytest.mark.parametrize("container", CONTAINERS)
def test_an_id_out_of_range_is_named_with_its_place_in_any_sequence(
    cl100k: bytepair.Encoding, container: Callable[[list[int]], Any]
) -> None:
    assert cl100k.decode(container([15339, 1917])) == "hello world"
    with pytest.raises(OverflowError, match=r"token id -1 \(item 1\) is out of range"):
        cl100k.decode(container([1, -1]))


@pytest.mark.parametrize("container", CONTAINERS[:3])
def test_an_id_that_is_not_an_integer_is_a_type_error(cl100k: bytepair.Encoding, container: Any) -> None:
    with pytest.raises(TypeError):
        cl100k.decode(container([1, "x"]))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("<|endoftext", id="partial-special"),
        pytest.param("hello world", id="two-tokens"),
        pytest.param(b"\xff\xfe", id="unmerged-bytes"),
        pytest.param("", id="empty"),
    ],
)
def test_encode_single_token_of_a_non_token_raises_key_error(cl100k: bytepair.Encoding, value: str | bytes) -> None:
    with pytest.raises(KeyError):
        oracle("cl100k_base").encode_single_token(value)
    with pytest.raises(UnknownTokenError, match="not a single token") as info:
        cl100k.encode_single_token(value)
    assert isinstance(info.value, KeyError)


# ==== Registry and models ====


def test_unknown_encoding_name_raises_value_error_listing_the_available_names() -> None:
    with pytest.raises(UnknownEncodingError) as info:
        bytepair.get_encoding("cl200k_base")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "cl200k_base" in message
    for name in bytepair.list_encoding_names():
        assert name in message


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(None, id="none"),
        pytest.param(100, id="int"),
        pytest.param(b"cl100k_base", id="bytes"),
        pytest.param(["cl100k_base"], id="list"),
        pytest.param({"cl100k_base": 1}, id="dict"),
    ],
)
def test_get_encoding_of_a_non_string_raises_value_error(name: object) -> None:
    """tiktoken checks the type first and raises ValueError for any non-str, hashable or not."""
    with pytest.raises(UnknownEncodingError, match="str"):
        bytepair.get_encoding(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(bytepair.encoding_for_model, id="encoding_for_model"),
        pytest.param(bytepair.encoding_name_for_model, id="encoding_name_for_model"),
    ],
)
def test_unknown_model_raises_key_error_naming_it(call: Callable[[str], Any]) -> None:
    with pytest.raises(UnknownModelError) as info:
        call("gpt-9000-turbo")
    assert isinstance(info.value, KeyError)
    assert "gpt-9000-turbo" in str(info.value)
    assert "get_encoding" in str(info.value)


# ==== Constructing an Encoding ====


def test_explicit_n_vocab_mismatch_raises_value_error_naming_both_counts() -> None:
    ranks = {**SINGLE_BYTES, b"ab": 256}
    bytepair.Encoding("ok", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={"<|x|>": 257}, explicit_n_vocab=258)
    with pytest.raises(VocabFileError, match="300") as info:
        bytepair.Encoding(
            "bad", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={"<|x|>": 257}, explicit_n_vocab=300
        )
    assert isinstance(info.value, ValueError)
    assert "258" in str(info.value)


def test_vocab_missing_a_single_byte_raises_naming_the_byte() -> None:
    ranks = {token: rank for token, rank in SINGLE_BYTES.items() if token != b"a"}
    with pytest.raises(VocabFileError, match="0x61") as info:
        bytepair.Encoding("bad", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={})
    assert isinstance(info.value, ValueError)


def test_vocab_with_a_duplicate_rank_raises_naming_the_rank() -> None:
    ranks = {**SINGLE_BYTES, b"ab": 7}
    with pytest.raises(VocabFileError, match="rank 7") as info:
        bytepair.Encoding("bad", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={})
    assert isinstance(info.value, ValueError)


def test_special_id_colliding_with_a_mergeable_rank_raises_naming_both() -> None:
    ranks = {**SINGLE_BYTES, b"ab": 256}
    with pytest.raises(VocabFileError, match="256") as info:
        bytepair.Encoding("bad", pat_str=r"\S+", mergeable_ranks=ranks, special_tokens={"<|x|>": 256})
    assert isinstance(info.value, ValueError)
    assert "<|x|>" in str(info.value)


def test_rank_of_two_to_the_24_or_more_raises() -> None:
    """README: ranks must be below 2^24."""
    with pytest.raises(VocabFileError) as info:
        bytepair.Encoding("bad", pat_str=r"\S+", mergeable_ranks={**SINGLE_BYTES, b"ab": 1 << 24}, special_tokens={})
    assert isinstance(info.value, ValueError)
    assert str(1 << 24) in str(info.value)


def test_two_special_tokens_may_share_an_id_as_in_tiktoken() -> None:
    """tiktoken accepts it, and o200k_harmony relies on it ("<|endofprompt|>" and "<|reserved_200018|>" = 200018)."""
    ranks = {**SINGLE_BYTES, b"ab": 256}
    specials = {"<|x|>": 300, "<|y|>": 300}
    enc = bytepair.Encoding("shared", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens=specials)
    assert enc.encode("<|x|><|y|>", allowed_special="all") == [300, 300]
    assert enc.decode([300]) in specials


def test_invalid_split_pattern_raises_value_error() -> None:
    with pytest.raises(ValueError, match="pattern"):
        bytepair.Encoding("bad", pat_str="(", mergeable_ranks=SINGLE_BYTES, special_tokens={})


# ==== Vocabulary queries ====


@pytest.mark.parametrize("token", [pytest.param("100257", id="str"), pytest.param(1.0, id="float")])
def test_is_special_token_of_a_non_int_raises_assertion_error_as_tiktoken(
    cl100k: bytepair.Encoding, token: object
) -> None:
    with pytest.raises(AssertionError):
        oracle("cl100k_base").is_special_token(token)
    with pytest.raises(AssertionError):
        cl100k.is_special_token(token)  # type: ignore[arg-type]


# ==== Batch arguments ====


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda enc, n: enc.encode_batch(["a"], num_threads=n), id="encode_batch"),
        pytest.param(lambda enc, n: enc.encode_ordinary_batch(["a"], num_threads=n), id="encode_ordinary_batch"),
        pytest.param(lambda enc, n: enc.decode_batch([[64]], num_threads=n), id="decode_batch"),
        pytest.param(lambda enc, n: enc.decode_bytes_batch([[64]], num_threads=n), id="decode_bytes_batch"),
    ],
)
def test_batch_with_fewer_than_one_thread_raises_value_error_as_tiktoken(
    cl100k: bytepair.Encoding, call: Callable[[Any, int], Any]
) -> None:
    for num_threads in (0, -1):
        with pytest.raises(ValueError):
            call(oracle("cl100k_base"), num_threads)
        with pytest.raises(ValueError):
            call(cl100k, num_threads)
