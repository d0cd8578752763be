"""Golden vectors through the public Python API: the ids tiktoken gave for each case of tests/vectors/*.jsonl.

tests/golden_vectors.rs checks the same files through the Rust `Encoder`; tests/vectors/generate.py makes them.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from tests.conftest import ALL_ENCODINGS, VECTORS

import bytepair
from bytepair.config import ENCODINGS

# Fewer cases than this means a vectors file was cut short, and a pass would prove little.
MIN_CASES = 60


def read_cases(name: str) -> list[dict[str, Any]]:
    # Split at "\n" only: str.splitlines() would also break at characters that JSON strings may hold raw.
    lines = (VECTORS / f"{name}.jsonl").read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line]


def case_id(name: str, index: int, text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text[:16]).strip("_") or ("empty" if not text else "symbols")
    return f"{name}-{index:03d}-{slug}"


@functools.cache
def build(name: str) -> bytepair.Encoding | Exception:
    try:
        return bytepair.get_encoding(name)
    except Exception as err:  # remembered, so hundreds of cases do not rebuild a broken encoding
        return err


def encoding_named(name: str) -> bytepair.Encoding:
    """`bytepair.get_encoding(name)`; if that raises, every case of the encoding fails with the same message."""
    encoding = build(name)
    if isinstance(encoding, Exception):
        pytest.fail(f"bytepair.get_encoding({name!r}) raised {encoding!r}")
    return encoding


ENCODINGS_JSON: dict[str, dict[str, Any]] = json.loads((VECTORS / "encodings.json").read_text(encoding="utf-8"))
CASES = {name: read_cases(name) for name in ALL_ENCODINGS}
VECTOR_PARAMS = [
    pytest.param(name, case, id=case_id(name, index, case["text"]))
    for name in ALL_ENCODINGS
    for index, case in enumerate(CASES[name])
]


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_every_encoding_has_enough_vectors(name: str) -> None:
    assert len(CASES[name]) >= MIN_CASES
    assert all(set(case) == {"text", "ordinary", "all_special"} for case in CASES[name])


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_bundled_config_matches_the_official_definition(name: str) -> None:
    """encodings.json holds tiktoken's own pattern and special tokens (see generate.py); config.py must agree."""
    official = ENCODINGS_JSON[name]
    spec = ENCODINGS[name]
    assert spec.pattern == official["pattern"]
    assert dict(spec.special_tokens) == official["special_tokens"]
    assert spec.vocab_file == official["vocab_file"]


def test_vectors_cover_exactly_the_bundled_encodings() -> None:
    assert sorted(ENCODINGS_JSON) == sorted(bytepair.list_encoding_names())


@pytest.mark.parametrize(("name", "case"), VECTOR_PARAMS)
def test_encode_ordinary_gives_the_golden_ids(name: str, case: dict[str, Any]) -> None:
    assert encoding_named(name).encode_ordinary(case["text"]) == case["ordinary"]


@pytest.mark.parametrize(("name", "case"), VECTOR_PARAMS)
def test_encode_with_all_special_allowed_gives_the_golden_ids(name: str, case: dict[str, Any]) -> None:
    assert encoding_named(name).encode(case["text"], allowed_special="all") == case["all_special"]


@pytest.mark.parametrize(("name", "case"), VECTOR_PARAMS)
def test_decode_of_the_golden_ids_gives_the_text_back(name: str, case: dict[str, Any]) -> None:
    encoding = encoding_named(name)
    text = case["text"].encode("utf-8")
    assert encoding.decode_bytes(case["ordinary"]) == text
    assert encoding.decode_bytes(case["all_special"]) == text


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_batch_encoding_gives_the_golden_ids(name: str) -> None:
    encoding = encoding_named(name)
    texts = [case["text"] for case in CASES[name]]
    assert encoding.encode_ordinary_batch(texts) == [case["ordinary"] for case in CASES[name]]
    assert encoding.encode_batch(texts, allowed_special="all") == [case["all_special"] for case in CASES[name]]
