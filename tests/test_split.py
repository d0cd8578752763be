"""The two split engines agree: the linear automaton built for the bundled patterns and the general fancy-regex one.

A bundled encoding recognises its pattern and runs the rewritten automaton (rust/split.rs). Wrapping the same
pattern in a non-capturing group, "(?:" + pattern + ")", matches exactly the same pieces, but is no longer
recognised, so an encoding built with it runs on fancy-regex, tiktoken's own engine. Both must give identical ids
on any text, for the r50k, cl100k and o200k patterns (the seven encodings use only these three).
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import oracle

import bytepair
from bytepair.config import ENCODINGS

ENCODINGS_BY_PATTERN = ("r50k_base", "cl100k_base", "o200k_base")


@functools.cache
def general_engine(name: str) -> bytepair.Encoding:
    """The bundled encoding `name`, rebuilt with its pattern wrapped so that only the general engine can run it.

    Built once per session: the o200k ranks take a while to copy.
    """
    bundled = bytepair.get_encoding(name)
    return bytepair.Encoding(
        f"{name}-general",
        pat_str="(?:" + ENCODINGS[name].pattern + ")",
        mergeable_ranks=bundled._mergeable_ranks,
        special_tokens=dict(ENCODINGS[name].special_tokens),
    )


def assert_engines_agree(name: str, text: str) -> None:
    automaton, general = bytepair.get_encoding(name).encode_ordinary(text), general_engine(name).encode_ordinary(text)
    assert automaton == general, f"{name} on {text!r}: automaton {automaton}, fancy-regex {general}"


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
def test_bundled_patterns_use_the_automaton_and_wrapped_ones_do_not(name: str) -> None:
    """Without this, the other tests here could compare one engine with itself."""
    assert bytepair.get_encoding(name)._core.has_linear_splitter
    assert not general_engine(name)._core.has_linear_splitter


END_OF_TEXT_CASES = [
    pytest.param("a  ", id="letter-two-spaces"),
    pytest.param("  \n", id="spaces-newline"),
    pytest.param(" \u00a0x", id="space-nbsp-letter"),
    pytest.param("x\r\n\r\n  ", id="crlf-crlf-spaces"),
    pytest.param("x\t", id="trailing-tab"),
    pytest.param("x\t\t", id="trailing-tabs"),
    pytest.param("x \t", id="space-tab"),
    pytest.param("\t\t", id="only-tabs"),
    pytest.param(" ", id="one-space"),
    pytest.param("  ", id="two-spaces"),
    pytest.param("\n", id="newline"),
    pytest.param("\n ", id="newline-space"),
    pytest.param(" \n ", id="space-newline-space"),
    pytest.param("a\n\n", id="two-newlines"),
    pytest.param("a \n\n \n", id="mixed-newline-runs"),
    pytest.param("a\r", id="trailing-cr"),
    pytest.param("\r\r\n", id="cr-crlf"),
    pytest.param("a \u00a0", id="space-nbsp"),
    pytest.param("\u3000", id="ideographic-space"),
    pytest.param("x\u3000\u3000y", id="ideographic-spaces-inside"),
    pytest.param("a\x0b\x0c", id="vt-ff"),
    pytest.param("a \u2028", id="line-separator"),
    pytest.param("a\u0085", id="next-line"),
    pytest.param("ab  cd", id="two-spaces-inside"),
    pytest.param("ab   cd", id="three-spaces-inside"),
    pytest.param("ab \t cd", id="space-tab-space-inside"),
    pytest.param("x   'll", id="spaces-contraction"),
    pytest.param("  's", id="spaces-apostrophe-s"),
    pytest.param("'s  ", id="contraction-trailing-spaces"),
    pytest.param("1234 ", id="digits-space"),
    pytest.param("12345678\n", id="digits-newline"),
    pytest.param(" \u0301 ", id="combining-mark-between-spaces"),
    pytest.param("  !", id="spaces-punctuation"),
    pytest.param("!!  \n\n", id="punctuation-spaces-newlines"),
    pytest.param("a/\n", id="slash-newline"),
    pytest.param("ab / \n /", id="slashes-and-newline"),
    pytest.param(" " * 3000 + "x", id="long-space-run-then-letter"),
    pytest.param("x" + " " * 3000, id="long-trailing-space-run"),
    pytest.param("\n" * 1000 + " ", id="long-newline-run"),
]


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
@pytest.mark.parametrize("text", END_OF_TEXT_CASES)
def test_engines_agree_with_each_other_and_tiktoken_on_whitespace_edges(name: str, text: str) -> None:
    assert_engines_agree(name, text)
    assert bytepair.get_encoding(name).encode_ordinary(text) == oracle(name).encode_ordinary(text)


any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=64)
whitespace_heavy = st.text(
    st.sampled_from(list(" \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2028\u2029\u3000\u0085ax1'!/é中\u0301")), max_size=48
)
# Characters from every script and class, interleaved with the ASCII that the patterns treat specially.
mixed = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=4),
        st.sampled_from([" ", "  ", "\n", "\r\n", "\t", "'", "'s", "'LL", "1", "123", "A", "a", "/", "!"]),
    ),
    max_size=24,
).map("".join)

# Text long enough for the 64-byte blocks (rust/split/blocks.rs), rich in what they classify beyond ASCII: letters of
# accented Latin, Cyrillic and Greek of both cases, titlecase, letters of no case, marks, punctuation of two and three
# bytes; with the characters that end a block's exact part (numbers and white space that are not ASCII, U+017F after
# `'`, the Kelvin sign, emoji) and the ASCII the patterns treat specially. Ids differ only where a cut moves across
# a token, so the typographic prefixes come with words that make one token with them.
beyond_ascii_words = st.text(
    st.sampled_from(
        list("aZsé\u00c9\u00df\u00ff\u00d7\u00f7ЖжЯяЁёѠ\u0461Ωωǅʰªאب中の\u0301\u0483\u093f«»©—“”\u2019…€。、")
    ),
    min_size=1,
    max_size=12,
)
long_beyond_ascii = st.lists(
    st.one_of(
        beyond_ascii_words,
        st.sampled_from([" ", "  ", "\n", "\r\n", "\t", "'", "'s", "'\u017f", "7", "123", "٣", "²", "\u00a0"]),
        st.sampled_from(["\u2028", "\u3000", "😀", "\u212a", "/", "!", " \u00ab"]),
        # A prefix of two or three bytes before letters, where a token spans both: a wrong cut changes the ids.
        st.sampled_from(["\u201cThe", "\u201cthe", "\u00ab\u042d\u0442\u043e", "\u201eDie", "\u2014and", "\u2026and"]),
    ),
    min_size=8,
    max_size=80,
).map("".join)


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
@given(text=any_text)
def test_engines_agree_on_any_text(name: str, text: str) -> None:
    assert_engines_agree(name, text)


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
@given(text=whitespace_heavy)
def test_engines_agree_on_whitespace_mixes(name: str, text: str) -> None:
    assert_engines_agree(name, text)


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
@given(text=mixed)
def test_engines_agree_on_text_mixing_all_of_unicode_with_pattern_ascii(name: str, text: str) -> None:
    assert_engines_agree(name, text)


@pytest.mark.parametrize("name", ENCODINGS_BY_PATTERN)
@given(text=long_beyond_ascii)
def test_engines_and_tiktoken_agree_on_long_text_beyond_ascii(name: str, text: str) -> None:
    assert_engines_agree(name, text)
    assert bytepair.get_encoding(name).encode_ordinary(text) == oracle(name).encode_ordinary(text)
