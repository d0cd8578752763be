"""The README's Python examples run, and its commands name things that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(index: int) -> None:
    exec(compile(python_blocks()[index], f"README.md python block {index}", "exec"), {})  # noqa: S102


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    commands = re.search(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    assert commands is not None
    main_job, test_command = commands.group(1).strip().splitlines()
    assert main_job == "pip install . && bytepair encode benches/corpus/english.txt -o english"
    assert (README.parent / "benches" / "corpus" / "english.txt").exists()
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    # `|| exit 1`: under `set -e` a failure before the last command of an `&&` list would not stop the script.
    assert f"{test_command} || exit 1" in ci.splitlines(), ".ci/run must run the README's test command word for word"
