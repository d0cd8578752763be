"""The command line: ``bytepair encode`` turns corpora (text, JSON Lines, Parquet; files, folders, globs; compressed
or not) into token files for training, ``decode`` turns one back into text, ``count`` counts tokens. Standard
library only (pyarrow for Parquet, zstandard for .zst, tqdm for a nicer progress bar when installed);
``python -m bytepair`` runs the same `main`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import queue
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bytepair import __version__
from bytepair.corpus import (
    FORMATS,
    SPLITS,
    InputError,
    Source,
    check_utf8,
    find_sources,
    line_chunks,
    read_documents,
)
from bytepair.encoding import Encoding
from bytepair.errors import BytepairError, UnknownTokenError
from bytepair.registry import get_encoding, list_encoding_names
from bytepair.special_tokens import ENDOFTEXT
from bytepair.tokenfile import DTYPE_SIZES, SIDECAR_FORMAT, SIDECAR_VERSION, TokenFiles, read_offsets, staged

DEFAULT_ENCODING = "o200k_base"
ERROR_HANDLERS = ("strict", "replace", "ignore")

# Most text held in one group: documents are read and encoded a group at a time (one native batch over every
# thread), so memory stays bounded on a corpus of any size; a reader thread prepares the next group while the
# current one is encoded, so at most about three groups (text, its UTF-8 copy for the core, and its tokens) are
# alive at once: measured 367 MB peak RSS encoding 2.1 GB of one-line documents (46 M of them) with cl100k_base,
# 352 MB on a tenth of that.
# A single document larger than this is a group of its own (so `--split file` holds each whole file).
GROUP_BYTES = 16 << 20
# The first group is smaller, and each next one twice as large up to GROUP_BYTES, so that encoding starts soon and
# overlaps reading even on an input of a few MiB.
FIRST_GROUP_BYTES = 1 << 20

# Tokens decoded and written per step by `decode`.
DECODE_CHUNK_TOKENS = 1 << 20

# Seconds between updates of the progress line.
PROGRESS_INTERVAL = 0.5

_EXAMPLES_ENCODE = """\
INPUT may be a file, a folder (its files, recursively, hidden ones skipped) or
a glob ("data/**/*.jsonl.gz", quoted so the shell leaves it alone). Files
ending in .gz, .bz2, .xz or .zst (with the zstandard package) are
decompressed. Formats come from the extension: .jsonl/.ndjson are JSON Lines
(the string --field of each line's object is a document), .parquet is
Parquet (the string --column; needs pyarrow), anything else is UTF-8 text cut
into documents by --split: the whole file (file, the default), each non-empty
line without its line ending (line), or each block of lines between blank
lines (blank).

Outputs, for training loaders:
  PREFIX.bin      the tokens, flat little-endian: uint16 when every id of the
                  encoding fits (gpt2, r50k_base, p50k_base), uint32 otherwise;
                  the encoding's end-of-text token follows each document
                  (--no-eot: none; --separator-token: another)
  PREFIX.idx.npy  int64 offsets, one more than there are documents: document i
                  is bin[idx[i]:idx[i+1]], its separator included; idx[-1] is
                  the token count
  PREFIX.json     the sidecar: encoding, dtype, byte order, separator, counts
                  of documents, bytes (UTF-8 text encoded) and tokens, and per
                  input the same counts
With --shard-tokens N they are PREFIX-00000.bin, PREFIX-00000.idx.npy,
PREFIX-00000.json, ... each of at most N tokens (documents are never split).
Everything is written under temporary names and renamed only when the whole
run succeeds: a failed or interrupted run leaves no output that looks complete.
Special-token strings inside the inputs, such as <|endoftext|>, are encoded as
ordinary text: the only special tokens in the output are the separators.

examples:
  bytepair encode benches/corpus/english.txt -o english
  bytepair encode data/ -o data/train --encoding gpt2 --split blank
  bytepair encode "shards/*.jsonl.zst" --field content -o train --shard-tokens 100000000
  python -c "import numpy as np; print(np.memmap('english.bin', dtype=np.uint32, mode='r')[:10])"
"""

_EXAMPLES_DECODE = """\
FILE is PREFIX.bin or PREFIX. The encoding and dtype come from the sidecar
(PREFIX.json beside PREFIX.bin); --encoding and --dtype override it, or stand
in for it when there is none (--dtype then defaults to the one `bytepair
encode` picks for the encoding). Output is the exact bytes the tokens stand
for, separators included as text; with --jsonl, one JSON object
{"text": ...} per document (read from PREFIX.idx.npy), separator dropped.

examples:
  bytepair decode english.bin -o english.txt
  bytepair decode english | head
  bytepair decode train-00003 --jsonl -o train-00003.jsonl
  bytepair decode train.bin --encoding gpt2 --dtype uint16 -o train.txt
"""

_EXAMPLES_COUNT = """\
Reads inputs as `bytepair encode` does (same --split, --field, --errors).
Prints one line per input, INPUT<TAB>TOKENS, then total<TAB>TOKENS.
Special-token strings count as ordinary text; no end-of-text tokens are
counted.

examples:
  bytepair count benches/corpus/*.txt
  bytepair count README.md --encoding cl100k_base
  bytepair count data/ --split line
"""


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
    except (InputError, BytepairError) as err:
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
        description="Tokenize corpora with a bundled byte-level BPE encoding (tiktoken-compatible ids).",
        epilog="run `bytepair COMMAND -h` for a command's options and examples; "
        f"encodings: {', '.join(list_encoding_names())}",
    )
    parser.add_argument("--version", action="version", version=f"bytepair {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    encode = commands.add_parser(
        "encode",
        help="write the tokens of a corpus to PREFIX.bin, with PREFIX.idx.npy offsets and a PREFIX.json sidecar",
        description="Write the tokens of a corpus to PREFIX.bin, with document offsets in PREFIX.idx.npy and a "
        "PREFIX.json sidecar describing them.",
        epilog=_EXAMPLES_ENCODE,
        formatter_class=raw,
    )
    _add_input_options(encode)
    encode.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PREFIX",
        help="write PREFIX.bin, PREFIX.idx.npy and PREFIX.json (a trailing .bin in PREFIX is dropped); "
        "the folder must exist",
    )
    separator = encode.add_mutually_exclusive_group()
    separator.add_argument(
        "--eot",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the encoding's end-of-text token after each document (default: --eot)",
    )
    separator.add_argument(
        "--separator-token",
        metavar="TOKEN",
        help="write this token after each document instead: an id, or a special token such as '<|endoftext|>'",
    )
    encode.add_argument(
        "--shard-tokens",
        type=_positive_int,
        metavar="N",
        help="split the output into PREFIX-00000.bin, PREFIX-00001.bin, ... of at most N tokens each",
    )
    encode.add_argument("-q", "--quiet", action="store_true", help="print neither progress nor the summary line")
    encode.set_defaults(run=_encode)

    decode = commands.add_parser(
        "decode",
        help="write the text that a token file stands for",
        description="Write the bytes that the tokens in a .bin file stand for, to stdout or OUT.",
        epilog=_EXAMPLES_DECODE,
        formatter_class=raw,
    )
    decode.add_argument("file", type=Path, metavar="FILE", help="PREFIX.bin (or PREFIX) written by `bytepair encode`")
    decode.add_argument("-o", "--output", type=Path, metavar="OUT", help="write to OUT instead of stdout")
    _add_encoding_option(decode, default=None)
    decode.add_argument("--dtype", choices=sorted(DTYPE_SIZES), help="the token width (default: from the sidecar)")
    decode.add_argument(
        "--jsonl",
        action="store_true",
        help='write one JSON object {"text": ...} per document, using PREFIX.idx.npy (separators dropped)',
    )
    decode.set_defaults(run=_decode)

    count = commands.add_parser(
        "count",
        help="print the number of tokens in each input and in total",
        description="Print the number of tokens in each input and in total.",
        epilog=_EXAMPLES_COUNT,
        formatter_class=raw,
    )
    _add_input_options(count)
    count.set_defaults(run=_count)
    return parser


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    _add_encoding_option(parser, default=DEFAULT_ENCODING)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="how to read every input (default: auto, from each file's extension)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="file",
        help="text inputs: one document per file (the default), per non-empty line, or per blank-line-separated block",
    )
    parser.add_argument(
        "--field",
        "--column",
        default="text",
        metavar="NAME",
        help="JSON Lines field / Parquet column that holds each document's text (default: text)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="threads that encode (default: the CPUs this process may use)",
    )
    parser.add_argument(
        "--errors",
        choices=ERROR_HANDLERS,
        default="strict",
        help="what to do with bytes that are not valid UTF-8: stop with an error naming the file and offset "
        "(strict, the default), read each as U+FFFD (replace) or drop them (ignore)",
    )


def _add_encoding_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    where = f"default: {default}" if default else "default: from the sidecar"
    parser.add_argument(
        "--encoding",
        type=_encoding_name,
        default=default,
        metavar="NAME",
        help=f"the encoding ({where}); one of: {', '.join(list_encoding_names())}",
    )


def _encoding_name(name: str) -> str:
    # Checked here, not by get_encoding later, so an unknown name is a usage error (status 2) with the usage line.
    available = list_encoding_names()
    if name not in available:
        raise argparse.ArgumentTypeError(f"unknown encoding {name!r}; available: {', '.join(available)}")
    return name


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ==== Commands ====


def _encode(args: argparse.Namespace) -> int:
    encoding = get_encoding(args.encoding)
    sources = find_sources(args.inputs, args.format)
    prefix = _output_prefix(args.output)
    dtype = dtype_for(encoding)
    separator = _separator(encoding, args.eot, args.separator_token)
    metadata = {"encoding": encoding.name, "separator_token": separator}
    progress = _Progress(quiet=args.quiet)
    width = DTYPE_SIZES[dtype]
    with TokenFiles(prefix, dtype, metadata, args.shard_tokens) as files, _behind(files.write) as write:
        for group in _prefetch(_encode_groups(sources, args.split, args.errors, args.field)):
            if isinstance(group, _Lines):
                tokens, offsets, sizes = group.encode(encoding, args.workers, separator, width)
                segments = [(str(group.path), len(sizes))]
            else:
                texts, segments, sizes = group
                tokens, offsets = encoding._encode_batch_flat(
                    texts, disallowed_special=(), num_threads=args.workers, separator=separator, width=width
                )
                del texts
            write(tokens, _int64s(offsets), segments, sizes)
            progress.update(sum(sizes), len(tokens) // width)
    progress.close()
    if not args.quiet:
        sidecars = files.sidecars
        documents = sum(one["documents"] for one in sidecars)
        shards = len(sidecars)
        where = (
            f"{prefix}.bin"
            if args.shard_tokens is None
            else f"{shards} shard{'' if shards == 1 else 's'} {prefix}-NNNNN.bin"
        )
        print(
            f"wrote {sum(one['tokens'] for one in sidecars)} tokens from {documents} "
            f"document{'' if documents == 1 else 's'} ({sum(one['bytes'] for one in sidecars)} bytes) "
            f"to {where} ({dtype}) {progress.rates()}",
            file=sys.stderr,
        )
    return 0


def _decode(args: argparse.Namespace) -> int:
    bin_path = _bin_path(args.file)
    size = _file_size(bin_path)
    sidecar_path = _sidecar_for(bin_path)
    sidecar = _read_sidecar(sidecar_path) if sidecar_path.exists() else None
    if sidecar is None and args.encoding is None:
        raise InputError(
            f"{sidecar_path} not found: it says which encoding and dtype {bin_path} uses; keep it beside the .bin "
            "file, or pass --encoding NAME (and --dtype if the file was not written by `bytepair encode`)"
        )
    encoding = get_encoding(args.encoding or sidecar["encoding"]) if sidecar else get_encoding(args.encoding)
    dtype = args.dtype or (sidecar["dtype"] if sidecar else dtype_for(encoding))
    width = DTYPE_SIZES[dtype]
    if size % width:
        raise InputError(
            f"{bin_path} is {size} bytes, not a multiple of {width} ({dtype}): the file is truncated, "
            "or its dtype is not " + dtype
        )
    if sidecar is not None and dtype == sidecar["dtype"] and size // width != sidecar["tokens"]:
        raise InputError(
            f"{bin_path} holds {size // width} tokens but {sidecar_path} says {sidecar['tokens']}: "
            "the file is truncated or does not belong to this sidecar"
        )
    offsets = _document_offsets(bin_path, size // width) if args.jsonl else None
    separator = sidecar.get("separator_token") if sidecar else None
    with open(bin_path, "rb") as tokens_in:
        if args.output is None:
            stdout = getattr(sys.stdout, "buffer", None)
            if stdout is None:
                raise InputError("stdout here takes text, not bytes; pass -o OUT")
            sys.stdout.flush()
            _decode_into(stdout, tokens_in, encoding, dtype, bin_path, offsets, separator)
            stdout.flush()
        else:
            _output_folder(args.output)
            with staged(args.output) as (temp,), open(temp, "xb") as out:
                _decode_into(out, tokens_in, encoding, dtype, bin_path, offsets, separator)
    return 0


def _count(args: argparse.Namespace) -> int:
    encoding = get_encoding(args.encoding)
    sources = find_sources(args.inputs, args.format)
    totals = dict.fromkeys((str(source.path) for source in sources), 0)
    for group in _prefetch(_encode_groups(sources, args.split, args.errors, args.field)):
        if isinstance(group, _Lines):
            tokens, _offsets, _sizes = group.encode(encoding, args.workers, None, 4)
            totals[str(group.path)] += len(tokens) // 4
            continue
        texts, segments, _sizes = group
        counts = encoding.count_tokens_batch(texts, disallowed_special=(), num_threads=args.workers)
        first = 0
        for origin, documents in segments:
            totals[origin] += sum(counts[first : first + documents])
            first += documents
    for path, total in totals.items():
        print(f"{path}\t{total}")
    print(f"total\t{sum(totals.values())}")
    return 0


# ==== Reading inputs ====


@dataclass
class _Lines:
    """A chunk of a text file read one document per line, whose lines Rust splits, checks and encodes: for ``--split
    line`` with strict UTF-8 this skips a Python string per line, and decoding, splitting and measuring them in
    Python (measured on the 6 MB multilingual sample: about 0.09 s of the reader thread's time)."""

    path: Path
    head: bytes  # the chunk is head + data[:cut] (see `line_chunks`)
    data: bytes
    cut: int
    offset: int

    def encode(
        self, encoding: Encoding, workers: int | None, separator: int | None, width: int
    ) -> tuple[bytearray, bytearray, array[int]]:
        try:
            tokens, offsets, sizes = encoding._encode_lines_flat(
                self.head, self.data, self.cut, num_threads=workers, separator=separator, width=width
            )
        except ValueError:
            check_utf8(self.path, self.head + self.data[: self.cut], self.offset)
            raise
        return tokens, offsets, _int64s(sizes)


def _encode_groups(
    sources: Sequence[Source], split: str, errors: str, field: str
) -> Iterator[tuple[list[str], list[tuple[str, int]], list[int]] | _Lines]:
    """`_groups`, except that a text file of at least `FIRST_GROUP_BYTES` on disk read line by line in strict UTF-8
    comes as `_Lines` chunks (doubling from `FIRST_GROUP_BYTES` to `GROUP_BYTES`). Smaller files stay grouped in
    Python: one Rust call each would start its threads once per file."""

    def native(source: Source) -> bool:
        return (
            split == "line"
            and errors == "strict"
            and source.format == "text"
            and _file_size(source.path) >= FIRST_GROUP_BYTES
        )

    for is_native, run in itertools.groupby(sources, key=native):
        if not is_native:
            yield from _groups(list(run), split, errors, field)
            continue
        for source in run:
            chunk_sizes = itertools.chain(_doubling(FIRST_GROUP_BYTES), itertools.repeat(GROUP_BYTES))
            for head, data, cut, offset in line_chunks(source, chunk_sizes):
                yield _Lines(source.path, head, data, cut, offset)


def _groups(
    sources: Sequence[Source], split: str, errors: str, field: str
) -> Iterator[tuple[list[str], list[tuple[str, int]], list[int]]]:
    """Groups of about `GROUP_BYTES` of documents: their texts, (input, document count) for each run of documents
    from one input, and each document's UTF-8 size."""
    texts: list[str] = []
    segments: list[tuple[str, int]] = []
    sizes: list[int] = []
    held = 0
    limit = min(FIRST_GROUP_BYTES, GROUP_BYTES)
    for source in sources:
        origin = str(source.path)
        for documents in read_documents(source, split, errors, field):
            # An ASCII str is its own UTF-8; only other text needs encoding to be measured.
            measured = [len(text) if text.isascii() else len(text.encode("utf-8")) for text in documents]
            texts += documents
            sizes += measured
            segments.append((origin, len(documents)))
            held += sum(measured)
            if held >= limit:
                yield texts, segments, sizes
                texts, segments, sizes, held = [], [], [], 0
                limit = min(2 * limit, GROUP_BYTES)
    if texts:
        yield texts, segments, sizes


def _doubling(first: int) -> Iterator[int]:
    """``first``, twice ``first``, ... up to `GROUP_BYTES`."""
    size = first
    while size < GROUP_BYTES:
        yield size
        size *= 2


def _prefetch(items: Iterable[Any]) -> Iterator[Any]:
    """``items``, produced one ahead on a reader thread, so reading the next group overlaps encoding this one (the
    encoder releases the GIL). The reader's exceptions come out here, in order."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((False, None))
        except BaseException as err:  # handed to the consumer, which raises it
            ready.put((False, err))

    reader = threading.Thread(target=produce, name="bytepair-reader", daemon=True)
    reader.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            ready.get_nowait()
        reader.join()


@contextlib.contextmanager
def _behind(write: Callable[..., None]) -> Iterator[Callable[..., None]]:
    """``write``, run on a writer thread one call behind its caller, so that writing a batch to disk overlaps
    encoding the next one (both release the GIL; on 2 cores, writing a batch took about two thirds of the time of
    encoding it on both, and more cores only shorten the encoding). A write's exception comes out of the next call
    or at the end of the block; an exception in the block stops the writer (the batches still queued are dropped)
    before it goes on."""
    pending: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=1)
    failed: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        while (item := pending.get()) is not None:
            if failed or stop.is_set():
                continue  # keep taking items, so that the caller never waits on a full queue
            try:
                write(*item)
            except BaseException as err:  # handed to the caller, which raises it
                failed.append(err)

    def call(*args: Any) -> None:
        if failed:
            raise failed[0]
        pending.put(args)

    writer = threading.Thread(target=run, name="bytepair-writer", daemon=True)
    writer.start()
    try:
        yield call
    except BaseException:
        stop.set()
        raise
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _int64s(data: bytes | bytearray) -> array[int]:
    values = array("q", data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


# ==== Progress ====


class _Progress:
    """Bytes and tokens done so far: a live line on a terminal (tqdm's bar when installed), else nothing until the
    summary, whose rates `rates` gives."""

    def __init__(self, quiet: bool) -> None:
        self.start = time.perf_counter()
        self.bytes = 0
        self.tokens = 0
        self.shown = 0.0
        self.live = not quiet and sys.stderr.isatty()
        self.bar: Any = None
        if self.live:
            with contextlib.suppress(ImportError):
                from tqdm import tqdm

                self.bar = tqdm(unit="B", unit_scale=True, unit_divisor=1000, file=sys.stderr, desc="encode")

    def update(self, done_bytes: int, done_tokens: int) -> None:
        self.bytes += done_bytes
        self.tokens += done_tokens
        if self.bar is not None:
            self.bar.update(done_bytes)
            self.bar.set_postfix_str(f"{self.tokens} tokens, {self._token_rate()}", refresh=False)
        elif self.live and time.perf_counter() - self.shown >= PROGRESS_INTERVAL:
            self.shown = time.perf_counter()
            print(f"\r{self.bytes / 1e6:.1f} MB, {self.tokens} tokens, {self.rates()}", end="", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.live and self.shown:
            print(file=sys.stderr)

    def rates(self) -> str:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        shown = f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.3f}"  # a short run reads "0.046 s", not "0.0 s"
        return f"in {shown} s ({self.bytes / seconds / 1e6:.1f} MB/s, {self._token_rate()})"

    def _token_rate(self) -> str:
        return f"{self.tokens / max(time.perf_counter() - self.start, 1e-9) / 1e6:.2f} M tokens/s"


# ==== Token files ====


def dtype_for(encoding: Encoding) -> str:
    """The narrowest dtype that holds every id of ``encoding``: ``"uint16"`` up to 65536 ids, else ``"uint32"``.

    >>> import bytepair
    >>> dtype_for(bytepair.get_encoding("gpt2")), dtype_for(bytepair.get_encoding("cl100k_base"))
    ('uint16', 'uint32')
    """
    return "uint16" if encoding.n_vocab <= 1 << 16 else "uint32"


def _separator(encoding: Encoding, eot: bool, token: str | None) -> int | None:
    """The id written after each document: ``token`` (an id or a special token's text), else end-of-text."""
    if token is None:
        return encoding.eot_token if eot and ENDOFTEXT in encoding.special_tokens_set else None
    try:
        separator = int(token) if token.lstrip("-").isdigit() else encoding.encode_single_token(token)
        encoding.decode_single_token_bytes(separator)
    except (KeyError, OverflowError):
        raise InputError(
            f"--separator-token {token!r} is not a token of {encoding.name}; give an id below {encoding.n_vocab} "
            f"or a special token: {', '.join(sorted(encoding.special_tokens_set))}"
        ) from None
    return separator


def _typecode(dtype: str) -> str:
    width = DTYPE_SIZES[dtype]
    # `array` sizes its codes by the C types; "H" is 2 bytes and "I" 4 on every platform CPython supports, but look.
    return next(code for code in "HIL" if array(code).itemsize == width)


def _decode_into(
    out: BinaryIO,
    tokens_in: BinaryIO,
    encoding: Encoding,
    dtype: str,
    bin_path: Path,
    offsets: array[int] | None,
    separator: int | None,
) -> None:
    typecode = _typecode(dtype)

    def read(count: int) -> list[int]:
        tokens = array(typecode, tokens_in.read(count * DTYPE_SIZES[dtype]))
        if sys.byteorder == "big":
            tokens.byteswap()
        # A list crosses into Rust faster than an array (measured: 0.33 s vs 0.76 s per million tokens).
        return tokens.tolist()

    try:
        if offsets is None:
            while tokens := read(DECODE_CHUNK_TOKENS):
                out.write(encoding.decode_bytes(tokens))
            return
        # One JSON line per document; documents are decoded a chunk of about DECODE_CHUNK_TOKENS at a time.
        first = 0
        while first < len(offsets) - 1:
            last = first + 1
            while last < len(offsets) - 1 and offsets[last + 1] - offsets[first] <= DECODE_CHUNK_TOKENS:
                last += 1
            tokens = read(offsets[last] - offsets[first])
            documents = [
                tokens[offsets[i] - offsets[first] : offsets[i + 1] - offsets[first]] for i in range(first, last)
            ]
            if separator is not None:
                documents = [doc[:-1] if doc and doc[-1] == separator else doc for doc in documents]
            for text in encoding.decode_batch(documents):
                out.write(json.dumps({"text": text}, ensure_ascii=False).encode("utf-8") + b"\n")
            first = last
    except UnknownTokenError as err:
        raise InputError(
            f"{bin_path}: {err}, which {encoding.name} does not have; check --encoding and --dtype"
        ) from None


def _document_offsets(bin_path: Path, tokens: int) -> array[int]:
    idx_path = bin_path.with_name(bin_path.name.removesuffix(".bin") + ".idx.npy")
    try:
        offsets = read_offsets(idx_path)
    except FileNotFoundError:
        raise InputError(
            f"{idx_path} not found: --jsonl needs the document offsets written beside {bin_path}"
        ) from None
    except (OSError, ValueError, SyntaxError) as err:
        raise InputError(f"cannot read {idx_path}: {err}") from None
    if not offsets or offsets[0] != 0 or offsets[-1] != tokens or any(a > b for a, b in itertools.pairwise(offsets)):
        raise InputError(f"{idx_path} does not match {bin_path} ({tokens} tokens): the offsets must rise from 0 to it")
    return offsets


def _bin_path(path: Path) -> Path:
    """The token file that ``path`` names: ``PREFIX.bin`` itself, or ``PREFIX`` with ``.bin`` added."""
    if path.suffix != ".bin" and not path.is_file() and path.with_name(path.name + ".bin").is_file():
        return path.with_name(path.name + ".bin")
    return path


def _sidecar_for(bin_path: Path) -> Path:
    if bin_path.suffix == ".bin":
        return bin_path.with_suffix(".json")
    return bin_path.with_name(bin_path.name + ".json")


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        sidecar = json.loads(path.read_bytes())
    except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"cannot read the sidecar {path}: {err}") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != SIDECAR_FORMAT:
        raise InputError(f'{path} is not a bytepair sidecar (it lacks "format": "{SIDECAR_FORMAT}")')
    if sidecar.get("version") != SIDECAR_VERSION:
        raise InputError(
            f"{path} has version {sidecar.get('version')!r}; this bytepair reads version {SIDECAR_VERSION}"
        )
    expected = {"encoding": str, "dtype": str, "byteorder": str, "tokens": int}
    wrong = [key for key, kind in expected.items() if not isinstance(sidecar.get(key), kind)]
    if wrong or sidecar["dtype"] not in DTYPE_SIZES or sidecar["byteorder"] != "little":
        raise InputError(
            f"{path} is malformed: needs a string encoding, dtype uint16 or uint32, byteorder little "
            f"and an integer tokens count (found {', '.join(f'{key}={sidecar.get(key)!r}' for key in expected)})"
        )
    return sidecar


# ==== Output files ====


def _file_size(path: Path) -> int:
    """The size of a file to read, checked before any work starts so that a typo fails at once."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None


def _output_prefix(prefix: str) -> Path:
    base = Path(prefix[: -len(".bin")] if prefix.endswith(".bin") else prefix)
    if base.name in ("", ".", ".."):
        raise InputError(f"-o {prefix!r} has no file name; give a prefix such as data/train")
    _output_folder(base)
    return base


def _output_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise InputError(f"output folder {path.parent} does not exist; create it first")
