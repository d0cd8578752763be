"""Reading and writing vocab files from local paths: `load_tiktoken_bpe`, `dump_tiktoken_bpe`, and
`data_gym_to_mergeable_bpe_ranks` for GPT-2's original `encoder.json` + `vocab.bpe`.

Same names and arguments as `tiktoken.load` (`read_file` and `read_file_cached` too), but nothing is ever downloaded:
a URL is an error that says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Union

from bytepair import _core
from bytepair.errors import VocabFileError

PathLike = Union[str, "os.PathLike[str]"]


def read_file(blobpath: PathLike) -> bytes:
    """The bytes of a local file; URLs are refused (bytepair never downloads)."""
    text = os.fspath(blobpath)
    if "://" in text:
        raise VocabFileError(
            f"{text!r} is a URL, and bytepair never downloads; download the file yourself and pass its local path"
        )
    try:
        return Path(text).read_bytes()
    except FileNotFoundError:
        raise VocabFileError(f"vocab file {text!r} does not exist") from None


def read_file_cached(blobpath: PathLike, expected_hash: str | None = None) -> bytes:
    """The bytes of a local file, checked against the sha256 ``expected_hash`` (hex) when one is given: tiktoken's
    call of that name, which downloads and caches a URL, with nothing to download or cache (URLs are refused)."""
    return _read_checked(blobpath, expected_hash)


def check_hash(data: bytes, expected_hash: str) -> bool:
    """Whether ``data`` has the sha256 ``expected_hash`` (hex)."""
    return hashlib.sha256(data).hexdigest() == expected_hash


def _read_checked(path: PathLike, expected_hash: str | None) -> bytes:
    data = read_file(path)
    if expected_hash is not None and not check_hash(data, expected_hash):
        raise VocabFileError(
            f"{os.fspath(path)!r} has sha256 {hashlib.sha256(data).hexdigest()}, expected {expected_hash}; "
            "the file is not the one expected (corrupted or a different version)"
        )
    return data


def load_tiktoken_bpe(tiktoken_bpe_file: PathLike, expected_hash: str | None = None) -> dict[bytes, int]:
    """Read a ``.tiktoken`` rank file (``<base64 token> <rank>`` per line) into ``{token bytes: rank}``.

    Malformed lines, duplicate tokens or ranks, and a sha256 other than ``expected_hash`` raise
    `VocabFileError` (a ``ValueError``) naming the file and line.
    """
    data = _read_checked(tiktoken_bpe_file, expected_hash)
    try:
        return _core.parse_rank_file(data)
    except VocabFileError as err:
        raise VocabFileError(f"{os.fspath(tiktoken_bpe_file)}: {err}") from err


def dump_tiktoken_bpe(bpe_ranks: dict[bytes, int], tiktoken_bpe_file: PathLike) -> None:
    """Write ``{token bytes: rank}`` as a ``.tiktoken`` rank file, in rank order (written to a temporary name, then
    renamed, so an interrupted write never leaves a truncated file)."""
    target = Path(os.fspath(tiktoken_bpe_file))
    lines = (
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(bpe_ranks.items(), key=lambda item: item[1])
    )
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        out.writelines(lines)
    os.replace(partial, target)


def data_gym_to_mergeable_bpe_ranks(
    vocab_bpe_file: PathLike,
    encoder_json_file: PathLike,
    vocab_bpe_hash: str | None = None,
    encoder_json_hash: str | None = None,
    clobber_one_byte_tokens: bool = False,
) -> dict[bytes, int]:
    """Convert GPT-2's ``vocab.bpe`` (merges) and ``encoder.json`` (token -> id) into mergeable ranks.

    The two files must agree: each merge's rank must be the id ``encoder.json`` gives its token.
    """
    # GPT-2 writes each byte as a printable character: printable Latin-1 bytes stand for themselves, the others
    # (and space) for the characters from U+0100 up, in byte order.
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    byte_of_char = {chr(b): b for b in printable}
    rank_to_byte = list(printable)
    for b in range(256):
        if b not in byte_of_char.values():
            byte_of_char[chr(256 + len(rank_to_byte) - len(printable))] = b
            rank_to_byte.append(b)

    def to_bytes(symbol: str) -> bytes:
        try:
            return bytes(byte_of_char[char] for char in symbol)
        except KeyError as err:
            raise VocabFileError(f"{os.fspath(vocab_bpe_file)}: {symbol!r} is not in GPT-2's byte alphabet") from err

    ranks = {bytes([b]): rank for rank, b in enumerate(rank_to_byte)}
    merges_text = _read_checked(vocab_bpe_file, vocab_bpe_hash).decode("utf-8")
    for line_number, line in enumerate(merges_text.split("\n")[1:-1], start=2):
        parts = line.split()
        if len(parts) != 2:
            raise VocabFileError(
                f"{os.fspath(vocab_bpe_file)}: line {line_number}: expected two symbols, found {line!r}"
            )
        ranks[to_bytes(parts[0]) + to_bytes(parts[1])] = len(ranks)

    encoder = json.loads(_read_checked(encoder_json_file, encoder_json_hash))
    from_encoder = {to_bytes(token): rank for token, rank in encoder.items()}
    # Special tokens are not mergeable.
    from_encoder.pop(b"<|endoftext|>", None)
    from_encoder.pop(b"<|startoftext|>", None)
    if clobber_one_byte_tokens:
        for token, rank in from_encoder.items():
            if len(token) == 1:
                ranks[token] = rank
    if ranks != from_encoder:
        differing = sorted(set(ranks.items()) ^ set(from_encoder.items()), key=lambda item: item[1])[:3]
        raise VocabFileError(
            f"{os.fspath(encoder_json_file)} and {os.fspath(vocab_bpe_file)} disagree "
            f"(merge rank != encoder id), e.g. {differing}"
        )
    return ranks
