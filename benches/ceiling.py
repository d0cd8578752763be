"""What a machine's cores give when they all work at once, without any threading of ours: N processes, each pinned to
a CPU of its own, run the same one-thread work at the same moment, and their combined speed is set against one
process alone. It is the ceiling that `scaling.py`'s speedups can be read against: on a virtual machine whose CPUs
share physical cores, or slow down together, N processes give less than N times one.

Two kinds of work: `bytepair` encodes the corpus with ``encode_batch_to_numpy(..., num_threads=1)`` (the one-thread
row of `scaling.py`), `spin` runs Python loops of 100,000 steps of integer arithmetic (no memory traffic to speak
of, so it shows the cores' clock and sharing alone). Each process loads everything, says it is ready, and starts when
all are; each runs for ``--seconds`` and reports the work it finished and the time it took. Linux only (CPU affinity):

    python benches/ceiling.py                          # 1, 2, 4, 8, 16 processes, English, cl100k_base
    python benches/ceiling.py --processes 1,2 --seconds 2
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bytepair
from compare import cpu_model, load_corpus, progress, require_release_build, split_documents
from scaling import add_corpus_and_counts, counts_that_fit

HERE = Path(__file__).resolve()
WORKS = ("bytepair", "spin")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    require_release_build()
    usable, counts, _skipped = counts_that_fit(args.processes, "process")
    rows = []
    for work in WORKS:
        for count in counts:
            progress(f"{work}: {count} process{'es' if count > 1 else ''}")
            rows.append((work, count, run_together(args, work, usable[:count])))
    invocation = shlex.join(["python", "benches/ceiling.py", *(sys.argv[1:] if argv is None else argv)])
    print(render(rows, invocation, usable, args))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_and_counts(parser, "processes")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each process works (default: 3)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_together(args: argparse.Namespace, work: str, cpus: list[int]) -> list[dict[str, Any]]:
    """Starts one worker per CPU, waits until each is ready, then lets them all go at once; their reports."""
    options = ["--corpus-dir", str(args.corpus_dir), "--kind", args.kind, "--encoding", args.encoding]
    options += ["--seconds", str(args.seconds), "--worker", work]
    workers = [
        subprocess.Popen(  # noqa: S603  (our own script)
            [sys.executable, str(HERE), *options, "--cpu", str(cpu)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for cpu in cpus
    ]
    for one in workers:
        assert one.stdout is not None and one.stdin is not None  # PIPE asked for above
        if one.stdout.readline().strip() != "ready":
            sys.exit(f"a {work} worker failed before it was ready")
    for one in workers:
        assert one.stdin is not None
        one.stdin.write("go\n")
        one.stdin.flush()
    reports = []
    for one in workers:
        out, _ = one.communicate()
        if one.returncode:
            sys.exit(f"a {work} worker failed (exit status {one.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def worker(args: argparse.Namespace) -> int:
    """Pinned to one CPU: loads the work, prints ``ready``, waits for ``go``, works ``--seconds``, prints its report."""
    os.sched_setaffinity(0, [args.cpu])
    if args.worker == "bytepair":
        documents = split_documents(load_corpus(args.corpus_dir / f"{args.kind}.txt", None))
        encoding = bytepair.get_encoding(args.encoding)
        size = sum(len(document.encode("utf-8")) for document in documents)

        def unit() -> None:
            encoding.encode_batch_to_numpy(documents, disallowed_special=(), num_threads=1)

        unit()  # warm: the tables, this thread's caches
    else:
        size = 1

        def unit() -> None:
            total = 0
            for number in range(100_000):
                total += number * number % 7

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    units = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        unit()
        units += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"units": units, "seconds": seconds, "bytes": size * units}), flush=True)
    return 0


def rate(report: dict[str, Any]) -> float:
    """A worker's bytes (or loops) per second."""
    return float(report["bytes"]) / float(report["seconds"])


def render(rows: list[tuple[str, int, list[dict[str, Any]]]], invocation: str, usable: list[int], args: Any) -> str:
    lines = [
        f"Command: `{invocation}`",
        f"Machine: {cpu_model()}, {len(usable)} CPUs usable; Python {sys.version.split()[0]}; bytepair "
        f"{bytepair.__version__}; {args.encoding}, {args.kind} corpus in documents of about 4 KiB; each process "
        f"pinned to its own CPU, all started at once, {args.seconds:g} s each.",
        "",
        "| work | processes | per process, slowest | per process, mean | all together | vs one process |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    # One process alone, per work, for the last column (absent when 1 was not among the counts asked for).
    alone = {work: sum(rate(report) for report in reports) for work, count, reports in rows if count == 1}
    for work, count, reports in rows:
        rates = [rate(report) for report in reports]
        together = sum(rates)

        def shown(value: float, work: str = work) -> str:
            return f"{value / 1e6:,.1f} MB/s" if work == "bytepair" else f"{value:,.0f} loops/s"

        ratio = f"{together / alone[work]:.2f}x" if work in alone else "n/a"
        lines.append(
            f"| {work} | {count} | {shown(min(rates))} | {shown(together / count)} | {shown(together)} | {ratio} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
