"""bytepair against official tiktoken and the installed peers: same vocab, same documents, one process; prints Markdown.

Checks first that bytepair gives tiktoken's ids on every document, then times each call (best of N, the libraries of
a row taking turns) and prints the machine, the versions, the exact command and one table per encoding. Every peer
among the other exact tokenizers that is installed (Hugging Face tokenizers, bpe-openai, riptoken, toktok-rs,
wordchipper, quicktok-v1, gigatoken; see benches/peers.py) is built offline from the same vocab and runs the same rows,
but only once its ids equal tiktoken's on every document; a peer that differs is reported as such and not timed.
benches/batch.py has the whole-corpus rows (batch, flat-array and token-file output) and benches/scaling.py the curve
over 1-16 threads. Run from the repository root on a release build:

    python benches/compare.py --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import functools
import gc
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tiktoken
import tiktoken.load

import bytepair
import bytepair.registry
import peers
from bytepair import _core
from bytepair.config import ENCODINGS
from peers import BATCH, BATCH_ARRAY, DECODE, ENCODE, ENCODE_ARRAY, Peer

ROOT = Path(__file__).resolve().parent.parent
VOCAB_DIR = ROOT / "python" / "bytepair" / "vocab"
CORPUS_KINDS = ("english", "code", "multilingual")
DOCUMENT_BYTES = 4096
KIB = 1024
MIB = 1024 * KIB

# Emoji of every shape: single code points, a variation selector, skin tones, ZWJ sequences, flags.
EMOJI = ["😀", "😂", "🥲", "🎉", "🚀", "🤖", "❤️", "👍🏽", "👩🏾‍💻", "👨‍👩‍👧‍👦", "🇯🇵", "🇫🇷", "🏳️‍🌈"]


# A table cell: a measurement, or a word shown as it is.
NA = "n/a"  # the library has no such call
NOT_RUN = "-"  # not measured: peers do not run load, nor any row when their ids differ (see the ids row)
THEIRS, OURS = "tiktoken", "bytepair"  # their calls' labels in best_of_rounds, beside the peers' own
Cell = float | str


@dataclass
class Row:
    """One line of the table; throughputs in MB/s (10^6 bytes of UTF-8 text per second), load times in ms."""

    encoding: str
    benchmark: str
    input: str
    unit: str
    tiktoken: Cell  # "fails": tiktoken could not run this input at all
    bytepair: Cell
    input_bytes: int
    tiktoken_input_bytes: int
    peers: dict[str, Cell] = field(default_factory=dict)  # peer label -> cell; a peer not in it was not run

    @property
    def speedup(self) -> float | None:
        """How many times faster bytepair is (> 1: bytepair faster), whatever the unit."""
        return ratio(self.bytepair, self.tiktoken, self.unit)

    @property
    def fastest_peer(self) -> str | None:
        timed = {label: value for label, value in self.peers.items() if isinstance(value, float)}
        return max(timed, key=lambda label: timed[label]) if timed and self.unit == "MB/s" else None

    @property
    def peer_speedup(self) -> float | None:
        """bytepair's throughput / the fastest peer's (> 1: bytepair faster than every peer)."""
        fastest = self.fastest_peer
        return None if fastest is None else ratio(self.bytepair, self.peers[fastest], self.unit)


def ratio(ours: Cell, theirs: Cell, unit: str) -> float | None:
    if not isinstance(ours, float) or not isinstance(theirs, float):
        return None
    return ours / theirs if unit == "MB/s" else theirs / ours


@dataclass
class PeerCheck:
    """A peer's ids against tiktoken's on every document of one encoding, and what the report says about it."""

    label: str
    version: str
    source: str
    apis: dict[str, str]  # row kind -> what it calls
    documents: int = 0
    differ: int = 0  # documents whose ids differ, raises included
    raised: int = 0
    first_problem: str = ""
    vocab_equal: bool | None = None  # peers with their own copy of the vocab: does rank -> bytes equal ours?

    @property
    def exact(self) -> bool:
        return self.differ == 0

    def summary(self) -> str:
        if self.exact:
            return "equal"
        raised = f" (raises on {self.raised:,})" if self.raised else ""
        return f"ids differ on {self.differ:,} of {self.documents:,} documents{raised}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_release_build()
    names = [name.strip() for name in args.encodings.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENCODINGS]
    if unknown:
        sys.exit(f"unknown encoding(s) {', '.join(unknown)}; available: {', '.join(ENCODINGS)}")
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    corpus_limit = 256 * KIB if args.quick else None
    worst_bytes = 128 * KIB if args.quick else MIB

    corpora = {kind: load_corpus(args.corpus_dir / f"{kind}.txt", corpus_limit) for kind in CORPUS_KINDS}
    documents = {kind: split_documents(text) for kind, text in corpora.items()}
    threads = os.cpu_count() or 1
    notes: list[str] = []
    rows: list[Row] = []
    checks: dict[str, list[PeerCheck]] = {}
    missing: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        progress(f"{name}: building both encodings")
        ours = bytepair.get_encoding(name)
        theirs = build_tiktoken(name)
        expected = {}
        for kind in CORPUS_KINDS:
            progress(f"{name}: checking ids on {kind}")
            expected[kind] = check_ids(name, kind, documents[kind], ours, theirs)
        spec = ENCODINGS[name]
        vocab_path = VOCAB_DIR / spec.vocab_file
        ranks = tiktoken.load.load_tiktoken_bpe(str(vocab_path))
        with tempfile.TemporaryDirectory(prefix="bytepair-peers-") as scratch:
            progress(f"{name}: building the installed peers")
            found, missing[name] = peers.build_all(spec, ranks, vocab_path, threads, Path(scratch))
            corpus_rows, checks[name] = bench_corpora(
                name, documents, expected, ours, theirs, found, ranks, threads, repeat, notes
            )
            rows += corpus_rows
            exact = [peer for peer, check in zip(found, checks[name], strict=True) if check.exact]
            worst_rows = []
            for label, make in worst_cases():
                progress(f"{name}: worst case {label}")
                worst_rows.append(
                    bench_worst_case(name, label, make, worst_bytes, ours, theirs, exact, repeat, args.budget, notes)
                )
            del found, exact
        gc.collect()  # free the peers' vocabs before timing load and before the next encoding
        progress(f"{name}: timing load")
        rows.append(bench_load(name, repeat))
        rows += worst_rows

    command = shlex.join(["python", *sys.argv]) if argv is None else shlex.join(["python", "benches/compare.py", *argv])
    print(
        render(rows, names, command, args.corpus_dir, corpora, documents, repeat, args.budget, notes, checks, missing)
    )
    if args.csv:
        write_csv(args.csv, rows)
        progress(f"rows saved to {args.csv}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=default_corpus_dir(),
        help="folder holding english.txt, code.txt and multilingual.txt "
        "(default: ../shared/corpus beside the repository if present, else benches/corpus)",
    )
    parser.add_argument(
        "--encodings", default="cl100k_base,o200k_base", help="comma-separated names (default: %(default)s)"
    )
    parser.add_argument("--repeat", type=int, help="timed repeats per row; the best counts (default: 3, --quick: 1)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 256 KiB of each corpus, 128 KiB worst cases, 1 repeat"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=5.0,
        help="worst cases: tiktoken's input doubles up to the full size while one call is predicted to take less "
        "than this many seconds (default: %(default)s)",
    )
    parser.add_argument("--csv", type=Path, help="also save the rows as CSV to this path")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def default_corpus_dir() -> Path:
    shared = Path(os.environ.get("BYTEPAIR_SHARED", ROOT.parent / "shared")) / "corpus"
    return shared if shared.is_dir() else ROOT / "benches" / "corpus"


def require_release_build() -> None:
    """Exits unless the loaded bytepair is a release build: a debug build's timings would mean nothing."""
    if not _core.is_release_build:
        sys.exit("bytepair is a debug build; timings would mean nothing. run: maturin develop --release")


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ==== Inputs ====


def load_corpus(path: Path, limit: int | None) -> str:
    text = path.read_text(encoding="utf-8")
    if limit is not None and len(text.encode("utf-8")) > limit:
        head = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
        text = head[: head.rfind("\n") + 1] or head
    return text


def split_documents(text: str, size: int = DOCUMENT_BYTES) -> list[str]:
    """Cut text into documents of about ``size`` UTF-8 bytes at line breaks."""
    documents, current, length = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        length += len(line.encode("utf-8"))
        if length >= size:
            documents.append("".join(current))
            current, length = [], 0
    if current:
        documents.append("".join(current))
    return documents


def worst_cases() -> list[tuple[str, Callable[[int, int], str]]]:
    """(label, text of at most n bytes drawn with a seed): inputs where a piece, or a whitespace run, is as long as
    the text. Random ones differ by seed, so that a cache of pieces filled by one cannot serve another."""

    def random_text(alphabet: Sequence[str]) -> Callable[[int, int], str]:
        def make(n: int, seed: int) -> str:
            rng = random.Random(seed)  # noqa: S311  (reproducible benchmark input, not security)
            parts, size = [], 0
            while size < n:
                part = rng.choice(alphabet)
                parts.append(part)
                size += len(part.encode("utf-8"))
            # Same seed, so a smaller n gives a prefix of a larger one; cut at a character boundary.
            return "".join(parts).encode("utf-8")[:n].decode("utf-8", errors="ignore")

        return make

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return [
        ("'a' repeated", lambda n, _seed: "a" * n),
        ("random ASCII letters, no spaces", random_text(letters)),
        ("random digits", random_text([str(d) for d in range(10)])),
        ("random mixed emoji", random_text(EMOJI)),
        ("spaces then one 'x'", lambda n, _seed: " " * (n - 1) + "x"),
    ]


def core_library() -> str:
    """The Rust library this process loaded and when it was built: a stale build left beside a new one (Python
    prefers `_core.cpython-311-*.so` to `_core.abi3.so`) would otherwise be timed under the new commit's name."""
    path = Path(bytepair._core.__file__ or "")
    built = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    return f"{path.name} built {built:%Y-%m-%d %H:%M} UTC"


def build_tiktoken(name: str) -> Any:
    """Official tiktoken, built offline from the vocab file bytepair ships (never `get_encoding`, which downloads)."""
    spec = ENCODINGS[name]
    return tiktoken.Encoding(
        name,
        pat_str=spec.pattern,
        mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(VOCAB_DIR / spec.vocab_file)),
        special_tokens=dict(spec.special_tokens),
    )


# ==== Checking ====


def check_ids(name: str, kind: str, documents: list[str], ours: Any, theirs: Any) -> list[list[int]]:
    """tiktoken's ids for every document, after checking that bytepair gives the same; aborts on the first mismatch."""
    expected = []
    for index, document in enumerate(documents):
        want = theirs.encode_ordinary(document)
        got = ours.encode_ordinary(document)
        if got != want:
            abort_mismatch(name, f"{kind} document {index}", "encode_ordinary", document, want, got, theirs)
        expected.append(want)
    return expected


def check_peer(
    peer: Peer, ranks: dict[bytes, int], documents: dict[str, list[str]], expected: dict[str, list[list[int]]]
) -> PeerCheck:
    """Counts the documents on which the peer's ids differ from tiktoken's (raising counts as differing)."""
    check = PeerCheck(peer.label, peer.version, peer.source, {kind: op.api for kind, op in peer.ops.items()})
    for kind in CORPUS_KINDS:
        for index, (document, want) in enumerate(zip(documents[kind], expected[kind], strict=True)):
            check.documents += 1
            try:
                with stderr_silenced():
                    got = list(peer.encode_one(document))
            except BaseException as err:  # PanicException derives from BaseException, not Exception
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise
                check.differ += 1
                check.raised += 1
                check.first_problem = check.first_problem or f"{kind} document {index}: {type(err).__name__}: {err}"
                continue
            if got != want:
                check.differ += 1
                if not check.first_problem:
                    first = next(
                        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
                    )
                    check.first_problem = (
                        f"{kind} document {index}, first at token {first}: "
                        f"tiktoken {want[first : first + 4]}, {peer.label} {got[first : first + 4]}"
                    )
    if peer.token_bytes is not None:
        try:
            check.vocab_equal = all(peer.token_bytes(rank) == token for token, rank in ranks.items())
        except Exception:  # an id it does not know
            check.vocab_equal = False
    return check


def check_outputs(name: str, kind: str, call: str, documents: list[str], expected: list[list[int]], got: Any) -> None:
    """A timed call's output must equal tiktoken's ids (so no row times a wrong answer)."""
    for index, (document, want, one) in enumerate(zip(documents, expected, got, strict=True)):
        one = one.tolist() if isinstance(one, np.ndarray) else one
        if one != want:
            abort_mismatch(name, f"{kind} document {index}", call, document, want, one, None)
    if len(got) != len(expected):
        sys.exit(f"{name} {kind} {call}: {len(got)} results for {len(expected)} documents")


def abort_mismatch(name: str, where: str, call: str, text: str, want: list[int], got: list[int], theirs: Any) -> None:
    first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got)))
    saved = Path(tempfile.mkdtemp(prefix="bytepair-mismatch-")) / "document.txt"
    saved.write_text(text, encoding="utf-8", newline="")
    context = ""
    if theirs is not None:
        offset = len(theirs.decode_bytes(want[:first]))
        context = f"  text at byte {offset}: {text.encode('utf-8')[max(0, offset - 40) : offset + 40]!r}\n"
    sys.exit(
        f"ID MISMATCH in {call} ({name}, {where}, {len(text.encode('utf-8'))} bytes): "
        f"first difference at token {first}\n"
        f"  tiktoken: {want[max(0, first - 3) : first + 5]}\n"
        f"  bytepair: {got[max(0, first - 3) : first + 5]}\n"
        f"{context}"
        f"  document saved to {saved}; reproduce with:\n"
        f"  python -c \"import bytepair; t = open('{saved}', encoding='utf-8', newline='').read(); "
        f"print(bytepair.get_encoding('{name}').{call}(t))\""
    )


# ==== Timing ====


def best_of(repeat: int, call: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs in seconds, and the last result; the garbage collector is off while timing."""
    return timed(best_of_rounds(repeat, {"call": call})["call"])


def best_of_rounds(repeat: int, calls: dict[str, Callable[[], Any]]) -> dict[str, tuple[float, Any] | BaseException]:
    """Each call's fastest of ``repeat`` runs in seconds and its last result, the calls taking turns: each round runs
    every call once, so a slow spell of this shared machine (its speed moves by up to 2x within minutes) falls on all
    of a row's libraries rather than on whichever was being timed, and their ratios stay comparable. The garbage
    collector is off while timing. A call that raises gets its exception in place of a result and is not run again
    (KeyboardInterrupt and SystemExit are raised)."""
    best = {label: float("inf") for label in calls}
    outcomes: dict[str, tuple[float, Any] | BaseException] = {}
    for _ in range(repeat):
        for label, call in calls.items():
            if isinstance(outcomes.get(label), BaseException):
                continue
            outcomes[label] = (best[label], None)  # free the previous result before the clock starts
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                result = call()
                elapsed = time.perf_counter() - start
            except BaseException as err:  # PanicException derives from BaseException, not Exception
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise
                outcomes[label] = err
                continue
            finally:
                gc.enable()
            best[label] = min(best[label], elapsed)
            outcomes[label] = (best[label], result)
    return outcomes


def timed(outcome: tuple[float, Any] | BaseException) -> tuple[float, Any]:
    """A call's (seconds, last result) from best_of_rounds, or its exception raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def megabytes_per_second(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def bench_corpora(
    name: str,
    documents: dict[str, list[str]],
    expected: dict[str, list[list[int]]],
    ours: Any,
    theirs: Any,
    found: list[Peer],
    ranks: dict[bytes, int],
    threads: int,
    repeat: int,
    notes: list[str],
) -> tuple[list[Row], list[PeerCheck]]:
    """The corpus rows of one encoding for tiktoken, bytepair and every peer in ``found`` whose ids equal tiktoken's,
    and each peer's ids check."""
    checks = []
    for peer in found:
        progress(f"{name}: checking {peer.label}'s ids")
        checks.append(check_peer(peer, ranks, documents, expected))
    # Like tiktoken and bytepair (check_ids), each peer has now run every document once before it is timed: a peer
    # that caches pieces across calls (toktok-rs and gigatoken do) is timed with its cache warm.
    exact = [peer for peer, check in zip(found, checks, strict=True) if check.exact]
    rows = []
    for kind in CORPUS_KINDS:
        progress(f"{name}: timing {kind}")
        rows += bench_corpus(name, kind, documents[kind], expected[kind], ours, theirs, exact, threads, repeat, notes)
    for row in rows:  # a peer whose ids differ keeps its column, with nothing timed
        row.peers.update({check.label: NOT_RUN for check in checks if not check.exact})
    return rows, checks


def bench_corpus(
    name: str,
    kind: str,
    documents: list[str],
    expected: list[list[int]],
    ours: Any,
    theirs: Any,
    exact_peers: list[Peer],
    threads: int,
    repeat: int,
    notes: list[str],
) -> list[Row]:
    size = sum(len(document.encode("utf-8")) for document in documents)
    texts = [document.encode("utf-8") for document in documents]

    def row(
        benchmark: str,
        row_kind: str,
        call: str | None,
        run: Callable[[Any], Any] | None,
        read: Callable[[Any], Any] = lambda result: result,
    ) -> Row:
        """``call``/``run``: tiktoken's method name and how to call it on either encoding (None: neither has one);
        ``read``: the result as one list of ids per document."""
        inputs = expected if row_kind == DECODE else documents
        calls: dict[str, Callable[[], Any]] = {}
        if call is not None and run is not None:
            calls |= {THEIRS: lambda: run(theirs), OURS: lambda: run(ours)}
        for peer in exact_peers:
            op = peer.ops.get(row_kind)
            if op is not None:
                assert peer.label not in calls, f"a peer named {peer.label!r}"
                calls[peer.label] = functools.partial(op.run, inputs)
        with stderr_silenced():  # a Rust panic prints its backtrace straight to fd 2
            outcomes = best_of_rounds(repeat, calls)
        speeds: list[Cell] = []
        for label, encoding in ((THEIRS, theirs), (OURS, ours)):
            if label not in outcomes:
                speeds.append(NA)
                continue
            seconds, result = timed(outcomes[label])
            result = read(result)
            if call == "decode_bytes":
                if result != texts:
                    sys.exit(f"{name} {kind}: decode_bytes did not give the documents back ({encoding!r})")
            else:
                check_outputs(name, kind, call, documents, expected, result)
            speeds.append(megabytes_per_second(size, seconds))
        cells: dict[str, Cell] = {}
        for peer in exact_peers:
            op = peer.ops.get(row_kind)
            outcome = outcomes.get(peer.label)
            if op is None or outcome is None:
                cells[peer.label] = NA
                continue
            if isinstance(outcome, BaseException):
                error = f"{type(outcome).__name__}: {outcome}"
                notes.append(f"{name}, {kind}, {benchmark}: {peer.label}'s {op.api} raises {error}")
                cells[peer.label] = "raises"
                continue
            seconds, result = outcome
            if op.read(result) != (texts if row_kind == DECODE else expected):
                notes.append(f"{name}, {kind}, {benchmark}: {peer.label}'s {op.api} gives other ids than tiktoken")
                cells[peer.label] = "wrong ids"
                continue
            cells[peer.label] = megabytes_per_second(size, seconds)
        return Row(name, benchmark, kind, "MB/s", speeds[0], speeds[1], size, size, cells)

    return [
        row(
            "encode_ordinary, 1 thread",
            ENCODE,
            "encode_ordinary",
            lambda enc: [enc.encode_ordinary(d) for d in documents],
        ),
        row(
            "encode_to_numpy, 1 thread",
            ENCODE_ARRAY,
            "encode_to_numpy",
            lambda enc: [enc.encode_to_numpy(d) for d in documents],
        ),
        row(
            f"encode_ordinary_batch, {threads} threads",
            BATCH,
            "encode_ordinary_batch",
            lambda enc: enc.encode_ordinary_batch(documents, num_threads=threads),
        ),
        row(
            f"batch, flat array output, {threads} threads",
            BATCH_ARRAY,
            "encode_batch_to_numpy",
            lambda enc: flat_batch(enc, documents, threads),
            lambda result: peers.flat_to_lists(*result),
        ),
        row(
            "decode_bytes, 1 thread",
            DECODE,
            "decode_bytes",
            lambda enc: [enc.decode_bytes(tokens) for tokens in expected],
        ),
    ]


def flat_batch(encoding: Any, documents: list[str], threads: int) -> tuple[np.ndarray, np.ndarray]:
    """One flat ``uint32`` array of every document's ids and the document offsets: bytepair's
    ``encode_batch_to_numpy``; for tiktoken, which has no such call, ``encode_ordinary_batch`` and concatenation (what
    its users write, and the baseline issue 4 names)."""
    if isinstance(encoding, bytepair.Encoding):
        return encoding.encode_batch_to_numpy(documents, disallowed_special=(), num_threads=threads)
    batch = encoding.encode_ordinary_batch(documents, num_threads=threads)
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum([len(ids) for ids in batch], out=offsets[1:])
    return np.concatenate([np.asarray(ids, dtype=np.uint32) for ids in batch]), offsets


def bench_load(name: str, repeat: int) -> Row:
    """Time to build the encoding from its vocab file, with no cache: tiktoken's rank dict + Encoding, our _build."""
    spec = ENCODINGS[name]
    path = VOCAB_DIR / spec.vocab_file

    def load_tiktoken() -> Any:
        return tiktoken.Encoding(
            name,
            pat_str=spec.pattern,
            mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(path)),
            special_tokens=dict(spec.special_tokens),
        )

    outcomes = best_of_rounds(repeat, {THEIRS: load_tiktoken, OURS: lambda: bytepair.registry._build(spec)})
    theirs, ours = (timed(outcomes[label])[0] for label in (THEIRS, OURS))
    size = path.stat().st_size
    label = f"{spec.vocab_file} ({size / 1e6:.1f} MB)"
    return Row(name, "load encoding from vocab file", label, "ms", theirs * 1e3, ours * 1e3, size, size)


@dataclass
class Probe:
    """How far one library got on a worst case: the largest input it ran, and what stopped it there."""

    size: int  # the requested size of that input (0: it ran none)
    text: str
    ids: list[int]
    failure: str | None = None  # what it raised on the next size
    failed_size: int = 0  # that size


def probe(encode: Callable[[str], Any], make: Callable[[int, int], str], full_size: int, budget: float) -> Probe:
    """Runs ``encode`` on ``make(n, 0)`` for n doubling from 4 KiB up to ``full_size`` while one call is predicted to
    take under ``budget`` seconds, assuming the time grows by the same factor as in the last doubling (x2 if linear,
    x4 if quadratic); stops at the first size that raises."""
    done = Probe(0, "", [])
    previous = None
    n = min(4 * KIB, full_size)
    while True:
        text = make(n, 0)
        try:
            with stderr_silenced():  # a Rust panic prints its backtrace straight to fd 2
                start = time.perf_counter()
                ids = encode(text)
                elapsed = time.perf_counter() - start
        except BaseException as err:  # PanicException derives from BaseException, not Exception
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            done.failure, done.failed_size = f"{type(err).__name__}: {err}", n
            return done
        done = Probe(n, text, list(ids))
        growth = elapsed / previous if previous else 4.0
        previous = elapsed
        if n >= full_size or elapsed * max(growth, 2.0) > budget:
            return done
        n = min(2 * n, full_size)


def bench_worst_case(
    name: str,
    label: str,
    make: Callable[[int, int], str],
    full_size: int,
    ours: Any,
    theirs: Any,
    exact_peers: list[Peer],
    repeat: int,
    budget: float,
    notes: list[str],
) -> Row:
    """bytepair on the full input; tiktoken and each peer on the largest input that fits the time budget (see
    `probe`) and that it can run.

    Each repeat of bytepair and of a peer encodes a text of its own (another seed; the same text where it is not
    random), so repeats measure merging the input, not finding an earlier repeat's pieces in a cache: bytepair keeps
    several megabytes of recently merged pieces per thread, enough to hold every piece of a repeated 1 MiB input, and
    toktok-rs and gigatoken keep pieces too. tiktoken keeps none and runs its one input each time. A peer's ids are
    checked against bytepair's on every input it ran (bytepair's equal tiktoken's on the largest one tiktoken ran).
    """
    texts = [make(full_size, seed) for seed in range(1, repeat + 1)]
    size = len(texts[0].encode("utf-8"))
    full_label = f"{format_size(full_size)}, {label}"

    reference = probe(theirs.encode_ordinary, make, full_size, budget)
    if reference.size:
        got = ours.encode_ordinary(reference.text)
        if got != reference.ids:
            abort_mismatch(name, f"worst case {label}", "encode_ordinary", reference.text, reference.ids, got, theirs)

    remaining = iter(texts)
    calls = {OURS: lambda: ours.encode_ordinary(next(remaining))}
    if reference.size:
        calls[THEIRS] = functools.partial(theirs.encode_ordinary, reference.text)
    cells: dict[str, Cell] = {}
    peer_texts: dict[str, list[str]] = {}  # the inputs of each peer that is timed, one per repeat
    timed_ops: dict[str, peers.Op] = {}
    for peer in exact_peers:
        op = peer.ops.get(ENCODE)
        if op is None:
            cells[peer.label] = NA
            continue
        progress(f"{name}: worst case {label}: {peer.label}")
        run = functools.partial(lambda op, text: op.read(op.run([text]))[0], op)
        reached = probe(run, make, full_size, budget)
        if not reached.size:
            cells[peer.label] = "fails"
            notes.append(
                f"{name}, {full_label}: {peer.label} raises on the first {format_size(reached.failed_size)} "
                f"({reached.failure})"
            )
            continue
        if reached.ids != ours.encode_ordinary(reached.text):
            cells[peer.label] = "wrong ids"
            notes.append(
                f"{name}, {full_label}: {peer.label}'s ids differ from bytepair's on the first "
                f"{format_size(reached.size)}"
            )
            continue
        if reached.failure:
            notes.append(
                f"{name}, {full_label}: {peer.label} timed on the first {format_size(reached.size)}; it "
                f"raises on {format_size(reached.failed_size)} ({reached.failure})"
            )
        elif reached.size < full_size:
            notes.append(
                f"{name}, {full_label}: {peer.label} timed on the first {format_size(reached.size)}, the "
                f"largest size predicted to take under {budget:g} s per call"
            )
        peer_texts[peer.label] = (
            texts if reached.size == full_size else [make(reached.size, seed) for seed in range(1, repeat + 1)]
        )
        timed_ops[peer.label] = op
        calls[peer.label] = functools.partial(
            lambda op, inputs: op.run([next(inputs)]), op, iter(peer_texts[peer.label])
        )

    with stderr_silenced():
        outcomes = best_of_rounds(repeat, calls)
    ours_seconds, tokens = timed(outcomes[OURS])
    if ours.decode_bytes(tokens) != texts[-1].encode("utf-8"):
        sys.exit(f"{name} worst case {label}: decode_bytes(encode_ordinary(text)) != text")
    ours_speed = megabytes_per_second(size, ours_seconds)

    for peer_label, inputs in peer_texts.items():
        outcome = outcomes[peer_label]
        if isinstance(outcome, BaseException):
            cells[peer_label] = "raises"
            notes.append(f"{name}, {full_label}: {peer_label} raises {type(outcome).__name__}: {outcome}")
        elif timed_ops[peer_label].read(outcome[1])[0] != ours.encode_ordinary(inputs[-1]):
            cells[peer_label] = "wrong ids"
            notes.append(f"{name}, {full_label}: {peer_label}'s ids differ from bytepair's on a timed input")
        else:
            cells[peer_label] = megabytes_per_second(len(inputs[-1].encode("utf-8")), outcome[0])

    if not reference.size:
        notes.append(
            f"{name}, {full_label}: tiktoken fails already on the first {format_size(reference.failed_size)} "
            f"({reference.failure})."
        )
        return Row(name, "worst case, encode_ordinary", full_label, "MB/s", "fails", ours_speed, size, 0, cells)
    theirs_seconds, _ = timed(outcomes[THEIRS])
    prefix_size = len(reference.text.encode("utf-8"))
    shown = full_label
    if reference.failure:
        notes.append(
            f"{name}, {full_label}: on the first {format_size(reference.failed_size)}, tiktoken raises "
            f"{reference.failure}"
        )
        shown += f" (tiktoken: first {format_size(reference.size)}; it fails on {format_size(reference.failed_size)})"
    elif reference.size < full_size:
        notes.append(
            f"{name}, {full_label}: tiktoken stopped at {format_size(reference.size)}, the largest size predicted to "
            f"take under {budget:g} s per call."
        )
        shown += f" (tiktoken: first {format_size(reference.size)})"
    theirs_speed = megabytes_per_second(prefix_size, theirs_seconds)
    return Row(name, "worst case, encode_ordinary", shown, "MB/s", theirs_speed, ours_speed, size, prefix_size, cells)


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def format_size(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= KIB:
        return f"{n / KIB:g} KiB" if n % KIB else f"{n // KIB} KiB"
    return f"{n} B"


# ==== Report ====


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(
    rows: list[Row],
    names: list[str],
    command: str,
    corpus_dir: Path,
    corpora: dict[str, str],
    documents: dict[str, list[str]],
    repeat: int,
    budget: float,
    notes: list[str],
    checks: dict[str, list[PeerCheck]],
    missing: dict[str, list[tuple[str, str]]],
) -> str:
    try:
        corpus_shown = corpus_dir.resolve().relative_to(ROOT)
    except ValueError:
        corpus_shown = Path(os.path.relpath(corpus_dir.resolve(), ROOT))
    sizes = ", ".join(
        f"{kind} {len(text.encode('utf-8')) / 1e6:.2f} MB in {len(documents[kind]):,} documents"
        for kind, text in corpora.items()
    )
    versions = {check.label: check.version for name in names for check in checks[name]}
    not_run = sorted({f"{label} ({why})" for name in names for label, why in missing[name] if why == "not installed"})
    lines = [
        "## bytepair vs tiktoken and peers",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}",
        f"- versions: Python {platform.python_version()}, tiktoken {tiktoken.__version__}, "
        f"bytepair {bytepair.__version__} (release build, {core_library()}), numpy {np.__version__}",
        "- peers: " + (", ".join(f"{label} {version}" for label, version in versions.items()) or "none installed"),
    ]
    if not_run:
        lines.append(f"- peers not run: {', '.join(not_run)}")
    lines += [
        f"- corpus: `{corpus_shown}/`: {sizes} (documents: ~4 KiB, cut at line breaks)",
        "- method: same process, same vocab, ids checked equal to tiktoken's on every document first; "
        f"best of {repeat} repeats, in rounds that time each library of a row once in turn (a slow spell of the "
        "machine falls on all of them), garbage collector off while timing; "
        "MB/s = 10^6 bytes of UTF-8 text per second; "
        "bytepair/tiktoken = bytepair's throughput / tiktoken's (load: tiktoken's time / bytepair's); "
        "bytepair/fastest peer = bytepair's throughput / the fastest exact peer's on that row; > 1 means bytepair "
        "is faster",
    ]
    for name in names:
        labels = [check.label for check in checks[name]]
        lines += [
            "",
            f"### {name}",
            "",
            "| benchmark | input | tiktoken | bytepair | "
            + " | ".join(labels)
            + (" | " if labels else "")
            + "bytepair/tiktoken | bytepair/fastest peer |",
            "|---|---|--:|--:|" + "--:|" * len(labels) + "--:|--:|",
            "| "
            + " | ".join(
                [
                    "ids = tiktoken's",
                    f"all {sum(len(d) for d in documents.values()):,} documents",
                    "reference",
                    "equal",
                    *(check.summary() for check in checks[name]),
                    "",
                    "",
                ]
            )
            + " |",
        ]
        for row in rows:
            if row.encoding != name or all(cell == NA for cell in (row.tiktoken, row.bytepair, *row.peers.values())):
                continue  # a row that no library here can run
            peer_cells = "".join(f"{format_value(row.peers.get(label, NOT_RUN), row.unit)} | " for label in labels)
            fastest = row.fastest_peer
            vs_peer = format_speedup(row.peer_speedup) + (f" ({fastest})" if row.peer_speedup is not None else "")
            lines.append(
                f"| {row.benchmark} | {row.input} | {format_value(row.tiktoken, row.unit)} | "
                f"{format_value(row.bytepair, row.unit)} | {peer_cells}{format_speedup(row.speedup)} | {vs_peer} |"
            )
        lines += ["", *peer_sources(name, checks[name], missing[name])]
    lines += [
        "",
        "Load: tiktoken = `load_tiktoken_bpe(path)` + `tiktoken.Encoding(...)`; bytepair = "
        "`bytepair.registry._build(spec)` (reads the file, checks its sha256, parses it in Rust), no cache.",
        f"Worst cases: bytepair runs the full input; tiktoken and each peer double their input from 4 KiB while one "
        f"call is predicted to take under {budget:g} s, and the row (tiktoken) or a note (a peer) says when one "
        "stopped short; a peer's ids there are checked against bytepair's, which equal tiktoken's on the largest "
        "input tiktoken ran.",
        f"Peers run the corpus and worst-case rows ({NOT_RUN} for load), and only when their ids equal tiktoken's on "
        f"every document ({NOT_RUN} otherwise); {NA}: the library has no such call. Each peer's calls, in row order "
        "(encode / array / batch / flat array batch / decode); every output is checked against tiktoken's ids:",
    ]
    lines += [f"- {label}: {calls}" for label, calls in peer_calls(checks).items()]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def peer_sources(name: str, checks: list[PeerCheck], missing: list[tuple[str, str]]) -> list[str]:
    """Where each peer's vocab came from, what its ids check found, and why the others did not run."""
    lines = []
    for check in checks:
        vocab = {None: "", True: "; its rank -> bytes table equals ours", False: "; its rank -> bytes table DIFFERS"}
        problem = f"; first: {check.first_problem}" if check.first_problem else ""
        lines.append(f"- {check.label}: {check.source}{vocab[check.vocab_equal]}{problem}")
    lines += [f"- {label}: not run ({why})" for label, why in missing if why != "not installed"]
    return lines


def peer_calls(checks: dict[str, list[PeerCheck]]) -> dict[str, str]:
    calls: dict[str, str] = {}
    for name_checks in checks.values():
        for check in name_checks:
            apis = [check.apis.get(kind, NA) for kind in (ENCODE, ENCODE_ARRAY, BATCH, BATCH_ARRAY, DECODE)]
            calls.setdefault(check.label, " / ".join(apis))
    return calls


def format_value(value: Cell, unit: str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def format_speedup(speedup: float | None) -> str:
    return NA if speedup is None else f"{speedup:.2f}x"


def write_csv(path: Path, rows: list[Row]) -> None:
    labels = list(dict.fromkeys(label for row in rows for label in row.peers))
    fields = [
        "encoding", "benchmark", "input", "unit", "tiktoken", "bytepair", *labels,
        "input_bytes", "tiktoken_input_bytes", "speedup", "fastest_peer", "peer_speedup",
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    "encoding": row.encoding,
                    "benchmark": row.benchmark,
                    "input": row.input,
                    "unit": row.unit,
                    "tiktoken": row.tiktoken,
                    "bytepair": row.bytepair,
                    **{label: row.peers.get(label, NOT_RUN) for label in labels},
                    "input_bytes": row.input_bytes,
                    "tiktoken_input_bytes": row.tiktoken_input_bytes,
                    "speedup": row.speedup,
                    "fastest_peer": row.fastest_peer,
                    "peer_speedup": row.peer_speedup,
                }
            )


if __name__ == "__main__":
    sys.exit(main())
