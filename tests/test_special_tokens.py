"""Special tokens: the allowed_special / disallowed_special matrix, compared call by call with tiktoken built offline
from the same vocab files, and the vocabulary queries about special tokens (eot_token, is_special_token, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import ALL_ENCODINGS, oracle

import bytepair

# Builtin exception types tiktoken raises; bytepair's own exceptions subclass them, so outcomes compare by these.
BUILTIN_ERRORS = (UnicodeError, ValueError, KeyError, OverflowError, AssertionError, TypeError)

# o200k_harmony gives id 200018 to two strings: "<|endofprompt|>" (from o200k_base) and "<|reserved_200018|>".
SHARED_ID_TOKENS = {"<|endofprompt|>", "<|reserved_200018|>"}

MATRIX_ENCODINGS = ("r50k_base", "p50k_edit", "cl100k_base", "o200k_harmony")

TEXTS = [
    pytest.param("hello world", id="no-special"),
    pytest.param("<|endoftext|>", id="eot-alone"),
    pytest.param("<|endoftext|>hello", id="eot-at-start"),
    pytest.param("hello<|endoftext|>", id="eot-at-end"),
    pytest.param("hello <|endoftext|> world", id="eot-between-spaces"),
    pytest.param("hel<|endoftext|>lo", id="eot-inside-word"),
    pytest.param("<|endoftext|><|endoftext|><|endoftext|>", id="eot-repeated"),
    pytest.param("\n<|endoftext|>\n\n", id="eot-between-newlines"),
    pytest.param("é<|endoftext|>中文", id="eot-between-multibyte"),
    pytest.param("<|endoftext", id="partial-open"),
    pytest.param("endoftext|>", id="partial-close"),
    pytest.param("<|endoftext<|endoftext|>", id="partial-then-full"),
    pytest.param("<|<|endoftext|>|>", id="nested-brackets"),
    pytest.param("<|ENDOFTEXT|>", id="wrong-case"),
    pytest.param("<|fim_prefix|>def f(<|fim_suffix|>):<|fim_middle|>", id="fim-tokens"),
    pytest.param("a<|endofprompt|>b", id="endofprompt"),
    pytest.param("<|startoftext|>hi<|endoftext|>", id="startoftext"),
    pytest.param(
        "<|start|>user<|message|>hi<|end|><|start|>assistant<|channel|>final<|message|>ok<|return|>",
        id="harmony-chat",
    ),
    pytest.param("<|reserved_200500|>x <|reserved_201087|>", id="harmony-reserved"),
    pytest.param("say hello<|endoftext|>", id="nonspecial-and-eot"),
]

# Every argument combination, as (id, keyword arguments); the matrix tests loop over these and report each
# combination whose outcome differs from the oracle's, so one test per text and encoding stays fast.
ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("allowed-all", {"allowed_special": "all"}),
    ("allowed-eot", {"allowed_special": {"<|endoftext|>"}}),
    ("allowed-eot-frozenset", {"allowed_special": frozenset({"<|endoftext|>"})}),
    ("allowed-fim-prefix-and-start", {"allowed_special": {"<|fim_prefix|>", "<|start|>"}}),
    ("disallowed-empty-tuple", {"disallowed_special": ()}),
    ("disallowed-empty-list", {"disallowed_special": []}),
    ("disallowed-empty-set", {"disallowed_special": set()}),
    ("allowed-eot-disallowed-none", {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()}),
    ("allowed-all-disallowed-all", {"allowed_special": "all", "disallowed_special": "all"}),
    ("allowed-all-disallowed-none", {"allowed_special": "all", "disallowed_special": ()}),
    ("eot-allowed-and-disallowed", {"allowed_special": {"<|endoftext|>"}, "disallowed_special": {"<|endoftext|>"}}),
    ("disallowed-only-fim-prefix", {"disallowed_special": {"<|fim_prefix|>"}}),
    ("disallowed-eot-as-list", {"disallowed_special": ["<|endoftext|>"]}),
    ("disallowed-nonspecial-string", {"disallowed_special": {"hello"}}),
    ("allowed-all-disallowed-nonspecial", {"allowed_special": "all", "disallowed_special": {"hello"}}),
    ("allowed-nonspecial-string", {"allowed_special": {"hello"}}),
    ("allowed-unknown-special", {"allowed_special": {"<|nope|>"}, "disallowed_special": ()}),
]


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", result) or ("raises", the builtin exception type raised), so both libraries compare directly."""
    try:
        result = call()
    except BUILTIN_ERRORS as err:
        return "raises", next(kind for kind in BUILTIN_ERRORS if isinstance(err, kind))
    if hasattr(result, "tolist"):
        result = result.tolist()
    return "ok", result


def assert_same_outcome(name: str, call: Callable[[Any], Any]) -> None:
    expected = outcome(lambda: call(oracle(name)))
    actual = outcome(lambda: call(bytepair.get_encoding(name)))
    assert actual == expected


def assert_matrix_matches_oracle(name: str, call: Callable[[Any, dict[str, Any]], Any]) -> None:
    """Run ``call(encoding, kwargs)`` for every argument combination; list every one that differs from the oracle."""
    enc, expected_enc = bytepair.get_encoding(name), oracle(name)
    differences = []
    for combination, kwargs in ARGUMENTS:
        expected = outcome(lambda: call(expected_enc, kwargs))  # noqa: B023  (called at once)
        actual = outcome(lambda: call(enc, kwargs))  # noqa: B023
        if actual != expected:
            differences.append(f"{combination}: bytepair {actual}, tiktoken {expected}")
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("name", MATRIX_ENCODINGS)
def test_encode_matches_oracle_for_every_argument_combination(name: str, text: str) -> None:
    assert_matrix_matches_oracle(name, lambda enc, kwargs: enc.encode(text, **kwargs))


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_harmony"])
def test_encode_to_numpy_matches_oracle_for_every_argument_combination(name: str, text: str) -> None:
    assert_matrix_matches_oracle(name, lambda enc, kwargs: enc.encode_to_numpy(text, **kwargs))


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_harmony"])
def test_encode_batch_matches_oracle_for_every_argument_combination(name: str, text: str) -> None:
    # The special text sits second, between plain texts, so a batch must not stop at or skip the offending item.
    assert_matrix_matches_oracle(name, lambda enc, kwargs: enc.encode_batch(["plain text", text, "more"], **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"allowed_special": "all"}, id="allowed-all"),
        pytest.param({"allowed_special": {"<|endoftext|>"}}, id="allowed-eot"),
        pytest.param({"disallowed_special": ()}, id="disallowed-none"),
        pytest.param({"disallowed_special": {"hello"}}, id="disallowed-nonspecial-string"),
        pytest.param(
            {"allowed_special": {"<|endoftext|>"}, "disallowed_special": {"<|endoftext|>"}},
            id="eot-allowed-and-disallowed",
        ),
    ],
)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("hello fanta", id="no-special"),
        pytest.param("hello<|endoftext|> fanta", id="eot-inside"),
        pytest.param("hello<|endoftext|>", id="eot-at-end"),
        pytest.param("<|endoftext", id="partial-open"),
        pytest.param("<|fim_prefix|>def", id="fim-prefix"),
    ],
)
@pytest.mark.parametrize("name", ["cl100k_base", "p50k_edit"])
def test_encode_with_unstable_matches_oracle_for_special_arguments(
    name: str, text: str, kwargs: dict[str, Any]
) -> None:
    def stable_and_completion_set(enc: Any) -> tuple[list[int], set[tuple[int, ...]]]:
        stable, completions = enc.encode_with_unstable(text, **kwargs)
        return stable, set(map(tuple, completions))

    assert_same_outcome(name, stable_and_completion_set)


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_eot_token_equals_oracle(name: str) -> None:
    assert bytepair.get_encoding(name).eot_token == oracle(name).eot_token


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_special_tokens_set_equals_oracle(name: str) -> None:
    assert bytepair.get_encoding(name).special_tokens_set == oracle(name).special_tokens_set


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_is_special_token_is_true_exactly_for_special_ids(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    special_ids = set(expected._special_tokens.values())
    candidates = special_ids | {0, 1, 255, 256, 1000, enc.max_token_value, enc.max_token_value + 1, 10**9}
    candidates |= {i - 1 for i in special_ids} | {i + 1 for i in special_ids}
    for token in sorted(candidates):
        assert enc.is_special_token(token) == expected.is_special_token(token), token
    assert all(enc.is_special_token(token) for token in special_ids)


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_encode_single_token_of_each_special_string_equals_oracle(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    for token, token_id in expected._special_tokens.items():
        assert enc.encode_single_token(token) == expected.encode_single_token(token) == token_id
        assert enc.encode_single_token(token.encode()) == token_id


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_decode_of_each_special_id_gives_its_string(name: str) -> None:
    enc = bytepair.get_encoding(name)
    for token, token_id in oracle(name)._special_tokens.items():
        # tiktoken keeps one string per id; for the id that o200k_harmony gives to two strings, either is right.
        expected = SHARED_ID_TOKENS if token in SHARED_ID_TOKENS and name == "o200k_harmony" else {token}
        assert enc.decode_single_token_bytes(token_id).decode() in expected
        assert enc.decode([token_id]) in expected
        assert enc.decode_tokens_bytes([token_id])[0].decode() in expected


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_every_special_token_in_one_text_encodes_as_the_oracle(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    text = " x ".join(sorted(expected.special_tokens_set))
    assert enc.encode(text, allowed_special="all") == expected.encode(text, allowed_special="all")
    assert enc.encode(text, disallowed_special=()) == expected.encode(text, disallowed_special=())
    assert enc.encode_ordinary(text) == expected.encode_ordinary(text)
    # Leave out the two strings that share an id: the id decodes to only one of them.
    unshared = " x ".join(sorted(expected.special_tokens_set - SHARED_ID_TOKENS))
    assert enc.decode(enc.encode(unshared, allowed_special="all")) == unshared


def test_harmony_has_its_1091_special_tokens_and_each_raises_by_default() -> None:
    enc = bytepair.get_encoding("o200k_harmony")
    assert len(enc.special_tokens_set) == 1091
    assert enc.n_vocab == 201088
    for token in sorted(enc.special_tokens_set):
        with pytest.raises(bytepair.DisallowedSpecialTokenError):
            enc.encode(f"a {token} b")


@pytest.mark.parametrize(
    ("token", "token_id"),
    [
        pytest.param("<|endoftext|>", 50256, id="endoftext"),
        pytest.param("<|fim_prefix|>", 50281, id="fim-prefix"),
        pytest.param("<|fim_middle|>", 50282, id="fim-middle"),
        pytest.param("<|fim_suffix|>", 50283, id="fim-suffix"),
    ],
)
def test_p50k_edit_fim_tokens_have_their_ids(token: str, token_id: int) -> None:
    enc = bytepair.get_encoding("p50k_edit")
    assert enc.encode(f"x{token}y", allowed_special={token}) == [*enc.encode("x"), token_id, *enc.encode("y")]
    assert enc.n_vocab == oracle("p50k_edit").n_vocab == 50284


def test_special_tokens_are_text_in_p50k_base_which_lacks_fim() -> None:
    """p50k_base has no FIM tokens, so their strings are ordinary text even with allowed_special="all"."""
    enc = bytepair.get_encoding("p50k_base")
    text = "<|fim_prefix|>x"
    assert enc.encode(text) == enc.encode(text, allowed_special="all") == enc.encode_ordinary(text)


def test_special_token_split_across_batch_items_is_not_joined(cl100k: bytepair.Encoding) -> None:
    batch = ["<|endof", "text|>"]
    assert cl100k.encode_batch(batch) == [cl100k.encode_ordinary(t) for t in batch]


def test_overlapping_special_tokens_the_first_to_start_then_the_longest_wins() -> None:
    """README, differences from tiktoken: tiktoken's choice between overlapping special tokens follows hash order."""
    ranks = {bytes([i]): i for i in range(256)}
    specials = {"<|a|>": 300, "<|a|>b": 301, "|>b<": 302}
    enc = bytepair.Encoding("overlap", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens=specials)
    assert enc.encode("<|a|>b", allowed_special="all") == [301]
    assert enc.encode("<|a|>c", allowed_special="all") == [300, ord("c")]
    assert enc.encode("<|a|>b<", allowed_special="all") == [301, ord("<")]
    assert enc.encode("<|a|>b", allowed_special={"<|a|>"}, disallowed_special=()) == [300, ord("b")]
