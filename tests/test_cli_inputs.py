"""`bytepair encode/count/decode` over every input kind (text split three ways, JSON Lines, Parquet; folders, globs;
gzip, bz2, xz, zstd), every output layout (one file, shards; .bin, .idx.npy, .json read back and compared with
one-by-one encoding), each input error, and interrupted runs."""

from __future__ import annotations

import bz2
import errno
import gzip
import itertools
import json
import lzma
import sys
import threading
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import bytepair
from bytepair import cli, corpus, tokenfile

np = pytest.importorskip("numpy")

ENCODING = "gpt2"  # uint16 output; cl100k_base/o200k_base (uint32) are covered by test_cli.py
LINES_TEXT = "first line\r\nsecond line, naïve 👍\n\n   \nthird <|endoftext|> line\nlast line without newline"
LINES = ["first line", "second line, naïve 👍", "   ", "third <|endoftext|> line", "last line without newline"]
BLOCKS_TEXT = "\n\nblock one\nstill one\n\n\n \t\nblock two 日本語\r\n\r\nblock three\n"
BLOCKS = ["block one\nstill one", "block two 日本語", "block three"]
RECORDS = [{"text": "json one", "id": 1}, {"text": "json two 👍", "id": 2}, {"text": "", "id": 3}]


def run(*argv: object) -> int:
    return cli.main([str(arg) for arg in argv])


def encoded(texts: list[str], name: str = ENCODING, separator: int | None = -1) -> list[list[int]]:
    """Each text encoded one by one as ordinary text, with the end-of-text token (or ``separator``) appended."""
    encoding = bytepair.get_encoding(name)
    tail = [encoding.eot_token] if separator == -1 else [] if separator is None else [separator]
    return [encoding.encode_ordinary(text) + tail for text in texts]


def read_back(prefix: Path) -> tuple[list[list[int]], dict[str, Any]]:
    """The documents of PREFIX.bin cut by PREFIX.idx.npy (read with NumPy, as a training loader would)."""
    sidecar = json.loads(prefix.with_name(prefix.name + ".json").read_text())
    tokens = np.fromfile(prefix.with_name(prefix.name + ".bin"), dtype=np.dtype(sidecar["dtype"]).newbyteorder("<"))
    offsets = np.load(prefix.with_name(prefix.name + ".idx.npy"))
    assert offsets.dtype == np.int64
    assert len(offsets) == sidecar["documents"] + 1
    assert (offsets[0], offsets[-1]) == (0, len(tokens)) == (0, sidecar["tokens"])
    assert sidecar["offsets"] == prefix.name + ".idx.npy"
    return [tokens[a:b].tolist() for a, b in pairwise(offsets)], sidecar


@pytest.fixture(params=["python", "rust"])
def line_reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Text read one document per line goes through Python (small files) or, from `cli.FIRST_GROUP_BYTES` on, to
    Rust in chunks (`cli._Lines`); "rust" lowers that size so that the small test files go there, in many chunks."""
    if request.param == "rust":
        monkeypatch.setattr(cli, "FIRST_GROUP_BYTES", 1)
        monkeypatch.setattr(cli, "GROUP_BYTES", 16)
    return str(request.param)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


# ==== Text split into documents ====


@pytest.mark.parametrize(
    ("split", "text", "documents"),
    [
        pytest.param("file", LINES_TEXT, [LINES_TEXT], id="file"),
        pytest.param("line", LINES_TEXT, LINES, id="line"),
        pytest.param("blank", BLOCKS_TEXT, BLOCKS, id="blank"),
    ],
)
def test_text_split_gives_the_documents_encoded_one_by_one(
    inputs: Path, out: Path, split: str, text: str, documents: list[str], line_reading: str
) -> None:
    path = inputs / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    assert run("encode", path, "-o", out / "train", "--encoding", ENCODING, "--split", split, "--quiet") == 0
    read, sidecar = read_back(out / "train")
    assert read == encoded(documents)
    assert sidecar["bytes"] == sum(len(document.encode("utf-8")) for document in documents)
    assert sidecar["inputs"] == [
        {"path": str(path), "documents": len(documents), "bytes": sidecar["bytes"], "tokens": sidecar["tokens"]}
    ]


@pytest.mark.parametrize("split", ["line", "blank"])
def test_chunk_boundaries_do_not_change_the_documents(
    inputs: Path, out: Path, split: str, monkeypatch: pytest.MonkeyPatch, line_reading: str
) -> None:
    """Chunks of 5 bytes cut lines, blocks and the UTF-8 of 👍 and 日本語 everywhere."""
    path = inputs / "corpus.txt"
    path.write_bytes((LINES_TEXT + "\n\n" + BLOCKS_TEXT).encode("utf-8") * 3)
    assert run("encode", path, "-o", out / "whole", "--split", split, "--quiet") == 0
    monkeypatch.setattr(corpus, "CHUNK_BYTES", 5)
    monkeypatch.setattr(cli, "GROUP_BYTES", 7)
    assert run("encode", path, "-o", out / "chunked", "--split", split, "--quiet") == 0
    assert read_back(out / "chunked")[0] == read_back(out / "whole")[0]


@pytest.mark.parametrize("read_size", [1, 3, 7, 64, 1 << 20])
def test_line_chunks_join_back_into_the_file_and_end_after_line_feeds(inputs: Path, read_size: int) -> None:
    """Each chunk is head + data[:cut] (kept apart so that the reader copies no chunk); reads shorter than a line,
    reads that end inside a character and a last line without a line feed still give back the file."""
    text = (b"a\nbb\r\na line longer than several reads\n" + "\u00e9\u65e5".encode() * 5 + b"\n\n") * 3 + b"last"
    path = inputs / "lines.txt"
    path.write_bytes(text)
    [source] = corpus.find_sources([str(path)])
    chunks = list(corpus.line_chunks(source, itertools.repeat(read_size)))
    joined = [head + data[:cut] for head, data, cut, _ in chunks]
    assert b"".join(joined) == text
    assert [offset for *_, offset in chunks] == list(itertools.accumulate([0, *map(len, joined[:-1])]))
    assert all(chunk.endswith(b"\n") for chunk in joined[:-1])
    assert joined[-1].endswith(b"last")


def test_lines_of_large_files_are_split_in_rust_with_the_same_documents_and_errors(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The same documents and the same error, whichever side splits the lines; Rust only for strict UTF-8."""
    text = (LINES_TEXT + "\n\u2028 line separators \x85 stay\x0c\r\r\n\r\n" * 3).encode("utf-8")
    path = inputs / "corpus.txt"
    path.write_bytes(text)
    bad = inputs / "bad.txt"
    bad.write_bytes(text + b"one more\ncaf\xe9\n")
    calls: list[int] = []
    split_in_rust = bytepair.Encoding._encode_lines_flat

    def spy(self: bytepair.Encoding, head: bytes, data: bytes, cut: int, **options: Any) -> Any:
        calls.append(len(head) + cut)
        return split_in_rust(self, head, data, cut, **options)

    monkeypatch.setattr(bytepair.Encoding, "_encode_lines_flat", spy)
    common = ["--split", "line", "--encoding", "cl100k_base", "--quiet"]
    assert run("encode", path, "-o", out / "python", *common) == 0
    assert run("encode", bad, "-o", out / "python-bad", *common) == 1
    python_error = capsys.readouterr().err
    assert calls == []
    monkeypatch.setattr(cli, "FIRST_GROUP_BYTES", 8)
    monkeypatch.setattr(cli, "GROUP_BYTES", 64)
    assert run("encode", path, "-o", out / "rust", *common) == 0
    assert len(calls) > 3 and sum(calls) == len(text)
    assert run("encode", bad, "-o", out / "rust-bad", *common) == 1
    assert capsys.readouterr().err == python_error
    offset, line = len(text) + len(b"one more\ncaf"), text.count(b"\n") + 2
    assert f"bad.txt: invalid UTF-8 at byte {offset} (line {line}, byte 0xe9)" in python_error
    documents = text.decode("utf-8").split("\n")
    expected = encoded([line.removesuffix("\r") for line in documents if line.removesuffix("\r")], "cl100k_base")
    (python, python_sidecar), (rust, rust_sidecar) = read_back(out / "python"), read_back(out / "rust")
    assert python == rust == expected
    assert rust_sidecar["bytes"] == python_sidecar["bytes"]
    assert rust_sidecar["inputs"] == python_sidecar["inputs"]
    calls.clear()
    assert run("encode", path, "-o", out / "replaced", *common, "--errors", "replace") == 0
    assert calls == [], "--errors replace reads in Python"


# ==== JSON Lines and Parquet ====


@pytest.mark.parametrize("name", ["data.jsonl", "data.ndjson", "data.JSONL"])
def test_json_lines_give_one_document_per_line(inputs: Path, out: Path, name: str) -> None:
    path = write_jsonl(inputs / name, RECORDS)
    with path.open("a", encoding="utf-8") as more:
        more.write("\n  \n")  # blank lines are skipped
    assert run("encode", path, "-o", out / "train", "--encoding", ENCODING, "--quiet") == 0
    assert read_back(out / "train")[0] == encoded([record["text"] for record in RECORDS])


def test_field_names_the_json_key_and_format_overrides_the_extension(inputs: Path, out: Path) -> None:
    path = write_jsonl(inputs / "data.txt", [{"content": "a b"}, {"content": "c"}])
    assert run("encode", path, "-o", out / "train", "--format", "jsonl", "--field", "content", "--quiet") == 0
    assert read_back(out / "train")[0] == encoded(["a b", "c"], "o200k_base")


def test_parquet_column_gives_one_document_per_row(inputs: Path, out: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    texts = [f"row {i} {'👍' * (i % 3)}" for i in range(20_000)]  # more than one record batch
    pq.write_table(pa.table({"id": range(len(texts)), "body": texts}), inputs / "data.parquet", row_group_size=5000)
    assert run("encode", inputs / "data.parquet", "-o", out / "train", "--column", "body", "--quiet") == 0
    assert read_back(out / "train")[0] == encoded(texts, "o200k_base")


# ==== Compression, folders and globs ====


def compress(path: Path, suffix: str) -> Path:
    data = path.read_bytes()
    target = path.with_name(path.name + suffix)
    if suffix == ".gz":
        target.write_bytes(gzip.compress(data))
    elif suffix == ".bz2":
        target.write_bytes(bz2.compress(data))
    elif suffix == ".xz":
        target.write_bytes(lzma.compress(data))
    else:
        zstandard = pytest.importorskip("zstandard")
        target.write_bytes(zstandard.ZstdCompressor().compress(data))
    return target


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
@pytest.mark.parametrize("kind", ["text-lines", "jsonl"])
def test_compressed_inputs_give_the_same_tokens(inputs: Path, out: Path, suffix: str, kind: str) -> None:
    if kind == "jsonl":
        plain = write_jsonl(inputs / "data.jsonl", RECORDS)
    else:
        plain = inputs / "data.txt"
        plain.write_bytes(LINES_TEXT.encode("utf-8"))
    packed = compress(plain, suffix)
    assert run("encode", plain, "-o", out / "plain", "--split", "line", "--quiet") == 0
    assert run("encode", packed, "-o", out / "packed", "--split", "line", "--quiet") == 0
    assert (out / "packed.bin").read_bytes() == (out / "plain.bin").read_bytes()
    assert (out / "packed.idx.npy").read_bytes() == (out / "plain.idx.npy").read_bytes()


def test_folders_and_globs_expand_to_sorted_files_without_hidden_ones(inputs: Path, out: Path) -> None:
    (inputs / "b").mkdir()
    (inputs / "a").mkdir()
    (inputs / ".git").mkdir()
    files = {"b/2.txt": "two", "a/1.txt": "one", "a/3.jsonl": '{"text": "three"}\n', "top.txt": "top"}
    for name, text in {**files, ".hidden.txt": "no", ".git/x.txt": "no"}.items():
        (inputs / name).write_text(text, encoding="utf-8")
    assert run("encode", inputs, "-o", out / "folder", "--quiet") == 0
    documents, sidecar = read_back(out / "folder")
    assert documents == encoded(["one", "three", "two", "top"], "o200k_base")
    assert [one["path"] for one in sidecar["inputs"]] == [
        str(inputs / name) for name in ["a/1.txt", "a/3.jsonl", "b/2.txt", "top.txt"]
    ]
    assert run("encode", f"{inputs}/**/*.txt", "-o", out / "glob", "--quiet") == 0
    assert read_back(out / "glob")[0] == encoded(["one", "two", "top"], "o200k_base")


# ==== Output layouts ====


def test_idx_offsets_give_each_document_with_its_separator(inputs: Path, out: Path) -> None:
    path = inputs / "lines.txt"
    path.write_text(LINES_TEXT, encoding="utf-8")
    assert run("encode", path, "-o", out / "train", "--split", "line", "--encoding", "cl100k_base", "--quiet") == 0
    documents, sidecar = read_back(out / "train")
    assert sidecar["dtype"] == "uint32"
    assert documents == encoded(LINES, "cl100k_base")
    assert list(tokenfile.read_offsets(out / "train.idx.npy")) == np.load(out / "train.idx.npy").tolist()


@pytest.mark.parametrize(
    ("option", "separator"),
    [
        pytest.param(["--no-eot"], None, id="no-eot"),
        pytest.param(["--separator-token", "198"], 198, id="id"),
        pytest.param(["--separator-token", "<|endoftext|>"], 50256, id="special-token-text"),
    ],
)
def test_separator_options(inputs: Path, out: Path, option: list[str], separator: int | None) -> None:
    path = inputs / "lines.txt"
    path.write_text(LINES_TEXT, encoding="utf-8")
    assert run("encode", path, "-o", out / "train", "--split", "line", "--encoding", ENCODING, *option, "-q") == 0
    documents, sidecar = read_back(out / "train")
    assert documents == encoded(LINES, separator=separator)
    assert sidecar["separator_token"] == separator


@pytest.mark.parametrize("shard_tokens", [1, 7, 20, 10_000])
def test_shards_hold_whole_documents_and_join_to_the_single_file(
    inputs: Path, out: Path, shard_tokens: int, line_reading: str
) -> None:
    path = inputs / "lines.txt"
    path.write_text((LINES_TEXT + "\n") * 5, encoding="utf-8")
    common = [path, "--split", "line", "--encoding", ENCODING, "--quiet"]
    assert run("encode", *common, "-o", out / "single") == 0
    assert run("encode", *common, "-o", out / "train", "--shard-tokens", shard_tokens) == 0
    single, _ = read_back(out / "single")
    shards = sorted(out.glob("train-*.bin"))
    joined: list[list[int]] = []
    for index, shard in enumerate(shards):
        assert shard.name == f"train-{index:05d}.bin"
        documents, sidecar = read_back(shard.with_suffix(""))
        assert sidecar["shard"] == index
        assert documents
        # at most shard_tokens, unless one document alone is longer
        assert sidecar["tokens"] <= shard_tokens or len(documents) == 1
        joined += documents
    assert joined == single
    assert b"".join(shard.read_bytes() for shard in shards) == (out / "single.bin").read_bytes()
    assert not (out / "train.bin").exists()


def test_a_rerun_with_fewer_shards_removes_the_stale_ones(inputs: Path, out: Path) -> None:
    path = inputs / "lines.txt"
    path.write_text(LINES_TEXT, encoding="utf-8")
    assert run("encode", path, "--split", "line", "-o", out / "train", "--shard-tokens", 1, "-q") == 0
    assert len(list(out.glob("train-*.bin"))) == len(LINES)
    assert run("encode", path, "--split", "line", "-o", out / "train", "--shard-tokens", 1000, "-q") == 0
    assert sorted(path.name for path in out.iterdir()) == ["train-00000.bin", "train-00000.idx.npy", "train-00000.json"]


def test_workers_do_not_change_the_output(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, line_reading: str
) -> None:
    path = inputs / "lines.txt"
    path.write_text((LINES_TEXT + "\n") * 200, encoding="utf-8")
    monkeypatch.setattr(cli, "GROUP_BYTES", 1000)
    for workers in ["1", "3"]:
        assert run("encode", path, "--split", "line", "-o", out / workers, "--workers", workers, "-q") == 0
    assert (out / "1.bin").read_bytes() == (out / "3.bin").read_bytes()
    assert (out / "1.idx.npy").read_bytes() == (out / "3.idx.npy").read_bytes()


def test_empty_input_writes_an_empty_token_file(inputs: Path, out: Path, line_reading: str) -> None:
    path = inputs / "blank.txt"
    path.write_text("\n\n", encoding="utf-8")
    assert run("encode", path, "--split", "line", "-o", out / "train", "-q") == 0
    documents, sidecar = read_back(out / "train")
    assert documents == []
    assert (sidecar["documents"], sidecar["tokens"], sidecar["inputs"]) == (0, 0, [])


# ==== decode and count ====


def test_decode_jsonl_gives_back_each_document(inputs: Path, out: Path, capsysbinary: Any) -> None:
    path = write_jsonl(inputs / "data.jsonl", RECORDS)
    assert run("encode", path, "-o", out / "train", "--encoding", "cl100k_base", "-q") == 0
    assert run("decode", out / "train", "--jsonl") == 0  # a prefix, not a .bin path
    lines = capsysbinary.readouterr().out.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"text": record["text"]} for record in RECORDS]


def test_decode_reads_each_shard_back(inputs: Path, out: Path) -> None:
    path = inputs / "lines.txt"
    path.write_text(LINES_TEXT, encoding="utf-8")
    assert run("encode", path, "--split", "line", "-o", out / "train", "--shard-tokens", 5, "--no-eot", "-q") == 0
    texts = []
    for shard in sorted(out.glob("train-*.bin")):
        target = out / (shard.stem + ".txt")
        assert run("decode", shard, "-o", target) == 0
        texts.append(target.read_text(encoding="utf-8"))
    assert "".join(texts) == "".join(LINES)


def test_decode_jsonl_without_offsets_names_the_file(inputs: Path, out: Path, capsys: Any) -> None:
    path = write_jsonl(inputs / "data.jsonl", RECORDS)
    assert run("encode", path, "-o", out / "train", "-q") == 0
    (out / "train.idx.npy").unlink()
    assert run("decode", out / "train.bin", "--jsonl") == 1
    assert "train.idx.npy not found: --jsonl needs the document offsets" in capsys.readouterr().err


def test_count_reads_inputs_like_encode(inputs: Path, capsys: Any, line_reading: str) -> None:
    lines = inputs / "lines.txt.gz"
    lines.write_bytes(gzip.compress(LINES_TEXT.encode("utf-8")))
    records = write_jsonl(inputs / "data.jsonl", RECORDS)
    assert run("count", lines, records, "--split", "line", "--encoding", "cl100k_base") == 0
    counts = [
        sum(len(doc) - 1 for doc in encoded(texts, "cl100k_base")) for texts in (LINES, [r["text"] for r in RECORDS])
    ]
    assert capsys.readouterr().out == f"{lines}\t{counts[0]}\n{records}\t{counts[1]}\ntotal\t{sum(counts)}\n"


# ==== Errors ====


def bad_json(folder: Path) -> Path:
    path = folder / "bad.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "cut\n', encoding="utf-8")
    return path


def parquet_without_text(folder: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"body": ["a"]}), folder / "data.parquet")
    return folder / "data.parquet"


def parquet_with_null(folder: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"text": ["a", "b", None]}), folder / "data.parquet")
    return folder / "data.parquet"


def invalid_utf8_gz(folder: Path) -> Path:
    path = folder / "latin1.txt.gz"
    path.write_bytes(gzip.compress(b"line one\nline two caf\xe9\n"))
    return path


def write(folder: Path, name: str, data: bytes) -> Path:
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize(
    ("make_input", "options", "fragments"),
    [
        pytest.param(bad_json, [], ["bad.jsonl:2: invalid JSON: "], id="invalid-json"),
        pytest.param(
            lambda f: write_jsonl(f / "x.jsonl", [{"text": "a"}, {"body": "b", "id": 2}]),
            [],
            ["x.jsonl:2: no field 'text' (fields: 'body', 'id'); pass --field NAME"],
            id="missing-field",
        ),
        pytest.param(
            lambda f: write_jsonl(f / "x.jsonl", [{"text": 5}]),
            [],
            ["x.jsonl:1: field 'text' is int, not a string"],
            id="field-not-a-string",
        ),
        pytest.param(
            lambda f: write_jsonl(f / "x.jsonl", [["text"]]),
            [],
            ["x.jsonl:1: expected a JSON object with a 'text' field, found list"],
            id="not-an-object",
        ),
        pytest.param(
            invalid_utf8_gz,
            ["--split", "line"],
            ["latin1.txt.gz: invalid UTF-8 at byte 21 (line 2, byte 0xe9)", "--errors replace"],
            id="invalid-utf8-in-gzip",
        ),
        pytest.param(
            lambda f: write(f, "x.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
            [],
            ["x.jsonl: invalid UTF-8 at byte 28 (line 2, byte 0xe9)"],
            id="invalid-utf8-in-json-lines",
        ),
        pytest.param(
            lambda f: write(f, "x.txt.gz", b"not gzip at all"),
            [],
            ["cannot read ", "x.txt.gz"],
            id="corrupt-gzip",
        ),
        pytest.param(
            parquet_without_text,
            [],
            ["data.parquet: no column 'text' (columns: 'body'); pass --column NAME"],
            id="parquet-missing-column",
        ),
        pytest.param(parquet_with_null, [], ["data.parquet: row 2 of column 'text' is null"], id="parquet-null"),
        pytest.param(
            lambda f: write(f, "x.parquet", b"PAR1 but not really"),
            [],
            ["cannot read ", "as Parquet"],
            id="not-parquet",
        ),
        pytest.param(
            lambda f: (f / "empty").mkdir() or f / "empty",
            [],
            ["empty is a folder with no files in it"],
            id="empty-dir",
        ),
        pytest.param(
            lambda f: write(f, "x.txt", b"x"),
            ["--separator-token", "<|nope|>"],
            ["--separator-token '<|nope|>' is not a token of o200k_base"],
            id="bad-separator",
        ),
    ],
)
def test_bad_input_is_an_error_naming_where_and_leaves_no_output(
    inputs: Path,
    out: Path,
    capsys: Any,
    make_input: Callable[[Path], Path],
    options: list[str],
    fragments: list[str],
    line_reading: str,
) -> None:
    good = write(inputs, "good.txt", b"a good document first")
    assert run("encode", good, make_input(inputs), "-o", out / "train", *options) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("shard_tokens", [None, 3])
def test_failure_after_groups_were_written_leaves_nothing_that_looks_complete(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, shard_tokens: int | None
) -> None:
    """Groups of one document: the good files are encoded and written (and shards closed) before the bad one."""
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)
    good = [write(inputs, f"{i}.txt", b"some words here " * 3) for i in range(4)]
    options = [] if shard_tokens is None else ["--shard-tokens", shard_tokens]
    assert run("encode", *good, bad_json(inputs), "-o", out / "train", *options) == 1
    assert list(out.iterdir()) == []


def test_keyboard_interrupt_mid_run_leaves_no_output(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)
    good = [write(inputs, f"{i}.txt", b"some words here") for i in range(6)]
    real_write = tokenfile.TokenFiles.write
    calls = []

    def interrupted_write(self: tokenfile.TokenFiles, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real_write(self, *args)

    monkeypatch.setattr(tokenfile.TokenFiles, "write", interrupted_write)
    assert run("encode", *good, "-o", out / "train", "--shard-tokens", 2) == 130
    assert "bytepair encode: error: interrupted" in capsys.readouterr().err
    assert len(calls) == 4
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("failing_call", [1, 3])
def test_a_write_that_fails_on_the_writer_thread_fails_the_run(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, failing_call: int
) -> None:
    """Batches are written on a thread one step behind the encoding: a full disk on any write, the last one
    included (nothing comes after it to report it), still fails the run and leaves no output."""
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)
    good = [write(inputs, f"{i}.txt", b"some words here") for i in range(3)]
    real_write = tokenfile.TokenFiles.write
    calls = []

    def failing_write(self: tokenfile.TokenFiles, *args: Any) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, *args)

    monkeypatch.setattr(tokenfile.TokenFiles, "write", failing_write)
    assert run("encode", *good, "-o", out / "train") == 1
    assert "No space left on device" in capsys.readouterr().err
    assert calls == ["bytepair-writer"] * failing_call  # none after the failure
    assert list(out.iterdir()) == []


def test_failed_run_keeps_the_previous_complete_output(inputs: Path, out: Path) -> None:
    good = write(inputs, "good.txt", b"first run")
    assert run("encode", good, "-o", out / "train", "-q") == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert len(before) == 3
    assert run("encode", good, bad_json(inputs), "-o", out / "train", "-q") == 1
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--shard-tokens", "-5"], ["--split", "word"]])
def test_bad_option_values_are_usage_errors(inputs: Path, out: Path, argv: list[str], capsys: Any) -> None:
    assert run("encode", write(inputs, "x.txt", b"x"), "-o", out / "train", *argv) == 2
    assert "usage: bytepair encode" in capsys.readouterr().err


# ==== Progress ====


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_shows_rates_on_a_terminal(
    inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, with_tqdm: bool
) -> None:
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import fails: the plain progress line
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(cli, "PROGRESS_INTERVAL", 0)
    monkeypatch.setattr(cli, "GROUP_BYTES", 1)
    paths = [write(inputs, f"{i}.txt", b"words " * 100) for i in range(3)]
    assert run("encode", *paths, "-o", out / "train") == 0
    err = capsys.readouterr().err
    assert "tokens/s" in err
    assert "\r" in err
    assert err.splitlines()[-1].startswith("wrote ")
    assert run("encode", *paths, "-o", out / "quiet", "--quiet") == 0
    assert capsys.readouterr().err == ""


def test_token_files_are_the_same_without_numpy(inputs: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tokenfile shifts offsets with NumPy when it can; the standard-library path must write the same bytes."""
    path = inputs / "lines.txt"
    path.write_text((LINES_TEXT + "\n") * 20, encoding="utf-8")
    monkeypatch.setattr(cli, "GROUP_BYTES", 100)  # several batches per shard and shards across batches
    common = [path, "--split", "line", "--shard-tokens", 50, "-q"]
    assert run("encode", *common, "-o", out / "with") == 0
    monkeypatch.setitem(sys.modules, "numpy", None)  # import fails
    assert run("encode", *common, "-o", out / "without") == 0
    with_numpy = sorted(out.glob("with-*"))
    assert len(with_numpy) > 3
    for one in with_numpy:
        other = out / one.name.replace("with-", "without-")
        assert other.read_bytes() == one.read_bytes() or one.suffix == ".json"
