"""Benchmark scripts that need no peers run end to end on the committed sample (their output's shape, not speed)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from tests.conftest import SAMPLE_CORPUS

import bytepair

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds.py pins processes to CPUs (Linux only)")
def test_builds_compares_the_installed_build_with_itself() -> None:
    installed = Path(bytepair.__file__).resolve().parent.parent  # the directory a build's package sits in
    builds = f"{installed},{installed}"
    script = [sys.executable, ROOT / "benches" / "builds.py", SAMPLE_CORPUS / "english.txt", builds]
    command = [*map(str, script), "--configs", "1x1", "--rounds", "1", "--calls", "1"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603 (fixed command)
    line = re.compile(rf"threads=1 copies=1 {re.escape(str(installed))}: best \d+ MB/s, median-of-medians \d+, faults")
    assert [bool(line.match(row)) for row in done.stdout.splitlines()] == [True], done.stdout


def bench_module(name: str) -> ModuleType:
    """A script of benches/ imported as a module."""
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benches"))


def test_rounds_take_turns_and_keep_each_calls_best(monkeypatch: pytest.MonkeyPatch) -> None:
    compare = bench_module("compare")
    clock = [0.0]
    monkeypatch.setattr(compare.time, "perf_counter", lambda: clock[0])
    order: list[str] = []

    def scripted(label: str, seconds: list[float], fails_in_round: int | None = None) -> Callable[[], int]:
        rounds = iter(range(len(seconds)))

        def call() -> int:
            round_ = next(rounds)
            order.append(label)
            if round_ == fails_in_round:
                raise ValueError(f"{label} failed")
            clock[0] += seconds[round_]
            return round_

        return call

    outcomes = compare.best_of_rounds(
        3, {"a": scripted("a", [3.0, 1.0, 2.0]), "b": scripted("b", [1.0, 1.0, 1.0], fails_in_round=1)}
    )
    assert order == ["a", "b", "a", "b", "a"]  # b failed in the second round and was not run again
    assert outcomes["a"] == (1.0, 2)  # the fastest round's seconds, the last round's result
    assert isinstance(outcomes["b"], ValueError)
    with pytest.raises(ValueError, match="b failed"):
        compare.timed(outcomes["b"])

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare.best_of_rounds(2, {"a": scripted("a", [1.0, 1.0]), "stop": interrupted})


def test_side_by_side_loads_a_second_copy_of_a_build_with_the_same_ids(tmp_path: Path) -> None:
    installed = Path(bytepair.__file__).resolve().parent.parent
    script = [sys.executable, ROOT / "benches" / "side_by_side.py", f"{installed},{installed}", "cl100k_base"]
    command = [*map(str, script), SAMPLE_CORPUS / "english.txt", "--passes", "1", "--slice", "100"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603 (fixed command)
    rows = done.stdout.splitlines()
    assert re.fullmatch(r"cl100k_base english\.txt numpy, \d+ documents, \d+\.\d MB", rows[0]), done.stdout
    build = re.escape(str(installed))
    assert re.fullmatch(rf"  {build}: \d+\.\d MB/s, 1\.000x the first", rows[1]), done.stdout
    assert re.fullmatch(rf"  {build}: \d+\.\d MB/s, \d\.\d{{3}}x the first", rows[2]), done.stdout

    side_by_side = bench_module("side_by_side")
    # A copy of the installed extension in another directory, as a second build would be: a module of its own.
    extension = Path(bytepair._core.__file__)
    (tmp_path / "bytepair").mkdir()
    shutil.copy(extension, tmp_path / "bytepair" / extension.name)
    core = side_by_side.load_extension(tmp_path)
    assert core is not bytepair._core
    assert Path(core.__file__) == tmp_path / "bytepair" / extension.name
    text = "Hello world, 12345 héllo\n\n  x"
    expected = bytepair.get_encoding("o200k_base").encode_ordinary(text)
    assert side_by_side.encoder_call(core, "o200k_base", "list")(text) == expected
    assert side_by_side.encoder_call(core, "o200k_base", "numpy")(text).tolist() == expected


def test_side_by_side_reads_the_bytes_of_builds_before_encode_to_array() -> None:
    side_by_side = bench_module("side_by_side")

    class Encoder:  # a build's core before encode_to_array: little-endian bytes for numpy.frombuffer
        def __init__(self, *_: object) -> None:
            pass

        def special_policy(self, *_: object) -> None:
            return None

        def encode_to_bytes(self, text: str, _policy: None) -> bytes:
            return b"".join(len(word).to_bytes(4, "little") for word in text.split())

    old_core = types.SimpleNamespace(Encoder=Encoder)
    assert side_by_side.encoder_call(old_core, "cl100k_base", "numpy")("a bb ccc").tolist() == [1, 2, 3]


def test_side_by_side_builds_take_turns_and_keep_each_slices_best() -> None:
    side_by_side = bench_module("side_by_side")
    clock = [0.0]
    order: list[tuple[str, str]] = []
    # Seconds per call of each build, pass after pass: build b is slow in the first pass only.
    seconds = {"a": [2.0, 3.0, 1.0, 1.0], "b": [9.0, 9.0, 0.5, 0.5]}

    def build(label: str) -> Callable[[str], None]:
        def call(document: str) -> None:
            order.append((label, document))
            clock[0] += seconds[label].pop(0)

        return call

    best = side_by_side.best_slice_times([build("a"), build("b")], [["s0"], ["s1"]], passes=2, clock=lambda: clock[0])
    # Pass 0 runs a then b on slice 0, b then a on slice 1; pass 1 the other way round.
    first_pass = [("a", "s0"), ("b", "s0"), ("b", "s1"), ("a", "s1")]
    assert order == [*first_pass, ("b", "s0"), ("a", "s0"), ("a", "s1"), ("b", "s1")]
    assert best == [[1.0, 1.0], [0.5, 0.5]]


def test_worst_case_inputs_double_while_the_next_call_is_predicted_within_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compare = bench_module("compare")
    clock = [0.0]
    monkeypatch.setattr(compare.time, "perf_counter", lambda: clock[0])
    sizes: list[int] = []

    def encode_quadratic(text: str) -> list[int]:
        sizes.append(len(text))
        clock[0] += (len(text) / 4096) ** 2 * 0.01  # 4 KiB: 0.01 s, 8 KiB: 0.04 s, ...
        return [len(text)]

    def make(size: int, seed: int) -> str:
        assert seed == 0  # probes run seed 0; the timed repeats get seeds of their own
        return "x" * size

    reached = compare.probe(encode_quadratic, make, 1 << 20, budget=1.0)
    # 32 KiB took 0.64 s, 4x the last: 64 KiB is predicted at 2.56 s, over the budget.
    assert sizes == [4096, 8192, 16384, 32768]
    assert (reached.size, reached.ids, reached.failure) == (32768, [32768], None)
    sizes.clear()
    reached = compare.probe(encode_quadratic, make, 12_000, budget=100.0)
    assert sizes == [4096, 8192, 12_000]  # the last step stops at the full size
    assert reached.size == 12_000

    def fails_from_16_kib(text: str) -> list[int]:
        if len(text) >= 16384:
            raise RecursionError("stack overflow")
        return encode_quadratic(text)

    reached = compare.probe(fails_from_16_kib, make, 1 << 20, budget=100.0)
    assert (reached.size, reached.failure, reached.failed_size) == (8192, "RecursionError: stack overflow", 16384)
    reached = compare.probe(fails_from_16_kib, lambda size, _seed: "x" * (size + 16384), 1 << 20, budget=100.0)
    assert (reached.size, reached.text, reached.failed_size) == (0, "", 4096)
