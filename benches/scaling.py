"""Batch encoding against the number of cores: throughput and speedup over one thread for 1, 2, 4, 8 and 16 threads,
for bytepair (`encode_batch_to_numpy`), tiktoken (`encode_ordinary_batch` and concatenation into one NumPy array)
and every installed peer's batch call; prints one Markdown table.

Each thread count runs in a fresh process pinned to that many CPUs (``os.sched_setaffinity``), so every library,
whether it takes a thread count (bytepair, tiktoken, toktok-rs, quicktok-v1) or sizes its own pool from the CPUs it
may use (rayon in riptoken, bpe-openai, ...), gets exactly those cores. Before timing, each library's output is
checked against tiktoken's ids on every document; one that differs is reported, not timed. Counts above the CPUs
this process may use are skipped. Linux only (CPU affinity). About 2-4 minutes on 16 cores with the defaults:

    python benches/scaling.py                      # English, cl100k_base, 4 KiB documents
    python benches/scaling.py --threads 1,2 --kind code --encoding o200k_base
    python benches/scaling.py --threads 1,16 --copies 4 --libraries bytepair,toktok-rs

``--copies 4`` hands every library the documents four times over in one call (24 MB of English instead of 6): on 16
cores a 6 MB call takes about 3 ms, of which starting the threads and gathering the output are a part that a corpus
of gigabytes, encoded in large calls, does not pay per 6 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tiktoken
import tiktoken.load

import bytepair
import peers
from batch import flat_calls, flatten
from bytepair.config import ENCODINGS
from compare import (
    VOCAB_DIR,
    best_of,
    build_tiktoken,
    cpu_model,
    default_corpus_dir,
    load_corpus,
    progress,
    require_release_build,
    split_documents,
    stderr_silenced,
)

HERE = Path(__file__).resolve()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    require_release_build()
    usable, counts, skipped = counts_that_fit(args.threads, "thread")
    results: list[dict[str, Any]] = []
    for count in counts:
        progress(f"{count} thread{'s' if count > 1 else ''}")
        command = [sys.executable, str(HERE), "--worker", str(count), *worker_options(args)]
        # The child pins itself before loading anything; it inherits the parent's CPU set and picks from it.
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (our own script)
        if done.returncode:
            sys.exit(f"worker for {count} threads failed:\n{done.stderr}")
        results += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    invocation = shlex.join(["python", "benches/scaling.py", *(sys.argv[1:] if argv is None else argv)])
    print(render(results, invocation, usable, skipped, args))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_and_counts(parser, "threads")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="time each library at least 3 runs and until this many seconds have passed; the best run counts",
    )
    parser.add_argument(
        "--copies", type=int, default=1, help="the documents this many times over in each call (default: 1)"
    )
    parser.add_argument(
        "--libraries",
        type=lambda text: text.split(","),
        help="comma-separated libraries to time, by their label in the table (default: every installed one)",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def add_corpus_and_counts(parser: argparse.ArgumentParser, counted: str) -> None:
    """The options this script shares with ceiling.py: which corpus and encoding, and ``--COUNTED``, the comma-separated
    numbers of threads or processes to run."""
    parser.add_argument("--corpus-dir", type=Path, default=default_corpus_dir(), help="holds KIND.txt")
    parser.add_argument("--kind", default="english", help="which corpus (default: %(default)s)")
    parser.add_argument("--encoding", default="cl100k_base", choices=list(ENCODINGS), help="(default: %(default)s)")
    parser.add_argument(
        f"--{counted}",
        type=lambda text: [int(one) for one in text.split(",")],
        default=[1, 2, 4, 8, 16],
        help=f"comma-separated counts of {counted} (default: 1,2,4,8,16)",
    )


def counts_that_fit(asked: list[int], what: str) -> tuple[list[int], list[int], list[int]]:
    """The CPUs this process may use, the counts in ``asked`` that fit them, and those that do not; exits if none fits
    them."""
    usable = sorted(os.sched_getaffinity(0))
    counts = [count for count in asked if count <= len(usable)]
    if not counts:
        sys.exit(f"no {what} count fits the {len(usable)} CPUs this process may use")
    return usable, counts, [count for count in asked if count > len(usable)]


def worker_options(args: argparse.Namespace) -> list[str]:
    return [
        *("--corpus-dir", str(args.corpus_dir)),
        *("--kind", args.kind),
        *("--encoding", args.encoding),
        *("--min-seconds", str(args.min_seconds)),
        *("--copies", str(args.copies)),
        *(("--libraries", ",".join(args.libraries)) if args.libraries else ()),
    ]


def worker(args: argparse.Namespace) -> int:
    """One thread count: pin to that many CPUs, check every library's ids, time each, print one JSON line each."""
    threads = args.worker
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    name = args.encoding
    spec = ENCODINGS[name]
    documents = split_documents(load_corpus(args.corpus_dir / f"{args.kind}.txt", None)) * args.copies
    size = sum(len(document.encode("utf-8")) for document in documents)
    ours = bytepair.get_encoding(name)
    theirs = build_tiktoken(name)
    expected_tokens, expected_offsets = flatten(theirs.encode_ordinary_batch(documents, num_threads=threads))
    vocab_path = VOCAB_DIR / spec.vocab_file
    with tempfile.TemporaryDirectory(prefix="bytepair-scaling-") as scratch:
        ranks = tiktoken.load.load_tiktoken_bpe(str(vocab_path))
        found, _missing = peers.build_all(spec, ranks, vocab_path, threads, Path(scratch))
        versions = {"tiktoken": tiktoken.__version__, "bytepair": bytepair.__version__}
        versions.update({peer.label: peer.version for peer in found})
        for library, call in flat_calls(ours, theirs, found, threads).items():
            if args.libraries and library not in args.libraries:
                continue
            result: dict[str, Any] = {"library": library, "version": versions[library], "threads": threads}
            try:
                with stderr_silenced():  # a peer's Rust panic prints its backtrace straight to fd 2
                    tokens, offsets = call(documents)  # the check, and the warm-up
                    if np.array_equal(tokens, expected_tokens) and np.array_equal(offsets, expected_offsets):
                        runs = timed_runs(args.min_seconds, lambda call=call: call(documents))
                        result.update(
                            seconds=min(runs), median=statistics.median(runs), bytes=size, tokens=len(expected_tokens)
                        )
                    else:
                        result["problem"] = "wrong ids"
            except BaseException as err:  # PanicException derives from BaseException, not Exception
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise
                result["problem"] = f"raises {type(err).__name__}"
            print(json.dumps(result), flush=True)
    return 0


def timed_runs(min_seconds: float, call: Any) -> list[float]:
    """The seconds of at least three runs, timing more while fewer than ``min_seconds`` have passed."""
    start = time.perf_counter()
    runs: list[float] = []
    while len(runs) < 3 or time.perf_counter() - start < min_seconds:
        seconds, _ = best_of(1, call)
        runs.append(seconds)
    return runs


def render(
    results: list[dict[str, Any]], invocation: str, usable: list[int], skipped: list[int], args: argparse.Namespace
) -> str:
    single = {one["library"]: one for one in results if one["threads"] == 1 and "seconds" in one}
    lines = [
        f"Command: `{invocation}`",
        f"Machine: {cpu_model()}, {len(usable)} CPUs usable; Python {sys.version.split()[0]}; "
        f"{args.encoding}, {args.kind} corpus from {args.corpus_dir} in documents of about 4 KiB"
        + (f", {args.copies} times over in each call; " if args.copies > 1 else "; ")
        + "flat uint32 ids + offsets, checked against tiktoken's ids; at least 3 runs and "
        f"{args.min_seconds:g} s per row, the best and the median shown."
        + (f" Skipped (more than the usable CPUs): {skipped}." if skipped else ""),
        "",
        # Both: on a shared machine one thread's speed can vary from run to run far more than many threads' does,
        # and then a speedup of best runs swings with the luck of the one-thread runs.
        "| library | threads | MB/s, best | MB/s, median | M tokens/s, best | speedup vs 1 thread, best | "
        "speedup, medians |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for one in sorted(results, key=lambda one: (one["library"] != "bytepair", one["library"], one["threads"])):
        label = f"{one['library']} {one['version']}"
        if "seconds" not in one:
            lines.append(f"| {label} | {one['threads']} | {one['problem']} | | | | |")
            continue
        base = single.get(one["library"])
        speedups = (
            f"{base['seconds'] / one['seconds']:.2f}x | {base['median'] / one['median']:.2f}x" if base else "n/a | n/a"
        )
        lines.append(
            f"| {label} | {one['threads']} | {one['bytes'] / one['seconds'] / 1e6:.1f} | "
            f"{one['bytes'] / one['median'] / 1e6:.1f} | {one['tokens'] / one['seconds'] / 1e6:.2f} | {speedups} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
