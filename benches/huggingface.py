"""The transformers-style call against Hugging Face tokenizers' ``encode_batch``: same tokenizer.json, same documents.

bytepair runs ``tokenizer(texts, padding=True, return_tensors="np")`` (ids and attention mask as padded int64 arrays);
tokenizers runs ``Tokenizer.encode_batch(texts)`` (its native batch call, no padding, so it does strictly less work).
Both are checked to give the same ids first, then each is timed (best of N) and the ratio printed. Run from the
repository root on a release build, with the shared model files beside the project:

    python benches/huggingface.py --model llama3 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tokenizers

import bytepair
from bytepair import _core

ROOT = Path(__file__).resolve().parent.parent
CORPUS_KINDS = ("english", "code", "multilingual")
PAD_TOKENS = {"gpt2": "<|endoftext|>", "llama3": "<|end_of_text|>", "qwen2": "<|endoftext|>"}


def documents(size: int) -> list[str]:
    """The committed corpus samples cut into documents of about ``size`` characters at line breaks."""
    out: list[str] = []
    for kind in CORPUS_KINDS:
        current: list[str] = []
        length = 0
        for line in (ROOT / "benches" / "corpus" / f"{kind}.txt").read_text(encoding="utf-8").splitlines(True):
            current.append(line)
            length += len(line)
            if length >= size:
                out.append("".join(current))
                current, length = [], 0
    return out


def best_of(repeat: int, call: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    assert _core.is_release_build, "run: maturin develop --release (or pip install -e .)"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="llama3", choices=sorted(PAD_TOKENS))
    parser.add_argument("--shared", default=os.environ.get("BYTEPAIR_SHARED", str(ROOT.parent / "shared")))
    parser.add_argument("--document-chars", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    path = Path(args.shared) / "vocab" / "huggingface" / f"{args.model}.tokenizer.json"
    oracle = tokenizers.Tokenizer.from_file(str(path))
    ours = bytepair.Tokenizer.from_file(path, config={"pad_token": PAD_TOKENS[args.model]})
    texts = documents(args.document_chars)
    megabytes = sum(len(text.encode()) for text in texts) / 1e6

    expected = [encoding.ids for encoding in oracle.encode_batch(texts)]
    arrays = ours(texts, padding=True, return_tensors="np")
    lengths = arrays["attention_mask"].sum(axis=1)
    got = [row[:length].tolist() for row, length in zip(arrays["input_ids"], lengths, strict=True)]
    assert got == expected, "bytepair's ids differ from tokenizers'"

    theirs = best_of(args.repeat, lambda: oracle.encode_batch(texts))
    mine = best_of(args.repeat, lambda: ours(texts, padding=True, return_tensors="np"))
    print(f"command: python {shlex.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"versions: bytepair {bytepair.__version__}, tokenizers {tokenizers.__version__}")
    print(f"input: {len(texts)} documents, {megabytes:.2f} MB (benches/corpus), model {args.model}")
    print()
    print(f"| call | seconds (best of {args.repeat}) | MB/s |")
    print("| --- | ---: | ---: |")
    print(f"| tokenizers `encode_batch(texts)` | {theirs:.4f} | {megabytes / theirs:.1f} |")
    print(f'| bytepair `tok(texts, padding=True, return_tensors="np")` | {mine:.4f} | {megabytes / mine:.1f} |')
    print()
    print(f"ratio: bytepair is {theirs / mine:.1f}x tokenizers")


if __name__ == "__main__":
    main()
