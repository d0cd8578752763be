"""bytepair against official tiktoken: same vocab files, same documents, one process; prints a Markdown report.

Checks first that both give the same ids on every document, then times each call (best of N) and prints the machine,
the versions, the exact command and one table per encoding. Run from the repository root on a release build:

    python benches/compare.py --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import gc
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tiktoken
import tiktoken.load

import bytepair
import bytepair.registry
from bytepair import _core
from bytepair.config import ENCODINGS

ROOT = Path(__file__).resolve().parent.parent
VOCAB_DIR = ROOT / "python" / "bytepair" / "vocab"
CORPUS_KINDS = ("english", "code", "multilingual")
DOCUMENT_BYTES = 4096
KIB = 1024
MIB = 1024 * KIB

# Emoji of every shape: single code points, a variation selector, skin tones, ZWJ sequences, flags.
EMOJI = ["😀", "😂", "🥲", "🎉", "🚀", "🤖", "❤️", "👍🏽", "👩🏾‍💻", "👨‍👩‍👧‍👦", "🇯🇵", "🇫🇷", "🏳️‍🌈"]


@dataclass
class Row:
    """One line of the table; throughputs in MB/s (10^6 bytes of UTF-8 text per second), load times in ms."""

    encoding: str
    benchmark: str
    input: str
    unit: str
    tiktoken: float | None  # None: tiktoken could not run this input at all
    bytepair: float
    input_bytes: int
    tiktoken_input_bytes: int

    @property
    def speedup(self) -> float | None:
        """How many times faster bytepair is (> 1: bytepair faster), whatever the unit."""
        if self.tiktoken is None:
            return None
        return self.bytepair / self.tiktoken if self.unit == "MB/s" else self.tiktoken / self.bytepair


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not _core.is_release_build:
        sys.exit("bytepair is a debug build; timings would mean nothing. run: maturin develop --release")
    names = [name.strip() for name in args.encodings.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENCODINGS]
    if unknown:
        sys.exit(f"unknown encoding(s) {', '.join(unknown)}; available: {', '.join(ENCODINGS)}")
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    corpus_limit = 256 * KIB if args.quick else None
    worst_bytes = 128 * KIB if args.quick else MIB

    corpora = {kind: load_corpus(args.corpus_dir / f"{kind}.txt", corpus_limit) for kind in CORPUS_KINDS}
    documents = {kind: split_documents(text) for kind, text in corpora.items()}
    notes: list[str] = []
    rows: list[Row] = []
    for name in names:
        progress(f"{name}: building both encodings")
        ours = bytepair.get_encoding(name)
        theirs = build_tiktoken(name)
        for kind in CORPUS_KINDS:
            progress(f"{name}: checking ids on {kind}")
            expected = check_ids(name, kind, documents[kind], ours, theirs)
            progress(f"{name}: timing {kind}")
            rows += bench_corpus(name, kind, documents[kind], expected, ours, theirs, repeat)
        progress(f"{name}: timing load")
        rows.append(bench_load(name, repeat))
        for label, make in worst_cases():
            progress(f"{name}: worst case {label}")
            rows.append(bench_worst_case(name, label, make, worst_bytes, ours, theirs, repeat, args.budget, notes))

    command = shlex.join(["python", *sys.argv]) if argv is None else shlex.join(["python", "benches/compare.py", *argv])
    print(render(rows, names, command, args.corpus_dir, corpora, documents, repeat, args.budget, notes))
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


def worst_cases() -> list[tuple[str, Callable[[int], str]]]:
    """(label, text of at most n bytes): inputs where a piece, or a whitespace run, is as long as the text."""

    def random_text(alphabet: Sequence[str]) -> Callable[[int], str]:
        def make(n: int) -> str:
            rng = random.Random(0)  # noqa: S311  (reproducible benchmark input, not security)
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
        ("'a' repeated", lambda n: "a" * n),
        ("random ASCII letters, no spaces", random_text(letters)),
        ("random digits", random_text([str(d) for d in range(10)])),
        ("random mixed emoji", random_text(EMOJI)),
        ("spaces then one 'x'", lambda n: " " * (n - 1) + "x"),
    ]


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


def check_outputs(name: str, kind: str, call: str, documents: list[str], expected: list[list[int]], got: Any) -> None:
    """A timed call's output must equal tiktoken's ids (so no row times a wrong answer)."""
    for index, (document, want, one) in enumerate(zip(documents, expected, got)):
        one = one.tolist() if isinstance(one, np.ndarray) else one
        if one != want:
            abort_mismatch(name, f"{kind} document {index}", call, document, want, one, None)
    if len(got) != len(expected):
        sys.exit(f"{name} {kind} {call}: {len(got)} results for {len(expected)} documents")


def abort_mismatch(name: str, where: str, call: str, text: str, want: list[int], got: list[int], theirs: Any) -> None:
    first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
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
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # free the previous result before the clock starts, not inside the timed region
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = call()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best, result


def megabytes_per_second(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def bench_corpus(
    name: str, kind: str, documents: list[str], expected: list[list[int]], ours: Any, theirs: Any, repeat: int
) -> list[Row]:
    size = sum(len(document.encode("utf-8")) for document in documents)
    threads = os.cpu_count() or 1

    def row(benchmark: str, call: str, run: Callable[[Any], Any]) -> Row:
        speeds = []
        for encoding in (theirs, ours):
            seconds, result = best_of(repeat, lambda: run(encoding))  # noqa: B023  (called before the loop moves on)
            if call == "decode_bytes":
                if result != [document.encode("utf-8") for document in documents]:
                    sys.exit(f"{name} {kind}: decode_bytes did not give the documents back ({encoding!r})")
            else:
                check_outputs(name, kind, call, documents, expected, result)
            speeds.append(megabytes_per_second(size, seconds))
        return Row(name, benchmark, kind, "MB/s", speeds[0], speeds[1], size, size)

    return [
        row("encode_ordinary, 1 thread", "encode_ordinary", lambda enc: [enc.encode_ordinary(d) for d in documents]),
        row("encode_to_numpy, 1 thread", "encode_to_numpy", lambda enc: [enc.encode_to_numpy(d) for d in documents]),
        row(
            f"encode_ordinary_batch, {threads} threads",
            "encode_ordinary_batch",
            lambda enc: enc.encode_ordinary_batch(documents, num_threads=threads),
        ),
        row("decode_bytes, 1 thread", "decode_bytes", lambda enc: [enc.decode_bytes(tokens) for tokens in expected]),
    ]


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

    theirs, _ = best_of(repeat, load_tiktoken)
    ours, _ = best_of(repeat, lambda: bytepair.registry._build(spec))
    size = path.stat().st_size
    label = f"{spec.vocab_file} ({size / 1e6:.1f} MB)"
    return Row(name, "load encoding from vocab file", label, "ms", theirs * 1e3, ours * 1e3, size, size)


def bench_worst_case(
    name: str,
    label: str,
    make: Callable[[int], str],
    full_size: int,
    ours: Any,
    theirs: Any,
    repeat: int,
    budget: float,
    notes: list[str],
) -> Row:
    """bytepair on the full input; tiktoken on the largest prefix that fits the time budget (and that it can run)."""
    text = make(full_size)
    size = len(text.encode("utf-8"))
    ours_seconds, tokens = best_of(repeat, lambda: ours.encode_ordinary(text))
    if ours.decode_bytes(tokens) != text.encode("utf-8"):
        sys.exit(f"{name} worst case {label}: decode_bytes(encode_ordinary(text)) != text")

    # tiktoken: double the input from 4 KiB while one call is predicted to stay within the budget, assuming the
    # time grows by the same factor as in the last doubling (x2 if linear, x4 if quadratic).
    done: tuple[int, str, list[int]] | None = None  # (requested size, prefix, tiktoken's ids)
    failure = None
    previous = None
    n = min(4 * KIB, full_size)
    while True:
        prefix = make(n)
        try:
            with stderr_silenced():  # a Rust panic prints its backtrace straight to fd 2
                start = time.perf_counter()
                want = theirs.encode_ordinary(prefix)
                elapsed = time.perf_counter() - start
        except BaseException as err:  # PanicException derives from BaseException, not Exception
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            failure = f"{type(err).__name__}: {err}"
            break
        done = (n, prefix, want)
        growth = elapsed / previous if previous else 4.0
        previous = elapsed
        if n >= full_size or elapsed * max(growth, 2.0) > budget:
            break
        n = min(2 * n, full_size)

    label = f"{format_size(full_size)}, {label}"
    ours_speed = megabytes_per_second(size, ours_seconds)
    if done is None:
        notes.append(f"{name}, {label}: tiktoken fails already on the first {format_size(n)} ({failure}).")
        return Row(name, "worst case, encode_ordinary", label, "MB/s", None, ours_speed, size, 0)
    timed, prefix, want = done
    got = ours.encode_ordinary(prefix)
    if got != want:
        abort_mismatch(name, f"worst case {label}", "encode_ordinary", prefix, want, got, theirs)
    theirs_seconds, _ = best_of(repeat, lambda: theirs.encode_ordinary(prefix))
    prefix_size = len(prefix.encode("utf-8"))
    if failure:
        notes.append(f"{name}, {label}: on the first {format_size(n)}, tiktoken raises {failure}")
        label += f" (tiktoken: first {format_size(timed)}; it fails on {format_size(n)})"
    elif timed < full_size:
        notes.append(
            f"{name}, {label}: tiktoken stopped at {format_size(timed)}, the largest size predicted to take "
            f"under {budget:g} s per call."
        )
        label += f" (tiktoken: first {format_size(timed)})"
    theirs_speed = megabytes_per_second(prefix_size, theirs_seconds)
    return Row(name, "worst case, encode_ordinary", label, "MB/s", theirs_speed, ours_speed, size, prefix_size)


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
) -> str:
    try:
        corpus_shown = corpus_dir.resolve().relative_to(ROOT)
    except ValueError:
        corpus_shown = Path(os.path.relpath(corpus_dir.resolve(), ROOT))
    sizes = ", ".join(
        f"{kind} {len(text.encode('utf-8')) / 1e6:.2f} MB in {len(documents[kind]):,} documents"
        for kind, text in corpora.items()
    )
    lines = [
        "## bytepair vs tiktoken",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}",
        f"- versions: Python {platform.python_version()}, tiktoken {tiktoken.__version__}, "
        f"bytepair {bytepair.__version__} (release build), numpy {np.__version__}",
        f"- corpus: `{corpus_shown}/`: {sizes} (documents: ~4 KiB, cut at line breaks)",
        f"- method: same process, same vocab files, ids checked equal on every document first; best of {repeat} "
        "repeats, garbage collector off while timing; MB/s = 10^6 bytes of UTF-8 text per second; "
        "speedup = bytepair's throughput / tiktoken's (load: tiktoken's time / bytepair's); > 1 means bytepair "
        "is faster",
    ]
    for name in names:
        lines += [
            "",
            f"### {name}",
            "",
            "| benchmark | input | tiktoken | bytepair | speedup |",
            "|---|---|--:|--:|--:|",
        ]
        for row in rows:
            if row.encoding != name:
                continue
            lines.append(
                f"| {row.benchmark} | {row.input} | {format_value(row.tiktoken, row.unit)} | "
                f"{format_value(row.bytepair, row.unit)} | {format_speedup(row.speedup)} |"
            )
    lines += [
        "",
        "Load: tiktoken = `load_tiktoken_bpe(path)` + `tiktoken.Encoding(...)`; bytepair = "
        "`bytepair.registry._build(spec)` (reads the file, checks its sha256, parses it in Rust), no cache.",
        f"Worst cases: bytepair runs the full input; tiktoken doubles its input from 4 KiB while one call is "
        f"predicted to take under {budget:g} s, and the row says when it stopped short.",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "fails"
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def format_speedup(speedup: float | None) -> str:
    return "n/a" if speedup is None else f"{speedup:.2f}x"


def write_csv(path: Path, rows: list[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        fields = [*asdict(rows[0]), "speedup"] if rows else []
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**asdict(row), "speedup": row.speedup})


if __name__ == "__main__":
    sys.exit(main())
