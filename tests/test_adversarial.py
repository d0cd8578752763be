"""Adversarial inputs, each an explicit test: empty text, single bytes, 1 MiB runs of one character (where BPE
implementations go quadratic), 1 MiB of emoji, every Unicode block, lone surrogates, text that is exactly a special
token, and bytes that are not UTF-8. Compared with tiktoken wherever tiktoken can do it in reasonable time."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest
from tests.conftest import ALL_ENCODINGS, oracle

import bytepair

MIB = 1 << 20
COMPARE_SIZE = 20 * 1024  # tiktoken is quadratic on one long piece (and o200k's regex fails on 1 MiB of spaces)

# Emoji with skin tones, zero-width joiners (families, professions, flags) and variation selectors.
EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "😀", "🙂‍↔️", "👩🏿‍💻", "🇯🇵", "❤️", "🧑🏻‍🤝‍🧑🏾", "#️⃣", "🫠"]


def repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * size


def random_letters(size: int) -> str:
    """``size`` pseudo-random ASCII letters, the same on every run."""
    letters = (string.ascii_letters * 5)[:256].encode()
    return random.Random(0).randbytes(size).translate(letters).decode()  # noqa: S311  (test data, not secrets)


def emoji_bytes(size: int) -> str:
    """Mixed emoji, about ``size`` UTF-8 bytes, never cut inside a sequence."""
    chooser = random.Random(1)  # noqa: S311  (test data, not secrets)
    parts, length = [], 0
    while length < size:
        emoji = chooser.choice(EMOJI)
        parts.append(emoji)
        length += len(emoji.encode())
    return "".join(parts)


def punctuation_then_emoji(size: int) -> str:
    """One piece of about ``size`` bytes: pseudo-random ASCII punctuation, then mixed emoji. The merge of a long
    piece chooses how to go on from its first 4 KiB, so LONG_INPUTS also has this reversed, emoji first."""
    marks = (string.punctuation * 9)[:256].encode()
    return random.Random(2).randbytes(size // 2).translate(marks).decode() + emoji_bytes(size // 2)  # noqa: S311


# (generator of a text of about `size` bytes, encodings that get the full 1 MiB). Every encoding gets the
# 20 KiB version, compared with tiktoken; the 1 MiB version runs on a subset chosen so each path is covered
# (p50k_base has tokens for runs of spaces; cl100k_base and o200k_base have the newest patterns) in a few seconds.
LONG_INPUTS = {
    "x": (repeat("x"), ["cl100k_base", "o200k_base"]),
    "spaces": (repeat(" "), ["p50k_base", "o200k_base"]),
    "spaces-then-x": (lambda size: " " * size + "x", ["cl100k_base"]),
    "newlines": (lambda size: "\n" * min(size, 100_000), ["r50k_base", "cl100k_base", "o200k_base"]),
    "digits": (repeat("1"), ["o200k_base"]),
    "punctuation": (repeat("!"), ["r50k_base"]),
    "random-letters": (random_letters, ["o200k_base"]),
    "emoji": (emoji_bytes, ["cl100k_base"]),
    "punctuation-then-emoji": (punctuation_then_emoji, ["o200k_base"]),
    "emoji-then-punctuation": (lambda size: punctuation_then_emoji(size)[::-1], ["cl100k_base"]),
}


def assert_decodes_back(enc: bytepair.Encoding, text: str, ids: list[int]) -> None:
    assert all(0 <= token < enc.n_vocab for token in ids)
    assert enc.decode(ids) == text


# ==== Empty text and single bytes ====


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_empty_input_gives_no_tokens(name: str) -> None:
    enc = bytepair.get_encoding(name)
    assert enc.encode("") == enc.encode_ordinary("") == enc._encode_bytes(b"") == oracle(name).encode("") == []
    assert enc.encode_batch(["", ""]) == enc.encode_ordinary_batch([""] * 2) == [[], []]
    assert enc.encode_to_numpy("").tolist() == []
    assert enc.encode_with_unstable("") == oracle(name).encode_with_unstable("") == ([], [])
    assert enc.decode([]) == ""
    assert enc.decode_bytes([]) == b""
    assert enc.decode_with_offsets([]) == ("", [])
    assert enc.decode_batch([]) == enc.encode_batch([]) == []


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_every_single_byte_is_one_token_equal_to_oracle(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    for value in range(256):
        byte = bytes([value])
        ids = enc._encode_bytes(byte)
        assert ids == expected._encode_bytes(byte) == [expected.encode_single_token(byte)], value
        assert enc.decode_bytes(ids) == byte
    for value in range(128):
        assert enc.encode_ordinary(chr(value)) == expected.encode_ordinary(chr(value)), value


# ==== Long runs ====


@pytest.mark.parametrize("kind", list(LONG_INPUTS))
@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_long_run_of_one_kind_equals_oracle_at_20_kib(name: str, kind: str) -> None:
    text = LONG_INPUTS[kind][0](COMPARE_SIZE)
    enc = bytepair.get_encoding(name)
    ids = enc.encode_ordinary(text)
    assert ids == oracle(name).encode_ordinary(text)
    assert enc.encode(text) == ids
    assert_decodes_back(enc, text, ids)


@pytest.mark.parametrize(
    ("name", "kind"),
    [pytest.param(name, kind, id=f"{name}-{kind}") for kind, (_, names) in LONG_INPUTS.items() for name in names],
)
def test_one_mib_run_encodes_and_decodes_back(name: str, kind: str) -> None:
    text = LONG_INPUTS[kind][0](MIB)
    enc = bytepair.get_encoding(name)
    ids = enc.encode_ordinary(text)
    assert_decodes_back(enc, text, ids)
    # A run of one character is one piece per split rule, so its tokens repeat with a short period: the 1 MiB
    # result must start with the 20 KiB result's tokens except for the last few (the end of a run merges apart).
    head = enc.encode_ordinary(text[:COMPARE_SIZE])
    if kind in {"x", "digits", "punctuation"}:
        assert ids[: len(head) - 4] == head[:-4]


# ==== Every script ====


def unicode_block_samples() -> str:
    """Eight code points from every 128-code-point block of Unicode (surrogates excepted), blocks separated by
    spaces: every script, symbols, private use areas, unassigned code points and the noncharacters."""
    blocks = []
    for start in range(0, 0x110000, 0x80):
        if 0xD800 <= start < 0xE000:
            continue
        blocks.append("".join(chr(start + offset) for offset in range(0, 0x80, 0x10)))
    blocks.append("\ufffe\uffff\U0010fffe\U0010ffff\u200d\u200f\u202e\ufeff\ufe0f\u0301\u0300")
    return " ".join(blocks)


SCRIPTS = [
    pytest.param("The quick brown fox jumps over the lazy dog", id="latin"),
    pytest.param("Ἐν ἀρχῇ ἦν ὁ λόγος", id="greek"),
    pytest.param("Съешь же ещё этих мягких французских булок", id="cyrillic"),
    pytest.param("בְּרֵאשִׁית בָּרָא אֱלֹהִים", id="hebrew-with-points"),
    pytest.param("اَلْعَرَبِيَّةُ لغة جميلة", id="arabic"),
    pytest.param("हिन्दी देवनागरी लिपि", id="devanagari"),
    pytest.param("ภาษาไทยไม่มีช่องว่าง", id="thai"),
    pytest.param("中华人民共和国成立于一九四九年", id="chinese"),
    pytest.param("日本語のひらがなとカタカナ", id="japanese"),
    pytest.param("한국어 훈민정음", id="korean"),
    pytest.param("ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", id="cherokee"),
    pytest.param("𐌰𐌱𐌲 𝄞𝄢 𠀀𠀁", id="supplementary-planes"),
    pytest.param("e\u0301\u0302\u0303\u0304\u0305", id="stacked-combining-marks"),
    pytest.param("\x00\x01\x1b[31m\x7f\u0085\u2028\u2029", id="control-and-line-separators"),
    pytest.param("x²³ ½ ①②③ ٣٤٥ ౧౨", id="non-ascii-digits"),
]


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_a_sample_of_every_unicode_block_equals_oracle(name: str) -> None:
    text = unicode_block_samples()
    enc = bytepair.get_encoding(name)
    ids = enc.encode_ordinary(text)
    assert ids == oracle(name).encode_ordinary(text)
    assert_decodes_back(enc, text, ids)


@pytest.mark.parametrize("text", SCRIPTS)
@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_each_script_equals_oracle(name: str, text: str) -> None:
    enc = bytepair.get_encoding(name)
    ids = enc.encode(text)
    assert ids == oracle(name).encode(text)
    assert enc.decode_with_offsets(ids) == oracle(name).decode_with_offsets(ids)
    assert_decodes_back(enc, text, ids)


# ==== Lone surrogates ====

SURROGATE_TEXTS = [
    pytest.param("\ud83d", id="lone-high"),
    pytest.param("a\udc00b", id="lone-low-inside"),
    pytest.param("\udc00\ud83d", id="reversed-pair"),
    pytest.param("\ud83d\ude00", id="pair-as-two-code-points"),
    pytest.param("hello \ud800\ud800 world", id="two-high"),
    pytest.param("\ud83d<|endoftext|>", id="before-special-token"),
]


@pytest.mark.parametrize("text", SURROGATE_TEXTS)
@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_lone_surrogates_are_replaced_as_tiktoken_does(name: str, text: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    assert enc.encode_ordinary(text) == expected.encode_ordinary(text)
    assert enc.encode(text, allowed_special="all") == expected.encode(text, allowed_special="all")
    assert enc.encode(text, disallowed_special=()) == expected.encode(text, disallowed_special=())
    assert enc.encode_to_numpy(text, disallowed_special=()).tolist() == expected.encode(text, disallowed_special=())
    assert enc.encode_batch([text, "x"], allowed_special="all") == expected.encode_batch(
        [text, "x"], allowed_special="all"
    )
    assert enc.encode_ordinary_batch([text]) == expected.encode_ordinary_batch([text])
    assert "\ufffd" in enc.decode(enc.encode_ordinary(text)) or "\U0001f600" in enc.decode(enc.encode_ordinary(text))


@pytest.mark.parametrize("method", ["encode", "encode_to_numpy", "encode_with_unstable", "count_tokens"])
def test_lone_surrogate_next_to_a_disallowed_special_token_still_raises(cl100k: bytepair.Encoding, method: str) -> None:
    """The same error, with the same advice, as without the surrogate (the retry on repaired text raises it)."""
    with pytest.raises(ValueError):
        oracle("cl100k_base").encode("\ud83d<|endoftext|>")
    with pytest.raises(bytepair.DisallowedSpecialTokenError) as plain:
        getattr(cl100k, method)("x<|endoftext|>")
    with pytest.raises(bytepair.DisallowedSpecialTokenError) as with_surrogate:
        getattr(cl100k, method)("\ud83d<|endoftext|>")
    assert str(with_surrogate.value) == str(plain.value)
    assert "allowed_special=" in str(with_surrogate.value)


@pytest.mark.parametrize("text", SURROGATE_TEXTS)
def test_encode_with_unstable_replaces_lone_surrogates(cl100k: bytepair.Encoding, text: str) -> None:
    """tiktoken raises UnicodeEncodeError here; bytepair repairs the text as its other methods do."""
    repaired = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    assert cl100k.encode_with_unstable(text, allowed_special="all") == cl100k.encode_with_unstable(
        repaired, allowed_special="all"
    )


# ==== Text that is exactly a special token ====


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_text_that_is_exactly_a_special_token(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    for token in sorted(expected.special_tokens_set)[:40]:
        token_id = expected._special_tokens[token]
        assert enc.encode(token, allowed_special="all") == [token_id]
        assert enc.encode(token, allowed_special={token}) == [token_id]
        assert enc.encode_ordinary(token) == expected.encode_ordinary(token)
        assert enc.encode(token, disallowed_special=()) == expected.encode(token, disallowed_special=())
        with pytest.raises(bytepair.DisallowedSpecialTokenError):
            enc.encode(token)


# ==== Bytes that are not UTF-8 ====


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base"])
def test_nul_bytes_encode_as_oracle(name: str) -> None:
    text = "\x00" * 1000 + "a\x00b"
    assert bytepair.get_encoding(name).encode(text) == oracle(name).encode(text)
    assert bytepair.get_encoding(name)._encode_bytes(text.encode()) == oracle(name)._encode_bytes(text.encode())


INVALID_UTF8 = [
    pytest.param(b"\xff", id="ff"),
    pytest.param(b"\x80", id="lone-continuation"),
    pytest.param(b"\xc3", id="truncated-2-byte"),
    pytest.param(b"\xe4\xb8", id="truncated-3-byte"),
    pytest.param(b"\xf0\x9f\x98", id="truncated-4-byte"),
    pytest.param(b"hello \xf0\x9f\x98", id="text-then-truncated-emoji"),
    pytest.param(b"\xc0\xaf", id="overlong-slash"),
    pytest.param(b"\xed\xa0\x80", id="encoded-surrogate"),
    pytest.param(b"\xf4\x90\x80\x80", id="above-max-code-point"),
    pytest.param(b"abc\xffdef  \xfe\xfe hello world\x80\x80", id="mixed"),
    pytest.param(b"   \xff   ", id="spaces-around-invalid"),
    pytest.param(b"\xff" * 5000, id="ff-run"),
    pytest.param(random.Random(2).randbytes(65536), id="random-64KiB"),  # noqa: S311  (test data, not secrets)
]


@pytest.mark.parametrize("data", INVALID_UTF8)
@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_invalid_utf8_bytes_encode_as_oracle_and_decode_back(name: str, data: bytes) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    ids = enc._encode_bytes(data)
    assert ids == expected._encode_bytes(data)
    assert enc.decode_bytes(ids) == data
    assert enc.decode(ids) == expected.decode(ids) == data.decode("utf-8", errors="replace")
    assert enc.decode(ids, errors="ignore") == data.decode("utf-8", errors="ignore")
    assert enc.decode(ids, errors="backslashreplace") == data.decode("utf-8", errors="backslashreplace")
    with pytest.raises(UnicodeDecodeError):
        enc.decode(ids, errors="strict")
    with pytest.raises(UnicodeDecodeError):
        enc.decode_with_offsets(ids)
