"""Benchmark scripts that need no peers run end to end on the committed sample (their output's shape, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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


def test_rounds_take_turns_and_keep_each_calls_best(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        import compare
    finally:
        sys.path.remove(str(ROOT / "benches"))
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
