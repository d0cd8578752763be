"""Regenerate the golden vectors shared by tests/golden_vectors.rs and tests/test_vectors.py, offline.

    python tests/vectors/generate.py

The oracle is official tiktoken (0.14), built from the vocab files bytepair ships in python/bytepair/vocab/: each
encoding comes from tiktoken's own constructor (tiktoken_ext.openai_public), whose file loader is pointed at the
shipped file after checking its sha256 against the hash tiktoken pins, so nothing is downloaded and the pattern and
special tokens are tiktoken's, not bytepair's. gpt2's constructor reads GPT-2's encoder.json and vocab.bpe; those give
exactly the r50k_base ranks, so it gets the shipped r50k_base file.

Writes, next to this script:
- encodings.json: for each encoding, its vocab file (relative to python/bytepair/vocab), pattern and special tokens;
- <encoding>.jsonl: one case a line, {"text": ..., "ordinary": [...], "all_special": [...]}, where ordinary is
  encode_ordinary(text) and all_special is encode(text, allowed_special="all").

The texts are the hand-picked edge cases below, then lines taken at even intervals from benches/corpus/*.txt. Any
bytepair import is deliberately absent: the vectors must not depend on the code they check.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VOCAB_DIR = ROOT / "python" / "bytepair" / "vocab"
CORPUS_DIR = ROOT / "benches" / "corpus"

# json.dumps leaves these raw, but str.splitlines() and some editors break lines at them.
LINE_BREAKS_TO_ESCAPE = ("\x85", "\u2028", "\u2029")

ENCODING_NAMES = ["gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"]

# GPT-2's encoder.json + vocab.bpe convert to exactly these ranks (tests/test_load.py checks it).
GPT2_RANK_FILE = "r50k_base.tiktoken"

EDGE_CASES = [
    # Empty and single characters.
    "",
    "a",
    "A",
    " ",
    "\n",
    "\t",
    "'",
    "7",
    "é",
    "中",
    "😀",
    "\x00",
    # Whitespace: CRLF, tabs, no-break and ideographic spaces, trailing spaces, runs of newlines.
    "\r\n",
    "a\r\nb\r\n",
    "x\r\n\r\n  ",
    "  \r\n  indented",
    "x\t\t",
    "a \tb\t c",
    "a\u00a0b",
    " \u00a0x",
    "\u3000日本\u3000語\u3000",
    "a  ",
    "  \n",
    "\n\n\n\n\n",
    "a\n\n\nb",
    "a\n \n  \n   b",
    "  \n\n  x  \n",
    "\x0b\x0c\x1c\x1d\x1e\x1f",
    "line\u2028next\u2029para\u0085end",
    "trailing space then newline \n",
    # Digits: every run length from 1 to 10, and non-ASCII numbers.
    *["1234567890"[:n] for n in range(1, 11)],
    "x123456789y",
    "3.14159 and 1,000,000",
    "٣٤٥ ०१२ ①② Ⅻ ¼",
    # Contractions in every case.
    "'s 'S 'll 'LL 'Ll 'Ve 've 'VE 're 'RE 'd 'D 'm 'M 't 'T",
    "he's HE'S we'll WE'LL they'Ve they've I'd I'M don't DON'T",
    "it''s 'x rock'n'roll \u2019s \u02bcs",
    # Emoji and ZWJ sequences.
    "👍👍🏽",
    "👨\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈 ❤️ 🇺🇸🇫🇷",
    "hi 👋 there!🙂",
    # Scripts.
    "你好，世界！中文文本。",  # noqa: RUF001  (fullwidth punctuation on purpose)
    "こんにちは世界、カタカナとひらがな。",
    "한국어 텍스트입니다",
    "مرحبا بالعالم، كيف حالك؟",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Привет, мир! Ёжик",
    "Γειά σου Κόσμε",  # noqa: RUF001  (Greek on purpose)
    # Combining marks.
    "e\u0301",
    "Cafe\u0301 cre\u0300me",
    " \u0301x",
    "a\u0300\u0301\u0302\u0303\u0304",
    "Z\u0324\u0354\u0367\u0311a\u0308\u0356\u032dlg\u030co",
    # Upper/lower-case mixes (o200k splits at lower-to-upper changes).
    "HelloWorld helloWORLD HELLOworld",
    "camelCaseString XMLHttpRequest iPhone",
    "ǅungla ǈj ǋnx",
    "ΑΒΓαβγ ПриветМИР",
    "ß SS ẞ straße STRASSE",
    "ABC'S abc'S Abc'll ABC'LL",
    # Special-token strings, complete and partial.
    "<|endoftext|>",
    "hello<|endoftext|>world",
    "<|endoftext|><|endoftext|>",
    "<|fim_prefix|>a<|fim_middle|>b<|fim_suffix|>",
    "<|endofprompt|> <|startoftext|>",
    "<|start|>user<|message|>hi<|end|><|return|>",
    "<|channel|>x<|constrain|><|call|><|reserved_200100|>",
    "<|endoftext| <|endoftext <<|endoftext|>>",
    # Code and punctuation.
    "def f(x):\n    return x**2\n",
    "if (a && b) { c++; }\r\n",
    "http://example.com/a/b?q=1&r=2#frag",
    "a//b /// c/",
    "\ufeffBOM \ufffd",
    " " * 40 + "x",
    "a" * 60,
]


def shipped_rank_file(blobpath: str, expected_hash: str | None) -> Path:
    """The shipped vocab file with the same name as tiktoken's download, after checking the pinned sha256."""
    path = VOCAB_DIR / os.path.basename(blobpath)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if expected_hash is not None and digest != expected_hash:
        raise SystemExit(f"{path} has sha256 {digest}; tiktoken pins {expected_hash}")
    return path


def read_ranks(path: Path) -> dict[bytes, int]:
    # tiktoken caches even local files by path; passing the file's own hash keeps a stale cached copy out.
    return tiktoken.load.load_tiktoken_bpe(str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def official_definitions() -> dict[str, dict[str, Any]]:
    """tiktoken's constructor arguments for each encoding, plus the shipped vocab file it reads."""
    vocab_files: dict[str, str] = {}
    current: list[str] = []

    def load_tiktoken_bpe(tiktoken_bpe_file: str, expected_hash: str | None = None) -> dict[bytes, int]:
        path = shipped_rank_file(tiktoken_bpe_file, expected_hash)
        vocab_files.setdefault(current[-1], path.name)
        return read_ranks(path)

    def data_gym_to_mergeable_bpe_ranks(*args: object, **kwargs: object) -> dict[bytes, int]:
        vocab_files.setdefault(current[-1], GPT2_RANK_FILE)
        return read_ranks(VOCAB_DIR / GPT2_RANK_FILE)

    openai_public.load_tiktoken_bpe = load_tiktoken_bpe  # type: ignore[assignment]
    openai_public.data_gym_to_mergeable_bpe_ranks = data_gym_to_mergeable_bpe_ranks  # type: ignore[assignment]
    definitions = {}
    for name in ENCODING_NAMES:
        current.append(name)
        definition = openai_public.ENCODING_CONSTRUCTORS[name]()
        definition["vocab_file"] = vocab_files[name]
        definitions[name] = definition
    return definitions


def corpus_lines(per_kind: int = 6, max_chars: int = 240) -> list[str]:
    """Lines (with their line break) at even intervals through each committed corpus sample, skipping blank ones."""
    texts = []
    for kind in ("english", "code", "multilingual"):
        lines = (CORPUS_DIR / f"{kind}.txt").read_text(encoding="utf-8").splitlines(keepends=True)
        candidates = [line for line in lines if line.strip() and len(line) <= max_chars]
        step = len(candidates) // per_kind
        texts.extend(candidates[step // 2 :: step][:per_kind])
    return texts


def to_json_line(case: dict[str, Any]) -> str:
    """Compact JSON, UTF-8 except for characters that some readers take as line breaks (escaped, still valid JSON)."""
    line = json.dumps(case, ensure_ascii=False, separators=(",", ":"))
    for char in LINE_BREAKS_TO_ESCAPE:
        line = line.replace(char, f"\\u{ord(char):04x}")
    return line


def main() -> None:
    definitions = official_definitions()
    texts = EDGE_CASES + corpus_lines()
    assert len(set(texts)) == len(texts), "duplicate text"
    summary = {
        name: {
            "vocab_file": definition["vocab_file"],
            "pattern": definition["pat_str"],
            "special_tokens": dict(sorted(definition["special_tokens"].items(), key=lambda item: item[1])),
        }
        for name, definition in definitions.items()
    }
    (HERE / "encodings.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, definition in definitions.items():
        encoding = tiktoken.Encoding(
            definition["name"],
            pat_str=definition["pat_str"],
            mergeable_ranks=definition["mergeable_ranks"],
            special_tokens=definition["special_tokens"],
            explicit_n_vocab=definition.get("explicit_n_vocab"),
        )
        ordinary = encoding.encode_ordinary_batch(texts)
        all_special = encoding.encode_batch(texts, allowed_special="all")
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as out:
            for text, ids, special_ids in zip(texts, ordinary, all_special, strict=True):
                case = {"text": text, "ordinary": ids, "all_special": special_ids}
                out.write(to_json_line(case) + "\n")
    print(f"wrote encodings.json and {len(definitions)} files of {len(texts)} cases to {HERE}")


if __name__ == "__main__":
    main()
