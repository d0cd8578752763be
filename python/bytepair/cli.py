"""The command line: ``bytepair encode`` turns text files into a token file for training, ``decode`` turns one back
into bytes, ``count`` counts tokens. Standard library only; ``python -m bytepair`` runs the same `main`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import stat
import sys
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from bytepair import __version__
from bytepair.encoding import Encoding
from bytepair.errors import BytepairError, UnknownTokenError
from bytepair.registry import get_encoding, list_encoding_names
from bytepair.special_tokens import ENDOFTEXT

DEFAULT_ENCODING = "o200k_base"
SIDECAR_FORMAT = "bytepair-tokens"
SIDECAR_VERSION = 1
DTYPE_SIZES = {"uint16": 2, "uint32": 4}
ERROR_HANDLERS = ("strict", "replace", "ignore")

# Most input bytes held at once by `encode` and `count`: files are read and encoded a group at a time, so memory
# stays bounded on a corpus of any size while a group of many files still gives `encode_ordinary_batch` documents to
# spread over threads. A single file larger than this is one document, so it is read (and encoded) alone. The
# tokens of a group arrive as lists of Python ints, which dominate memory (a 60 MiB group of English peaked at
# 850 MiB resident with o200k_base, 16 M tokens), so groups are kept to 8 MiB, about 120 MiB resident.
GROUP_BYTES = 8 << 20

# Tokens decoded and written per step by `decode`.
DECODE_CHUNK_TOKENS = 1 << 20

_EXAMPLES_ENCODE = """\
Each FILE is one document (UTF-8 text). Tokens go to PREFIX.bin as a flat
little-endian array: uint16 when every id of the encoding fits (gpt2,
r50k_base, p50k_base), uint32 otherwise. The encoding's end-of-text token
follows each document unless --no-eot. Special-token strings inside the files,
such as <|endoftext|>, are encoded as ordinary text: the only special tokens
in the output are those separators.

PREFIX.json (the sidecar) records the encoding, dtype, byte order,
document/byte/token totals, the end-of-text id used as separator (null if
none), and per input its path, bytes and tokens written (separator included,
so running sums give each document's offset). Both files are written under
temporary names and renamed when complete.

examples:
  bytepair encode benches/corpus/english.txt -o english
  bytepair encode data/*.txt -o data/train --encoding gpt2 --quiet
  python -c "import numpy as np; print(np.memmap('english.bin', dtype=np.uint32, mode='r')[:10])"
"""

_EXAMPLES_DECODE = """\
The encoding and dtype come from the sidecar (PREFIX.json beside PREFIX.bin);
--encoding and --dtype override it, or stand in for it when there is none
(--dtype then defaults to the one `bytepair encode` picks for the encoding).
Output is the exact bytes the tokens stand for, end-of-text separators
included as text.

examples:
  bytepair decode english.bin -o english.txt
  bytepair decode english.bin | head
  bytepair decode train.bin --encoding gpt2 --dtype uint16 -o train.txt
"""

_EXAMPLES_COUNT = """\
Prints one line per file, FILE<TAB>TOKENS, then total<TAB>TOKENS.
Special-token strings count as ordinary text; no end-of-text tokens are
counted.

examples:
  bytepair count benches/corpus/*.txt
  bytepair count README.md --encoding cl100k_base
"""


class _InputError(Exception):
    """A problem with the files the user named: reported as one line on stderr, with exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    0: success; 1: bad input (missing, unreadable or malformed files); 2: bad usage (unknown options or encoding).

    >>> main(["--version"])  # doctest: +ELLIPSIS
    bytepair ...
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # -h, --version and usage errors: argparse has printed what is needed
        return 0 if done.code is None else done.code if isinstance(done.code, int) else 2
    try:
        status: int = args.run(args)
        return status
    except (_InputError, BytepairError) as err:
        _report(args.command, str(err))
    except UnicodeEncodeError as err:  # e.g. printing a file name that is not valid in the terminal's encoding
        _report(args.command, f"cannot write {err.object[err.start : err.end]!r} to {err.encoding}: {err.reason}")
    except BrokenPipeError:
        # The reader went away (`bytepair decode x.bin | head`): not an error; stop Python flushing into it again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        _report(args.command, _describe_os_error(err))
    except KeyboardInterrupt:
        _report(args.command, "interrupted")
        return 130
    return 1


def _report(command: str, message: str) -> None:
    print(f"bytepair {command}: error: {message}", file=sys.stderr)


def _describe_os_error(err: OSError) -> str:
    if err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    return str(err)


# ==== Arguments ====


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="bytepair",
        description="Tokenize text files with a bundled byte-level BPE encoding (tiktoken-compatible ids).",
        epilog="run `bytepair COMMAND -h` for a command's options and examples; "
        f"encodings: {', '.join(list_encoding_names())}",
    )
    parser.add_argument("--version", action="version", version=f"bytepair {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    encode = commands.add_parser(
        "encode",
        help="write the tokens of text files to PREFIX.bin, with a PREFIX.json sidecar",
        description="Write the tokens of text files to PREFIX.bin, with a PREFIX.json sidecar describing them.",
        epilog=_EXAMPLES_ENCODE,
        formatter_class=raw,
    )
    encode.add_argument("files", nargs="+", type=Path, metavar="FILE", help="text files, one document each")
    encode.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PREFIX",
        help="write PREFIX.bin and PREFIX.json (a trailing .bin in PREFIX is dropped); the folder must exist",
    )
    _add_encoding_option(encode, default=DEFAULT_ENCODING)
    encode.add_argument("--no-eot", action="store_true", help="do not write an end-of-text token after each document")
    _add_errors_option(encode)
    encode.add_argument("-q", "--quiet", action="store_true", help="do not print the summary line to stderr")
    encode.set_defaults(run=_encode)

    decode = commands.add_parser(
        "decode",
        help="write the bytes that a token file stands for",
        description="Write the bytes that the tokens in a .bin file stand for, to stdout or OUT.",
        epilog=_EXAMPLES_DECODE,
        formatter_class=raw,
    )
    decode.add_argument("file", type=Path, metavar="PREFIX.bin", help="a token file written by `bytepair encode`")
    decode.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT instead of stdout")
    _add_encoding_option(decode, default=None)
    decode.add_argument("--dtype", choices=sorted(DTYPE_SIZES), help="the token width (default: from the sidecar)")
    decode.set_defaults(run=_decode)

    count = commands.add_parser(
        "count",
        help="print the number of tokens in each file and in total",
        description="Print the number of tokens in each text file and in total.",
        epilog=_EXAMPLES_COUNT,
        formatter_class=raw,
    )
    count.add_argument("files", nargs="+", type=Path, metavar="FILE", help="text files")
    _add_encoding_option(count, default=DEFAULT_ENCODING)
    _add_errors_option(count)
    count.set_defaults(run=_count)
    return parser


def _add_encoding_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    where = f"default: {default}" if default else "default: from the sidecar"
    parser.add_argument(
        "--encoding",
        type=_encoding_name,
        default=default,
        metavar="NAME",
        help=f"the encoding ({where}); one of: {', '.join(list_encoding_names())}",
    )


def _add_errors_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--errors",
        choices=ERROR_HANDLERS,
        default="strict",
        help="what to do with bytes that are not valid UTF-8: stop with an error naming the file and offset "
        "(strict, the default), read each as U+FFFD (replace) or drop them (ignore)",
    )


def _encoding_name(name: str) -> str:
    # Checked here, not by get_encoding later, so an unknown name is a usage error (status 2) with the usage line.
    available = list_encoding_names()
    if name not in available:
        raise argparse.ArgumentTypeError(f"unknown encoding {name!r}; available: {', '.join(available)}")
    return name


# ==== Commands ====


def _encode(args: argparse.Namespace) -> int:
    encoding = get_encoding(args.encoding)
    sizes = [_input_size(path) for path in args.files]
    bin_path, json_path = _output_paths(args.output)
    dtype = dtype_for(encoding)
    eot = None if args.no_eot else _eot_token(encoding)
    inputs: list[dict[str, Any]] = []
    with _staged(bin_path, json_path) as (bin_temp, json_temp):
        with open(bin_temp, "xb") as out:
            for path, size, tokens in _encode_files(encoding, args.files, sizes, args.errors):
                if eot is not None:
                    tokens.append(eot)
                _write_tokens(out, tokens, dtype)
                inputs.append({"path": str(path), "bytes": size, "tokens": len(tokens)})
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "encoding": encoding.name,
            "dtype": dtype,
            "byteorder": "little",
            "documents": len(inputs),
            "bytes": sum(one["bytes"] for one in inputs),
            "tokens": sum(one["tokens"] for one in inputs),
            "eot_token": eot,
            "inputs": inputs,
        }
        with open(json_temp, "x", encoding="utf-8") as out_json:
            json.dump(sidecar, out_json, indent=2)
            out_json.write("\n")
    if not args.quiet:
        documents = len(inputs)
        print(
            f"wrote {sidecar['tokens']} tokens from {documents} document{'' if documents == 1 else 's'} "
            f"({sidecar['bytes']} bytes) to {bin_path} ({dtype})",
            file=sys.stderr,
        )
    return 0


def _decode(args: argparse.Namespace) -> int:
    bin_path: Path = args.file
    size = _input_size(bin_path)
    sidecar_path = _sidecar_for(bin_path)
    sidecar = _read_sidecar(sidecar_path) if sidecar_path.exists() else None
    if sidecar is None and args.encoding is None:
        raise _InputError(
            f"{sidecar_path} not found: it says which encoding and dtype {bin_path} uses; keep it beside the .bin "
            "file, or pass --encoding NAME (and --dtype if the file was not written by `bytepair encode`)"
        )
    encoding = get_encoding(args.encoding or sidecar["encoding"]) if sidecar else get_encoding(args.encoding)
    dtype = args.dtype or (sidecar["dtype"] if sidecar else dtype_for(encoding))
    width = DTYPE_SIZES[dtype]
    if size % width:
        raise _InputError(
            f"{bin_path} is {size} bytes, not a multiple of {width} ({dtype}): the file is truncated, "
            "or its dtype is not " + dtype
        )
    if sidecar is not None and dtype == sidecar["dtype"] and size // width != sidecar["tokens"]:
        raise _InputError(
            f"{bin_path} holds {size // width} tokens but {sidecar_path} says {sidecar['tokens']}: "
            "the file is truncated or does not belong to this sidecar"
        )
    with open(bin_path, "rb") as tokens_in:
        if args.output is None:
            stdout = getattr(sys.stdout, "buffer", None)
            if stdout is None:
                raise _InputError("stdout here takes text, not bytes; pass -o OUT")
            sys.stdout.flush()
            _decode_into(stdout, tokens_in, encoding, dtype, bin_path)
            stdout.flush()
        else:
            _output_folder(args.output)
            with _staged(args.output) as (temp,), open(temp, "xb") as out:
                _decode_into(out, tokens_in, encoding, dtype, bin_path)
    return 0


def _count(args: argparse.Namespace) -> int:
    encoding = get_encoding(args.encoding)
    sizes = [_input_size(path) for path in args.files]
    total = 0
    for path, _size, tokens in _encode_files(encoding, args.files, sizes, args.errors):
        print(f"{path}\t{len(tokens)}", flush=True)
        total += len(tokens)
    print(f"total\t{total}")
    return 0


# ==== Token files ====


def dtype_for(encoding: Encoding) -> str:
    """The narrowest dtype that holds every id of ``encoding``: ``"uint16"`` up to 65536 ids, else ``"uint32"``.

    >>> import bytepair
    >>> dtype_for(bytepair.get_encoding("gpt2")), dtype_for(bytepair.get_encoding("cl100k_base"))
    ('uint16', 'uint32')
    """
    return "uint16" if encoding.n_vocab <= 1 << 16 else "uint32"


def _typecode(dtype: str) -> str:
    width = DTYPE_SIZES[dtype]
    # `array` sizes its codes by the C types; "H" is 2 bytes and "I" 4 on every platform CPython supports, but look.
    return next(code for code in "HIL" if array(code).itemsize == width)


def _write_tokens(out: BinaryIO, tokens: list[int], dtype: str) -> None:
    packed = array(_typecode(dtype), tokens)
    if sys.byteorder == "big":
        packed.byteswap()
    out.write(packed.tobytes())


def _decode_into(out: BinaryIO, tokens_in: BinaryIO, encoding: Encoding, dtype: str, bin_path: Path) -> None:
    typecode = _typecode(dtype)
    while chunk := tokens_in.read(DECODE_CHUNK_TOKENS * DTYPE_SIZES[dtype]):
        tokens = array(typecode, chunk)
        if sys.byteorder == "big":
            tokens.byteswap()
        try:
            # A list crosses into Rust faster than an array (measured: 0.33 s vs 0.76 s per million tokens).
            out.write(encoding.decode_bytes(tokens.tolist()))
        except UnknownTokenError as err:
            raise _InputError(
                f"{bin_path}: {err}, which {encoding.name} does not have; check --encoding and --dtype"
            ) from None


def _eot_token(encoding: Encoding) -> int | None:
    return encoding.eot_token if ENDOFTEXT in encoding.special_tokens_set else None


def _sidecar_for(bin_path: Path) -> Path:
    if bin_path.suffix == ".bin":
        return bin_path.with_suffix(".json")
    return bin_path.with_name(bin_path.name + ".json")


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        sidecar = json.loads(path.read_bytes())
    except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _InputError(f"cannot read the sidecar {path}: {err}") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != SIDECAR_FORMAT:
        raise _InputError(f'{path} is not a bytepair sidecar (it lacks "format": "{SIDECAR_FORMAT}")')
    if sidecar.get("version") != SIDECAR_VERSION:
        raise _InputError(
            f"{path} has version {sidecar.get('version')!r}; this bytepair reads version {SIDECAR_VERSION}"
        )
    expected = {"encoding": str, "dtype": str, "byteorder": str, "tokens": int}
    wrong = [key for key, kind in expected.items() if not isinstance(sidecar.get(key), kind)]
    if wrong or sidecar["dtype"] not in DTYPE_SIZES or sidecar["byteorder"] != "little":
        raise _InputError(
            f"{path} is malformed: needs a string encoding, dtype uint16 or uint32, byteorder little "
            f"and an integer tokens count (found {', '.join(f'{key}={sidecar.get(key)!r}' for key in expected)})"
        )
    return sidecar


# ==== Input and output files ====


def _input_size(path: Path) -> int:
    """The size of a file to read, checked before any work starts so that a typo fails at once."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise _InputError(f"{path}: no such file") from None
    except OSError as err:
        raise _InputError(f"cannot read {path}: {err.strerror or err}") from None
    if stat.S_ISDIR(status.st_mode):
        raise _InputError(f"{path} is a directory; name the files in it instead (e.g. {path / '*.txt'})")
    return status.st_size


def _read_text(path: Path, errors: str) -> tuple[int, str]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise _InputError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return len(data), data.decode("utf-8", errors)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise _InputError(
            f"{path}: invalid UTF-8 at byte {err.start} (line {line}, byte {data[err.start]:#04x}); "
            "pass --errors replace to read such bytes as U+FFFD, or --errors ignore to drop them"
        ) from None


def _encode_files(
    encoding: Encoding, paths: Sequence[Path], sizes: Sequence[int], errors: str
) -> Iterator[tuple[Path, int, list[int]]]:
    """Each file's path, size in bytes and tokens, in order, reading and encoding up to `GROUP_BYTES` at a time."""
    group: list[Path] = []
    held = 0
    for path, size in zip(paths, sizes):
        if group and held + size > GROUP_BYTES:
            yield from _encode_group(encoding, group, errors)
            group, held = [], 0
        group.append(path)
        held += size
    if group:
        yield from _encode_group(encoding, group, errors)


def _encode_group(encoding: Encoding, paths: list[Path], errors: str) -> Iterator[tuple[Path, int, list[int]]]:
    sizes, texts = zip(*(_read_text(path, errors) for path in paths))
    batch = encoding.encode_ordinary_batch(list(texts))
    del texts
    yield from zip(paths, sizes, batch)


def _output_paths(prefix: str) -> tuple[Path, Path]:
    base = Path(prefix[: -len(".bin")] if prefix.endswith(".bin") else prefix)
    if base.name in ("", ".", ".."):
        raise _InputError(f"-o {prefix!r} has no file name; give a prefix such as data/train")
    _output_folder(base)
    return base.with_name(base.name + ".bin"), base.with_name(base.name + ".json")


def _output_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise _InputError(f"output folder {path.parent} does not exist; create it first")


@contextlib.contextmanager
def _staged(*targets: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``: renamed onto them in order if the block succeeds, removed if it fails.

    With several targets, the last is absent until its own rename (a stale one is removed first), so a reader that
    needs it, as `decode` needs the sidecar, never pairs it with data from an interrupted or failed run.
    """
    temps = [target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial") for target in targets]
    try:
        yield temps
        if len(targets) > 1:
            with contextlib.suppress(FileNotFoundError):
                os.remove(targets[-1])
        for temp, target in zip(temps, targets):
            os.replace(temp, target)
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                os.remove(temp)
        raise
