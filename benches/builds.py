"""A/B of bytepair builds: `encode_batch_to_numpy` throughput and page faults per call, each build installed in its
own directory (``pip install --no-deps --target DIR WHEEL``), for changes too small to show in one run of
`scaling.py` on a noisy machine.

Each measurement runs in a fresh process pinned to the first N CPUs, with the builds interleaved in rounds, so a
slow spell of the machine hits every build alike. A process encodes the corpus (cl100k_base, cut into slices of
4,096 characters, the whole list times COPIES in one call) twice to warm up, then CALLS more times; a round reports
its best and median call and the minor page faults per call (``getrusage``). Printed per build: the best call of all
rounds, the median of the rounds' medians, the median of their fault counts. Linux only (CPU affinity):

    python benches/builds.py CORPUS.txt DIR_A,DIR_B --configs 16x1,1x1,16x4 --rounds 3

``16x4`` is 16 threads on the corpus four times over in one call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

SLICE_CHARACTERS = 4096


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    for threads, copies in args.configs:
        calls = args.calls or (max(5, 40 // copies) if threads > 1 else 6)
        rounds: dict[str, list[dict[str, float]]] = {build: [] for build in args.builds}
        for _ in range(args.rounds):
            for build in args.builds:
                command = [sys.executable, __file__, str(args.corpus), build, "--child"]
                command += ["--configs", f"{threads}x{copies}", "--calls", str(calls)]
                done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (this script)
                if done.returncode != 0:
                    sys.exit(f"{build} failed with {threads} threads:\n{done.stderr[-2000:]}")
                rounds[build].append(json.loads(done.stdout.splitlines()[-1]))
        for build, results in rounds.items():
            best = max(result["best"] for result in results)
            median = statistics.median(result["median"] for result in results)
            faults = statistics.median(result["faults"] for result in results)
            print(
                f"threads={threads} copies={copies} {build}: best {best:.0f} MB/s, median-of-medians {median:.0f}, "
                f"faults/call {faults:.0f}",
                flush=True,
            )
    return 0


def child(args: argparse.Namespace) -> int:
    """One build, one configuration: prints one JSON line."""
    ((threads, copies),) = args.configs
    (build,) = args.builds
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    sys.path.insert(0, build)
    import bytepair

    text = args.corpus.read_text(encoding="utf-8")
    documents = [text[at : at + SLICE_CHARACTERS] for at in range(0, len(text), SLICE_CHARACTERS)] * copies
    size = len(text.encode("utf-8")) * copies
    encoding = bytepair.get_encoding("cl100k_base")
    for _ in range(2):
        encoding.encode_batch_to_numpy(documents, num_threads=threads)
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    seconds = []
    for _ in range(args.calls):
        start = time.perf_counter()
        encoding.encode_batch_to_numpy(documents, num_threads=threads)
        seconds.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / args.calls
    result = {"best": size / min(seconds) / 1e6, "median": size / statistics.median(seconds) / 1e6, "faults": faults}
    print(json.dumps(result))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a UTF-8 text file")
    parser.add_argument("builds", type=lambda value: value.split(","), help="comma-separated install directories")
    parser.add_argument("--configs", type=parse_configs, default=parse_configs("16x1,1x1"), help="THREADSxCOPIES,...")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=0, help="timed calls per process (default: by configuration)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def parse_configs(value: str) -> list[tuple[int, int]]:
    configs = []
    for config in value.split(","):
        threads, _, copies = config.partition("x")
        configs.append((int(threads), int(copies or 1)))
    return configs


if __name__ == "__main__":
    sys.exit(main())
