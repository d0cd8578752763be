"""The command line: `bytepair encode/decode/count` against the Python API, the sidecar, and each error it reports."""

from __future__ import annotations

import importlib.metadata
import json
import os
import struct
import subprocess
import sys
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bytepair
from bytepair import cli
from bytepair.special_tokens import ENDOFTEXT

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = ROOT / "benches" / "corpus" / "english.txt"
TINY_VOCAB = ROOT / "tests" / "vectors" / "tiny.tiktoken"

DOCUMENTS = {
    "plain.txt": "The quick brown fox jumps over the lazy dog.\nSecond line.\n",
    "mixed.txt": "naïve café 👍🏽 日本語のテキスト, ελληνικά\r\n\tindented  spaces   ",
    "special.txt": f"a file that mentions {ENDOFTEXT} and <|fim_prefix|> as plain text",
    "empty.txt": "",
}


def run(*argv: object) -> int:
    return cli.main([str(arg) for arg in argv])


def read_tokens(path: Path, dtype: str) -> list[int]:
    tokens = array({"uint16": "H", "uint32": "I"}[dtype])
    tokens.frombytes(path.read_bytes())
    if sys.byteorder == "big":
        tokens.byteswap()
    return tokens.tolist()


def expected_tokens(name: str, texts: list[str], eot: bool = True) -> list[int]:
    encoding = bytepair.get_encoding(name)
    tokens: list[int] = []
    for text in texts:
        tokens += encoding.encode_ordinary(text)
        if eot:
            tokens.append(encoding.eot_token)
    return tokens


@pytest.fixture
def docs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for name, text in DOCUMENTS.items():
        path = folder / name
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths


# ==== encode ====


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        pytest.param("gpt2", "uint16", id="gpt2-uint16"),
        pytest.param("cl100k_base", "uint32", id="cl100k_base-uint32"),
        pytest.param("o200k_base", "uint32", id="o200k_base-uint32"),
    ],
)
def test_encode_writes_ordinary_tokens_with_eot_after_each_document(
    docs: list[Path], out: Path, name: str, dtype: str
) -> None:
    assert run("encode", *docs, "-o", out / "train", "--encoding", name) == 0
    expected = expected_tokens(name, list(DOCUMENTS.values()))
    assert json.loads((out / "train.json").read_text())["dtype"] == dtype
    assert (out / "train.bin").stat().st_size == len(expected) * {"uint16": 2, "uint32": 4}[dtype]
    assert read_tokens(out / "train.bin", dtype) == expected


def test_encode_output_reads_back_with_numpy_memmap(docs: list[Path], out: Path) -> None:
    np = pytest.importorskip("numpy")
    assert run("encode", *docs, "-o", out / "train", "--encoding", "gpt2") == 0
    tokens = np.memmap(out / "train.bin", dtype=np.uint16, mode="r")
    assert tokens.tolist() == expected_tokens("gpt2", list(DOCUMENTS.values()))
    del tokens


def test_encode_defaults_to_o200k_base(docs: list[Path], out: Path) -> None:
    assert run("encode", docs[0], "-o", out / "train") == 0
    assert json.loads((out / "train.json").read_text())["encoding"] == "o200k_base"
    assert read_tokens(out / "train.bin", "uint32") == expected_tokens("o200k_base", [DOCUMENTS["plain.txt"]])


def test_sidecar_records_encoding_dtype_and_per_input_counts(docs: list[Path], out: Path) -> None:
    assert run("encode", *docs, "-o", out / "train", "--encoding", "cl100k_base") == 0
    encoding = bytepair.get_encoding("cl100k_base")
    inputs: list[dict[str, Any]] = [
        {
            "path": str(path),
            "documents": 1,
            "bytes": len(text.encode("utf-8")),
            "tokens": len(encoding.encode_ordinary(text)) + 1,  # its end-of-text token included
        }
        for path, text in zip(docs, DOCUMENTS.values(), strict=True)
    ]
    assert json.loads((out / "train.json").read_text()) == {
        "format": "bytepair-tokens",
        "version": 1,
        "encoding": "cl100k_base",
        "dtype": "uint32",
        "byteorder": "little",
        "separator_token": 100257,
        "shard": None,
        "documents": 4,
        "bytes": sum(one["bytes"] for one in inputs),
        "tokens": sum(one["tokens"] for one in inputs),
        "offsets": "train.idx.npy",
        "inputs": inputs,
    }


def test_no_eot_writes_documents_back_to_back(docs: list[Path], out: Path) -> None:
    assert run("encode", *docs, "-o", out / "train", "--encoding", "gpt2", "--no-eot") == 0
    assert read_tokens(out / "train.bin", "uint16") == expected_tokens("gpt2", list(DOCUMENTS.values()), eot=False)
    sidecar = json.loads((out / "train.json").read_text())
    assert sidecar["separator_token"] is None
    assert sidecar["tokens"] == sum(one["tokens"] for one in sidecar["inputs"])


def test_special_token_text_in_a_file_is_encoded_as_ordinary_text(docs: list[Path], out: Path) -> None:
    special = docs[2]
    assert run("encode", special, "-o", out / "train", "--encoding", "gpt2") == 0
    tokens = read_tokens(out / "train.bin", "uint16")
    assert tokens.count(50256) == 1  # only the separator, not the <|endoftext|> written in the file
    assert tokens[:-1] == bytepair.get_encoding("gpt2").encode(DOCUMENTS["special.txt"], disallowed_special=())


def test_encoding_without_end_of_text_writes_no_separator(
    docs: list[Path], out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny vocab (tests/vectors/tiny.tiktoken) with no special tokens at all."""
    tiny = bytepair.Encoding(
        "tiny",
        pat_str=r"\S+|\s+",
        mergeable_ranks=bytepair.load.load_tiktoken_bpe(TINY_VOCAB),
        special_tokens={},
    )
    monkeypatch.setattr(cli, "list_encoding_names", lambda: ["tiny"])
    monkeypatch.setattr(cli, "get_encoding", lambda name: tiny)
    assert run("encode", docs[0], docs[0], "-o", out / "train", "--encoding", "tiny") == 0
    sidecar = json.loads((out / "train.json").read_text())
    assert (sidecar["separator_token"], sidecar["dtype"]) == (None, "uint16")
    assert read_tokens(out / "train.bin", "uint16") == tiny.encode_ordinary(DOCUMENTS["plain.txt"]) * 2


def test_encode_in_small_groups_gives_the_same_file(
    docs: list[Path], out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("encode", *docs, "-o", out / "whole", "--encoding", "gpt2") == 0
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)  # one file per encode_ordinary_batch call
    assert run("encode", *docs, "-o", out / "grouped", "--encoding", "gpt2") == 0
    assert (out / "grouped.bin").read_bytes() == (out / "whole.bin").read_bytes()


def test_trailing_bin_in_prefix_is_dropped(docs: list[Path], out: Path) -> None:
    assert run("encode", docs[0], "-o", out / "train.bin", "--encoding", "gpt2") == 0
    assert sorted(path.name for path in out.iterdir()) == ["train.bin", "train.idx.npy", "train.json"]


def test_encode_prints_a_summary_unless_quiet(docs: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("encode", *docs, "-o", out / "train", "--encoding", "gpt2") == 0
    sidecar = json.loads((out / "train.json").read_text())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"wrote {sidecar['tokens']} tokens from 4 documents ({sidecar['bytes']} bytes) "
        f"to {out / 'train.bin'} (uint16) in "
    )
    assert captured.err.endswith(" M tokens/s)\n")
    assert captured.err.count("\n") == 1  # not a terminal: no progress line
    assert run("encode", *docs, "-o", out / "train", "--encoding", "gpt2", "--quiet") == 0
    assert capsys.readouterr().err == ""


def test_readme_main_job_encodes_the_english_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bytepair encode benches/corpus/english.txt -o english`, with the output in a temporary folder."""
    assert run("encode", ENGLISH, "-o", tmp_path / "english") == 0
    text = ENGLISH.read_text(encoding="utf-8")
    assert read_tokens(tmp_path / "english.bin", "uint32") == expected_tokens("o200k_base", [text])
    assert f"to {tmp_path / 'english.bin'} (uint32)" in capsys.readouterr().err


# ==== decode ====


def test_decode_gives_back_the_exact_bytes(docs: list[Path], out: Path) -> None:
    originals = [path.read_bytes() for path in docs]
    assert run("encode", *docs, "-o", out / "plain", "--no-eot", "--encoding", "cl100k_base") == 0
    assert run("decode", out / "plain.bin", "-o", out / "plain.txt") == 0
    assert (out / "plain.txt").read_bytes() == b"".join(originals)

    assert run("encode", *docs, "-o", out / "separated", "--encoding", "gpt2") == 0
    assert run("decode", out / "separated.bin", "-o", out / "separated.txt") == 0
    assert (out / "separated.txt").read_bytes() == b"".join(text + ENDOFTEXT.encode() for text in originals)


def test_decode_writes_bytes_to_stdout(docs: list[Path], out: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run("encode", docs[1], "-o", out / "mixed", "--no-eot", "--quiet") == 0
    assert run("decode", out / "mixed.bin") == 0
    assert capsysbinary.readouterr().out == docs[1].read_bytes()


def test_decode_keeps_characters_split_between_tokens_and_chunks(
    docs: list[Path], out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpt2 spells 👍🏽 and 日本語 as tokens that each hold part of a character's UTF-8 bytes."""
    assert run("encode", docs[1], "-o", out / "mixed", "--encoding", "gpt2", "--no-eot") == 0
    monkeypatch.setattr(cli, "DECODE_CHUNK_TOKENS", 1)
    assert run("decode", out / "mixed.bin", "-o", out / "mixed.txt") == 0
    assert (out / "mixed.txt").read_bytes() == docs[1].read_bytes()


def test_decode_without_sidecar_takes_encoding_and_dtype_options(docs: list[Path], out: Path) -> None:
    assert run("encode", docs[0], "-o", out / "train", "--encoding", "gpt2", "--no-eot") == 0
    (out / "train.json").unlink()
    assert run("decode", out / "train.bin", "--encoding", "gpt2", "-o", out / "a.txt") == 0
    assert run("decode", out / "train.bin", "--encoding", "r50k_base", "--dtype", "uint16", "-o", out / "b.txt") == 0
    assert (out / "a.txt").read_bytes() == (out / "b.txt").read_bytes() == docs[0].read_bytes()


# ==== count ====


def test_count_prints_tokens_per_file_then_total(docs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run("count", *docs, "--encoding", "cl100k_base") == 0
    encoding = bytepair.get_encoding("cl100k_base")
    counts = [len(encoding.encode_ordinary(text)) for text in DOCUMENTS.values()]
    lines = [f"{path}\t{count}" for path, count in zip(docs, counts, strict=True)] + [f"total\t{sum(counts)}"]
    assert capsys.readouterr().out == "\n".join(lines) + "\n"


# ==== errors ====


def invalid_utf8(folder: Path) -> Path:
    path = folder / "latin1.txt"
    path.write_bytes(b"first line\ncaf" + b"\xe9 au lait\n")
    return path


@pytest.mark.parametrize(
    ("make_args", "status", "fragments"),
    [
        pytest.param(
            lambda docs, out: [docs[0], docs[0].parent / "missing.txt", "-o", out / "train"],
            1,
            ["missing.txt: no such file"],
            id="missing-file",
        ),
        pytest.param(
            lambda docs, out: [docs[0], docs[0].parent / "nothing*.txt", "-o", out / "train"],
            1,
            ["nothing*.txt: no files match"],
            id="glob-matches-nothing",
        ),
        pytest.param(
            lambda docs, out: [docs[0], invalid_utf8(docs[0].parent), "-o", out / "train"],
            1,
            ["latin1.txt: invalid UTF-8 at byte 14", "--errors replace"],
            id="invalid-utf8",
        ),
        pytest.param(
            lambda docs, out: [docs[0], "-o", out / "train", "--encoding", "cl100k"],
            2,
            ["unknown encoding 'cl100k'", "available: gpt2, r50k_base", "cl100k_base"],
            id="unknown-encoding",
        ),
        pytest.param(
            lambda docs, out: [docs[0], "-o", out / "no" / "such" / "train"],
            1,
            ["output folder", "does not exist"],
            id="output-folder-missing",
        ),
    ],
)
def test_failed_encode_reports_the_problem_and_leaves_no_output(
    docs: list[Path],
    out: Path,
    capsys: pytest.CaptureFixture[str],
    make_args: Callable[[list[Path], Path], list[object]],
    status: int,
    fragments: list[str],
) -> None:
    assert run("encode", *make_args(docs, out)) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    assert list(out.iterdir()) == []


def test_invalid_utf8_after_a_written_group_leaves_no_partial_files(
    docs: list[Path], out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)  # the good files are encoded and written before the bad one is read
    assert run("encode", *docs, invalid_utf8(docs[0].parent), "-o", out / "train") == 1
    assert "invalid UTF-8 at byte 14 (line 2, byte 0xe9)" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_failed_encode_keeps_the_previous_outputs(docs: list[Path], out: Path) -> None:
    assert run("encode", docs[0], "-o", out / "train", "--quiet") == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert run("encode", docs[1], invalid_utf8(docs[0].parent), "-o", out / "train", "--quiet") == 1
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.parametrize(
    ("errors", "text"),
    [
        pytest.param("replace", "first line\ncaf\ufffd au lait\n", id="replace"),
        pytest.param("ignore", "first line\ncaf au lait\n", id="ignore"),
    ],
)
def test_errors_option_reads_invalid_utf8(docs: list[Path], out: Path, errors: str, text: str) -> None:
    bad = invalid_utf8(docs[0].parent)
    assert run("encode", bad, "-o", out / "train", "--encoding", "gpt2", "--errors", errors) == 0
    assert read_tokens(out / "train.bin", "uint16") == expected_tokens("gpt2", [text])
    # bytes counts the text encoded (U+FFFD is 3 bytes), not the file
    assert json.loads((out / "train.json").read_text())["bytes"] == len(text.encode("utf-8"))


def test_count_reports_invalid_utf8(docs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run("count", invalid_utf8(docs[0].parent)) == 1
    assert "invalid UTF-8 at byte 14" in capsys.readouterr().err


def test_decode_without_sidecar_names_it(docs: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("encode", docs[0], "-o", out / "train", "--quiet") == 0
    (out / "train.json").unlink()
    assert run("decode", out / "train.bin") == 1
    assert f"{out / 'train.json'} not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("cut", "fragment"),
    [
        pytest.param(1, "not a multiple of 4 (uint32): the file is truncated", id="partial-token"),
        pytest.param(4, "the file is truncated or does not belong to this sidecar", id="whole-token"),
    ],
)
def test_decode_reports_a_truncated_bin(
    docs: list[Path], out: Path, capsys: pytest.CaptureFixture[str], cut: int, fragment: str
) -> None:
    assert run("encode", docs[0], "-o", out / "train", "--quiet") == 0
    data = (out / "train.bin").read_bytes()
    (out / "train.bin").write_bytes(data[:-cut])
    assert run("decode", out / "train.bin", "-o", out / "train.txt") == 1
    assert fragment in capsys.readouterr().err
    assert not (out / "train.txt").exists()


def test_decode_reports_ids_the_encoding_lacks(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / "odd.bin").write_bytes(struct.pack("<2H", 31373, 60000))
    assert run("decode", out / "odd.bin", "--encoding", "gpt2") == 1
    assert "unknown token id 60000" in capsys.readouterr().err


def test_decode_rejects_a_json_that_is_not_a_sidecar(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / "x.bin").write_bytes(b"\0\0")
    (out / "x.json").write_text('{"name": "something else"}')
    assert run("decode", out / "x.bin") == 1
    assert "is not a bytepair sidecar" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [pytest.param([], id="no-command"), pytest.param(["tokenize", "x"], id="unknown-command")],
)
def test_bad_usage_exits_with_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage: bytepair" in capsys.readouterr().err


# ==== help, version and entry points ====


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"bytepair {bytepair.__version__}\n"


@pytest.mark.parametrize("command", ["encode", "decode", "count"])
def test_each_command_has_help_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "-h"]) == 0
    help_text = capsys.readouterr().out
    assert f"usage: bytepair {command}" in help_text
    assert f"examples:\n  bytepair {command} " in help_text


def test_encode_help_says_special_token_text_is_ordinary(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["encode", "-h"]) == 0
    assert "are encoded as ordinary text" in " ".join(capsys.readouterr().out.split())


def python_m_bytepair(*argv: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bytepair", *map(str, argv)]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 (fixed command)


def test_python_m_bytepair_runs_the_cli(docs: list[Path], out: Path) -> None:
    version = python_m_bytepair("--version")
    assert (version.returncode, version.stdout) == (0, f"bytepair {bytepair.__version__}\n")

    missing = python_m_bytepair("encode", docs[0].parent / "missing.txt", "-o", out / "train")
    assert missing.returncode == 1
    assert missing.stderr == f"bytepair encode: error: {docs[0].parent / 'missing.txt'}: no such file\n"


def test_console_script_is_cli_main() -> None:
    scripts = list(importlib.metadata.entry_points(group="console_scripts", name="bytepair"))
    assert [one.value for one in scripts] == ["bytepair.cli:main"]
