"""Benchmark scripts that need no peers run end to end on the committed sample (their output's shape, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
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
