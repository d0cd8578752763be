"""Properties that must hold for every input: decode inverts encode, batch equals one by one, ids are in range, and
the decoding helpers agree with each other and with tiktoken built offline from the same vocab files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import oracle

import bytepair

# Pieces that exercise each part of the split patterns: contractions, digit runs, whitespace runs before words,
# newlines, punctuation runs, multi-byte letters, emoji with joiners, and special-token look-alikes.
FRAGMENTS = [
    "a",
    "hello",
    " world",
    "'s",
    "'LL",
    "'re",
    "123",
    "4567",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\n\n ",
    "!",
    "?!",
    "...",
    "//",
    "é",
    "ß",
    "Ж",
    "中文",
    "日本語",
    "한국어",
    "ا",  # noqa: RUF001  (Arabic alef, on purpose)
    "ह",
    "👍",
    "👍🏽",
    "👨‍👩‍👧",
    "\u200d",
    "\ufeff",
    "\x00",
    "<|",
    "|>",
    "<|endoftext|>",
    "<|endoftext",
    "endoftext|>",
    "<|fim_prefix|>",
]

texts = st.one_of(
    st.text(),
    st.lists(st.sampled_from(FRAGMENTS), max_size=24).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=12).map("".join),
)

# Short texts for encode_with_unstable: tiktoken walks the whole vocab for an unstable trailing space (about 0.5 s),
# so trailing whitespace is covered by the table below instead of by generated text.
short_texts = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5).map(lambda parts: "".join(parts).rstrip())

# Bytes that need not be valid UTF-8: arbitrary bytes, and UTF-8 text cut at arbitrary byte positions.
raw_bytes = st.one_of(
    st.binary(max_size=64),
    st.tuples(texts, st.integers(0, 16), st.integers(0, 16)).map(
        lambda t: t[0].encode("utf-8")[t[1] : len(t[0].encode("utf-8")) - t[2]]
    ),
    st.lists(st.sampled_from([b"\xf0\x9f", b"\x8d\x91", b"\xff", b"\xc3", b"abc", b" ", b"\xe4\xb8\xad"])).map(
        b"".join
    ),
)

# Each distinct (vocab file, split pattern) pair, for properties of ordinary text; and each distinct set of special
# tokens, for properties that involve them. Together they cover every bundled encoding's configuration.
ordinary_encodings = pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
special_encodings = pytest.mark.parametrize("name", ["gpt2", "p50k_edit", "cl100k_base", "o200k_harmony"])
batch_encodings = pytest.mark.parametrize("name", ["cl100k_base", "o200k_harmony"])


def encoding(name: str) -> bytepair.Encoding:
    return bytepair.get_encoding(name)


@ordinary_encodings
@given(text=texts)
def test_decode_inverts_encode_ordinary_for_any_text(name: str, text: str) -> None:
    enc = encoding(name)
    assert enc.decode(enc.encode_ordinary(text)) == text


@special_encodings
@given(text=texts)
def test_decode_inverts_encode_with_every_special_token_allowed(name: str, text: str) -> None:
    enc = encoding(name)
    assert enc.decode(enc.encode(text, allowed_special="all")) == text


@ordinary_encodings
@given(data=raw_bytes)
def test_decode_bytes_inverts_encode_bytes_for_any_bytes(name: str, data: bytes) -> None:
    enc = encoding(name)
    assert enc.decode_bytes(enc._encode_bytes(data)) == data


@special_encodings
@given(text=texts)
def test_every_id_is_below_n_vocab(name: str, text: str) -> None:
    enc = encoding(name)
    ids = enc.encode(text, allowed_special="all")
    assert all(0 <= token < enc.n_vocab for token in ids)
    assert all(0 <= token <= enc.max_token_value for token in enc._encode_bytes(text.encode("utf-8")))


@batch_encodings
@given(batch=st.lists(texts, max_size=8))
def test_encode_batch_equals_encode_one_by_one(name: str, batch: list[str]) -> None:
    enc = encoding(name)
    assert enc.encode_batch(batch, disallowed_special=()) == [enc.encode(t, disallowed_special=()) for t in batch]
    assert enc.encode_batch(batch, allowed_special="all") == [enc.encode(t, allowed_special="all") for t in batch]


@batch_encodings
@given(batch=st.lists(texts, max_size=8))
def test_encode_ordinary_batch_equals_encode_ordinary_one_by_one(name: str, batch: list[str]) -> None:
    enc = encoding(name)
    assert enc.encode_ordinary_batch(batch) == [enc.encode_ordinary(t) for t in batch]
    assert enc.encode_ordinary_batch(batch, num_threads=1) == [enc.encode_ordinary(t) for t in batch]


@batch_encodings
@given(batch=st.lists(texts, max_size=8))
def test_decode_batch_equals_decode_one_by_one(name: str, batch: list[str]) -> None:
    enc = encoding(name)
    tokens = [enc.encode_ordinary(t) for t in batch]
    assert enc.decode_batch(tokens) == [enc.decode(t) for t in tokens]
    assert enc.decode_bytes_batch(tokens) == [enc.decode_bytes(t) for t in tokens]


@special_encodings
@given(text=texts)
def test_decode_tokens_bytes_joins_to_decode_bytes(name: str, text: str) -> None:
    enc = encoding(name)
    ids = enc.encode(text, allowed_special="all")
    pieces = enc.decode_tokens_bytes(ids)
    assert len(pieces) == len(ids)
    assert b"".join(pieces) == enc.decode_bytes(ids)
    assert pieces == [enc.decode_single_token_bytes(token) for token in ids]


@ordinary_encodings
@given(text=texts)
def test_encode_ordinary_equals_oracle(name: str, text: str) -> None:
    assert encoding(name).encode_ordinary(text) == oracle(name).encode_ordinary(text)


@special_encodings
@given(text=texts)
def test_decode_with_offsets_equals_oracle(name: str, text: str) -> None:
    ids = encoding(name).encode(text, allowed_special="all")
    assert ids == oracle(name).encode(text, allowed_special="all")
    assert encoding(name).decode_with_offsets(ids) == oracle(name).decode_with_offsets(ids)


@ordinary_encodings
@given(data=raw_bytes)
def test_encode_bytes_equals_oracle_for_any_bytes(name: str, data: bytes) -> None:
    assert encoding(name)._encode_bytes(data) == oracle(name)._encode_bytes(data)


def assert_same_unstable(name: str, text: str, **kwargs: object) -> None:
    stable, completions = encoding(name).encode_with_unstable(text, **kwargs)  # type: ignore[arg-type]
    expected_stable, expected_completions = oracle(name).encode_with_unstable(text, **kwargs)
    assert stable == expected_stable
    # tiktoken returns completions in hash order; compare them as sets, and check there are no duplicates.
    assert len(completions) == len(set(map(tuple, completions)))
    assert set(map(tuple, completions)) == set(map(tuple, expected_completions))


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
@settings(max_examples=25)
@given(text=short_texts)
def test_encode_with_unstable_equals_oracle_on_short_texts(name: str, text: str) -> None:
    assert_same_unstable(name, text, allowed_special="all")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("hello fanta", id="word-prefix"),
        pytest.param("hello ", id="trailing-space"),
        pytest.param("x\n", id="trailing-newline"),
        pytest.param("<|endoftext|>", id="special-token"),
        pytest.param("hello <|endoftext|> wor", id="special-token-inside"),
        pytest.param("12", id="digits"),
        pytest.param("😀", id="emoji"),
    ],
)
@pytest.mark.parametrize("name", ["p50k_edit", "cl100k_base", "o200k_base"])
def test_encode_with_unstable_equals_oracle_on_chosen_texts(name: str, text: str) -> None:
    assert_same_unstable(name, text, allowed_special="all")


@special_encodings
@given(text=short_texts)
def test_encode_with_unstable_completions_extend_the_text(name: str, text: str) -> None:
    """Stable tokens decode to a prefix of the text; stable + any completion decodes to bytes that start with it."""
    enc = encoding(name)
    stable, completions = enc.encode_with_unstable(text, allowed_special="all")
    raw = text.encode("utf-8")
    prefix = enc.decode_bytes(stable)
    assert raw.startswith(prefix)
    for completion in completions[:50]:
        assert enc.decode_bytes(stable + completion).startswith(raw)
