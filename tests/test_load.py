"""Reading and writing vocab files: the shipped files parse exactly as tiktoken parses them, malformed files fail with
the file and line named, hashes are checked, nothing is downloaded, and GPT-2's original files give r50k_base."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.conftest import VECTORS, VOCAB_DIR, require_shared

import bytepair
from bytepair import VocabFileError, registry
from bytepair.config import ENCODINGS
from bytepair.load import data_gym_to_mergeable_bpe_ranks, dump_tiktoken_bpe, load_tiktoken_bpe

VOCAB_FILES = sorted({spec.vocab_file for spec in ENCODINGS.values()})


@pytest.fixture()
def tiktoken_load(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """tiktoken.load with its file cache off: it caches local files by path, so a rewritten tmp file would be stale."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    return pytest.importorskip("tiktoken.load")


def b64(token: bytes) -> str:
    return base64.b64encode(token).decode()


# Every single byte, one per line (lines 1-256), so each malformed line below is line 257.
ALL_BYTES = "".join(f"{b64(bytes([i]))} {i}\n" for i in range(256))


def write(tmp_path: Path, text: str | bytes, name: str = "vocab.tiktoken") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# ==== The shipped files ====


@pytest.mark.parametrize("vocab_file", VOCAB_FILES)
def test_load_tiktoken_bpe_of_each_shipped_file_equals_oracle(vocab_file: str, tiktoken_load) -> None:  # type: ignore[no-untyped-def]
    path = VOCAB_DIR / vocab_file
    assert load_tiktoken_bpe(path) == tiktoken_load.load_tiktoken_bpe(str(path))


@pytest.mark.parametrize("vocab_file", VOCAB_FILES)
def test_load_tiktoken_bpe_accepts_the_pinned_hash_of_each_shipped_file(vocab_file: str) -> None:
    spec = next(spec for spec in ENCODINGS.values() if spec.vocab_file == vocab_file)
    path = VOCAB_DIR / vocab_file
    assert load_tiktoken_bpe(str(path), expected_hash=spec.vocab_sha256) == load_tiktoken_bpe(path)


# ==== Accepted variations ====


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(ALL_BYTES + "\n" + f"{b64(b'ab')} 256\n\n", id="blank-lines"),
        pytest.param((ALL_BYTES + f"{b64(b'ab')} 256\n").replace("\n", "\r\n"), id="crlf"),
        pytest.param(ALL_BYTES + f"{b64(b'ab')} 256", id="no-final-newline"),
        pytest.param(ALL_BYTES + f"{b64(b'ab')} 300\n", id="gap-in-ranks"),
    ],
)
def test_load_accepts_the_same_variations_as_tiktoken(tmp_path: Path, text: str, tiktoken_load) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, text)
    ranks = load_tiktoken_bpe(path)
    assert ranks == tiktoken_load.load_tiktoken_bpe(str(path))
    assert len(ranks) == 257


def test_load_accepts_a_rank_file_without_every_single_byte_as_tiktoken(tmp_path: Path, tiktoken_load) -> None:  # type: ignore[no-untyped-def]
    """A rank file is just lines; tiktoken loads one that lacks some single bytes (Encoding checks those later)."""
    path = write(tmp_path, "".join(f"{b64(bytes([i]))} {i}\n" for i in range(3)))
    assert load_tiktoken_bpe(path) == tiktoken_load.load_tiktoken_bpe(str(path)) == {b"\0": 0, b"\1": 1, b"\2": 2}


# ==== Malformed files ====


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        pytest.param(f"{b64(b'ab')}", "expected", id="missing-rank"),
        pytest.param(" 256", "expected", id="missing-token"),
        pytest.param(f"{b64(b'ab')} 256 257", "expected", id="extra-field"),
        pytest.param("@@@ 256", "base64", id="bad-base64-alphabet"),
        pytest.param("YWJ 256", "base64", id="bad-base64-padding"),
        pytest.param(f"{b64(b'ab')} -1", "rank", id="negative-rank"),
        pytest.param(f"{b64(b'ab')} 2.5", "rank", id="fractional-rank"),
        pytest.param(f"{b64(b'ab')} x", "rank", id="non-integer-rank"),
        pytest.param(f"{b64(b'ab')} 99999999999", "rank", id="rank-above-u32"),
        pytest.param(f"{b64(bytes([0]))} 256", "twice", id="duplicate-token"),
        pytest.param(f"{b64(b'ab')} 2", "twice", id="duplicate-rank"),
    ],
)
def test_malformed_line_raises_naming_the_file_and_line_number(tmp_path: Path, line: str, fragment: str) -> None:
    path = write(tmp_path, ALL_BYTES + line + "\n" + f"{b64(b'cd')} 258\n")
    with pytest.raises(VocabFileError) as info:
        load_tiktoken_bpe(path)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(path) in message
    # A duplicate names both lines ("lines 1 and 257"), any other error its one line.
    assert re.search(r"\blines? (\d+ and )?257\b", message), message
    assert fragment in message


def test_expected_hash_mismatch_raises_naming_both_hashes(tmp_path: Path) -> None:
    path = write(tmp_path, ALL_BYTES)
    actual = hashlib.sha256(ALL_BYTES.encode()).hexdigest()
    assert len(load_tiktoken_bpe(path, expected_hash=actual)) == 256
    with pytest.raises(VocabFileError) as info:
        load_tiktoken_bpe(path, expected_hash="0" * 64)
    assert str(path) in str(info.value)
    assert actual in str(info.value)
    assert "0" * 64 in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken", id="https"),
        pytest.param("az://openaipublic/encodings/r50k_base.tiktoken", id="blob-store"),
    ],
)
def test_url_is_refused_with_a_message_saying_nothing_is_downloaded(url: str) -> None:
    with pytest.raises(VocabFileError, match="never downloads") as info:
        load_tiktoken_bpe(url)
    assert url in str(info.value)


@pytest.mark.parametrize("vocab_file", VOCAB_FILES)
def test_read_file_cached_checks_the_hash_and_never_downloads(vocab_file: str) -> None:
    spec = next(spec for spec in ENCODINGS.values() if spec.vocab_file == vocab_file)
    path = VOCAB_DIR / vocab_file
    assert bytepair.load.read_file_cached(str(path), spec.vocab_sha256) == path.read_bytes()
    assert bytepair.load.read_file_cached(path) == bytepair.load.read_file(path) == path.read_bytes()
    with pytest.raises(VocabFileError, match="expected 00") as info:
        bytepair.load.read_file_cached(path, "00" * 32)
    assert vocab_file in str(info.value)
    with pytest.raises(VocabFileError, match="never downloads"):
        bytepair.load.read_file_cached(f"https://openaipublic.blob.core.windows.net/encodings/{vocab_file}")


def test_missing_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.tiktoken"
    with pytest.raises(VocabFileError, match="does not exist") as info:
        load_tiktoken_bpe(path)
    assert str(path) in str(info.value)


# ==== Writing ====


def test_dump_then_load_round_trips(tmp_path: Path, tiktoken_load) -> None:  # type: ignore[no-untyped-def]
    ranks = load_tiktoken_bpe(VECTORS / "tiny.tiktoken")
    path = tmp_path / "copy.tiktoken"
    dump_tiktoken_bpe(ranks, path)
    assert load_tiktoken_bpe(path) == ranks
    assert tiktoken_load.load_tiktoken_bpe(str(path)) == ranks
    assert path.read_bytes() == (VECTORS / "tiny.tiktoken").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["copy.tiktoken"]


def test_dump_of_a_shipped_vocab_reproduces_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "r50k.tiktoken"
    dump_tiktoken_bpe(bytepair.get_encoding("r50k_base")._mergeable_ranks, path)
    assert path.read_bytes() == (VOCAB_DIR / "r50k_base.tiktoken").read_bytes()


def test_dump_writes_one_base64_line_per_token_in_rank_order(tmp_path: Path) -> None:
    ranks = {b" the": 257, **{bytes([i]): i for i in range(256)}, b"\xff\x00": 256}
    path = tmp_path / "out.tiktoken"
    dump_tiktoken_bpe(ranks, path)
    assert path.read_text().splitlines()[-3:] == ["/w== 255", "/wA= 256", "IHRoZQ== 257"]
    assert load_tiktoken_bpe(path) == ranks


# ==== GPT-2's original files ====


@pytest.fixture(scope="module")
def gpt2_files() -> tuple[str, str]:
    return str(require_shared("vocab/openai/gpt2_vocab.bpe")), str(require_shared("vocab/openai/gpt2_encoder.json"))


@pytest.fixture(scope="module")
def gpt2_ranks(gpt2_files: tuple[str, str]) -> dict[bytes, int]:
    return data_gym_to_mergeable_bpe_ranks(*gpt2_files)


def test_gpt2_data_gym_files_convert_to_the_r50k_base_ranks(gpt2_ranks: dict[bytes, int]) -> None:
    """This equality is why gpt2 ships as the r50k_base file."""
    assert gpt2_ranks == load_tiktoken_bpe(VOCAB_DIR / "r50k_base.tiktoken")


def test_gpt2_data_gym_conversion_equals_oracle(
    gpt2_files: tuple[str, str],
    gpt2_ranks: dict[bytes, int],
    tiktoken_load,  # type: ignore[no-untyped-def]
) -> None:
    assert gpt2_ranks == tiktoken_load.data_gym_to_mergeable_bpe_ranks(*gpt2_files)


def test_gpt2_data_gym_hash_mismatch_raises(gpt2_files: tuple[str, str]) -> None:
    with pytest.raises(VocabFileError, match="sha256"):
        data_gym_to_mergeable_bpe_ranks(*gpt2_files, vocab_bpe_hash="0" * 64)
    with pytest.raises(VocabFileError, match="sha256"):
        data_gym_to_mergeable_bpe_ranks(*gpt2_files, encoder_json_hash="0" * 64)


# ==== The bundled files' pinned hashes ====


def test_corrupted_bundled_file_is_caught_by_the_sha256_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flip one byte of r50k_base.tiktoken as it is read; get_encoding must refuse it instead of encoding with it."""
    original = registry.resources.files

    class Corrupted:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def joinpath(self, *parts: str) -> Corrupted:
            return Corrupted(self.inner.joinpath(*parts))  # type: ignore[attr-defined]

        def read_bytes(self) -> bytes:
            data = bytearray(self.inner.read_bytes())  # type: ignore[attr-defined]
            data[100] ^= 0x01
            return bytes(data)

    monkeypatch.setattr(registry, "resources", SimpleNamespace(files=lambda package: Corrupted(original(package))))
    monkeypatch.setattr(registry, "_cache", {})
    with pytest.raises(VocabFileError, match="sha256") as info:
        bytepair.get_encoding("r50k_base")
    assert "r50k_base.tiktoken" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bundled_spec_with_a_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ENCODINGS["p50k_base"]
    wrong = type(spec)(**{**spec.__dict__, "vocab_sha256": "f" * 64})
    with pytest.raises(VocabFileError, match="f" * 64):
        registry.read_vocab_file(wrong)
