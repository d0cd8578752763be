"""First pass against warm repeats: single-thread `encode_ordinary` of a corpus, one fresh process per library.

benches/compare.py times every library after it has encoded each document once (the ids check), and keeps the best
of its repeats: a library with a large cache of pieces across calls is timed with that cache full of this corpus's
pieces. This script shows what that is worth: each library runs in a new process, encodes the documents once
(the first pass: nothing cached, except what loading itself prepares) and then again (the repeat), and the ids of the
first pass are checked against tiktoken's. Run from the repository root on a release build:

    python benches/first_pass.py --encoding cl100k_base --corpus english
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tiktoken.load

import compare
import peers


def encoder_for(label: str, name: str, scratch: Path) -> object:
    """The single-document encode function of one library, built as compare.py builds it."""
    if label == "tiktoken":
        return compare.build_tiktoken(name).encode_ordinary
    if label == "bytepair":
        import bytepair

        return bytepair.get_encoding(name).encode_ordinary
    spec = compare.ENCODINGS[name]
    vocab_path = compare.VOCAB_DIR / spec.vocab_file
    ranks = tiktoken.load.load_tiktoken_bpe(str(vocab_path))
    for peer in peers.build_all(spec, ranks, vocab_path, 1, scratch)[0]:
        if peer.label == label:
            return peer.encode_one
    raise SystemExit(f"{label} is not available")


def child(label: str, name: str, corpus: Path) -> None:
    """Prints one JSON line: first-pass and repeat seconds and a digest of the first pass's ids."""
    documents = compare.split_documents(compare.load_corpus(corpus, None))
    with tempfile.TemporaryDirectory() as scratch:
        encode = encoder_for(label, name, Path(scratch))
        seconds = []
        digest = hashlib.sha256()
        for attempt in range(2):
            start = time.perf_counter()
            results = [encode(document) for document in documents]
            seconds.append(time.perf_counter() - start)
            if attempt == 0:
                for ids in results:
                    digest.update(json.dumps([int(i) for i in ids]).encode())
    size = sum(len(document.encode()) for document in documents)
    print(json.dumps({"first": seconds[0], "repeat": seconds[1], "digest": digest.hexdigest(), "bytes": size}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoding", default="cl100k_base")
    parser.add_argument("--corpus", default="english", help="english, code or multilingual")
    parser.add_argument("--corpus-dir", type=Path, default=compare.default_corpus_dir())
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    corpus = args.corpus_dir / f"{args.corpus}.txt"
    if args.child:
        child(args.child, args.encoding, corpus)
        return 0
    labels = ["tiktoken", "bytepair", *(label for label, _ in peers.BUILDERS)]
    print(f"`python benches/first_pass.py --encoding {args.encoding} --corpus {args.corpus}` ({corpus})\n")
    print("| library | first pass | repeat | ids = tiktoken's |\n|---|--:|--:|---|")
    reference = None
    for label in labels:
        command = [sys.executable, __file__, "--child", label, "--encoding", args.encoding, "--corpus", args.corpus]
        command += ["--corpus-dir", str(args.corpus_dir)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (this same script)  # noqa: S603 (this very script)
        if done.returncode != 0 or not done.stdout.strip():
            print(f"| {label} | - | - | not run: {(done.stderr.strip().splitlines() or ['?'])[-1][:80]} |")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        reference = reference or result["digest"]
        first, repeat = (compare.megabytes_per_second(result["bytes"], result[key]) for key in ("first", "repeat"))
        same = "yes" if result["digest"] == reference else "NO"
        print(f"| {label} | {first:.1f} MB/s | {repeat:.1f} MB/s | {same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
