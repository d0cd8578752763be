"""Every Unicode code point splits as in tiktoken: this pins the Unicode version of the pattern's character classes.

The split patterns decide with \\p{L}, \\p{Lu}, \\p{Ll}, \\p{Lt}, \\p{Lm}, \\p{Lo}, \\p{M}, \\p{N} and \\s,
whose contents change with each Unicode version: a letter added in a newer version is unassigned (so neither a
letter nor a space) in an older one, and splits differently. bytepair's classes come from the Unicode tables of
regex-syntax, which Cargo.toml pins to an exact version (`regex-syntax = "=0.8.5"`) for that reason; tiktoken
0.14's come from the regex-syntax its wheel was built with. Updating that pin, or tiktoken, must keep this test passing.

Each code point (0..=0x10FFFF without the surrogates) is put in every context where its class decides a split:
after and before a letter, doubled, after a space, between digits, after an uppercase letter, after an apostrophe
and before a newline. Code points go 256 to a document; a document that differs is searched code point by code
point, and the failure names them. r50k_base, cl100k_base and o200k_base stand for all seven encodings, which use
only their three patterns.

Planes 4-13 are unassigned and planes 15-16 private use in every Unicode version so far; outside CI (CI=true),
every SPARSE_STRIDE-th code point of them is checked, to keep the local run short. Planes 0-3 and 14, where
characters are assigned, are always checked in full.
"""

from __future__ import annotations

import os
import unicodedata

import pytest
from tests.conftest import oracle

import bytepair

ENCODINGS_BY_PATTERN = ("r50k_base", "cl100k_base", "o200k_base")

# One code point, in each context that its class decides: "a{c}" after a letter, "{c}{c}" doubled, "{c}a" before a
# letter, " {c}" after a space, "1{c}1" between digits, "A{c}" after an uppercase letter, "'{c}" after an apostrophe,
# "{c}\n" before a newline.
CONTEXTS = "a{c}{c}a {c}1{c}1A{c}'{c}\n"

CODE_POINTS_PER_DOCUMENT = 256
PLANE_SIZE = 0x10000
ASSIGNED_PLANES = (0, 1, 2, 3, 14)
SPARSE_STRIDE = 1 if os.environ.get("CI") else 16
MAX_REPORTED = 8


def code_points(plane: int) -> list[int]:
    start = plane * PLANE_SIZE
    stride = 1 if plane in ASSIGNED_PLANES else SPARSE_STRIDE
    points = range(start, start + PLANE_SIZE, stride)
    return [point for point in points if not 0xD800 <= point <= 0xDFFF]


def in_contexts(point: int) -> str:
    return CONTEXTS.replace("{c}", chr(point))


def describe(point: int) -> str:
    return f"U+{point:04X} {unicodedata.name(chr(point), '(no name in Python ' + unicodedata.unidata_version + ')')}"


@pytest.mark.parametrize(
    ("name", "plane"),
    [pytest.param(name, plane, id=f"{name}-plane{plane:02d}") for name in ENCODINGS_BY_PATTERN for plane in range(17)],
)
def test_every_code_point_splits_as_in_tiktoken(name: str, plane: int) -> None:
    points = code_points(plane)
    blocks = [points[i : i + CODE_POINTS_PER_DOCUMENT] for i in range(0, len(points), CODE_POINTS_PER_DOCUMENT)]
    documents = ["".join(map(in_contexts, block)) for block in blocks]
    encoding, reference = bytepair.get_encoding(name), oracle(name)
    expected = reference.encode_ordinary_batch(documents)
    actual = encoding.encode_ordinary_batch(documents)
    if actual == expected:
        return
    failures, whole_documents = [], []
    for block, want, got in zip(blocks, expected, actual, strict=True):
        if want == got:
            continue
        found = False
        for point in block:
            text = in_contexts(point)
            want_one, got_one = reference.encode_ordinary(text), encoding.encode_ordinary(text)
            if want_one != got_one:
                found = True
                failures.append(f"  {describe(point)} in {text!r}: tiktoken {want_one}, bytepair {got_one}")
        if not found:
            whole_documents.append(f"  U+{block[0]:04X}..U+{block[-1]:04X} (only together)")
    report = (failures + whole_documents)[:MAX_REPORTED]
    pytest.fail(
        f"{name}: {len(failures)} code points of plane {plane} split unlike tiktoken "
        f"(Unicode version of the character classes?):\n" + "\n".join(report)
    )
