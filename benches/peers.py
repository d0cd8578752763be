"""The other exact tokenizers that benches/compare.py times beside bytepair and tiktoken, each built offline.

One builder per package. A builder returns a `Peer` (what to call for each benchmark row) or raises `Unavailable`
(not installed, or cannot be built for this encoding without downloading). Each peer is built from the vocab files
bytepair ships, or from the ranks read from them; a package that can only use its own bundled copy of the data says
so in `Peer.source`, and compare.py times it only after its ids equal tiktoken's on every document.

compare.py checks every output against tiktoken's ids; nothing here is trusted to be exact.

Left out on purpose: the PyPI projects `quicktok` 0.2.0 (a minbpe-style trainer with no regex split and no way to load
tiktoken ranks; it also installs the same `quicktok` module as quicktok-v1) and `toktok` 0.0.2 (an unrelated word
tokenizer, source only). A wrong or missing `toktok-rs` / `quicktok-v1` is caught by the distribution check below.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from bytepair.config import EncodingSpec

# Row kinds, in table order. compare.py gives tiktoken and bytepair the same kinds.
ENCODE = "encode"  # one document per call, ids as a list
ENCODE_ARRAY = "encode_array"  # one document per call, ids as an array
BATCH = "batch"  # all documents in one call on every core, a list of lists
BATCH_ARRAY = "batch_array"  # all documents in one call on every core, flat ids + offsets
DECODE = "decode"  # one token list per call, back to text
KINDS = (ENCODE, ENCODE_ARRAY, BATCH, BATCH_ARRAY, DECODE)


class Unavailable(Exception):
    """This peer cannot run here: the message says why (shown in the report)."""


@dataclass
class Op:
    """One timed call over all inputs, and how to read its result back untimed for the check."""

    api: str  # what it calls, for the report's legend
    run: Callable[[Any], Any]  # documents (or token lists, for DECODE) -> raw result; this is what is timed
    # raw result -> list of id lists (encode kinds) or list of bytes (DECODE); identity when already so
    read: Callable[[Any], list[Any]] = lambda result: result


@dataclass
class Peer:
    label: str  # the column name
    dist: str  # the PyPI distribution
    version: str
    source: str  # where its vocab comes from, for the report
    encode_one: Callable[[str], Sequence[int]]  # for the ids check, one document
    ops: dict[str, Op] = field(default_factory=dict)
    # rank -> token bytes for every rank; set for peers that bring their own copy of the vocab
    token_bytes: Callable[[int], bytes] | None = None


@dataclass
class Context:
    """What a builder may use: the encoding, its ranks and vocab file, the thread count, a scratch folder."""

    spec: EncodingSpec
    ranks: dict[bytes, int]
    vocab_path: Path
    threads: int
    scratch: Path


def build_all(
    spec: EncodingSpec, ranks: dict[bytes, int], vocab_path: Path, threads: int, scratch: Path
) -> tuple[list[Peer], list[tuple[str, str]]]:
    """Every peer that can run: (peers, [(label, why not)] for the others). ``scratch``: a folder they may write."""
    context = Context(spec, ranks, vocab_path, threads, scratch)
    peers, missing = [], []
    for label, build in BUILDERS:
        try:
            peers.append(build(context))
        except Unavailable as reason:
            missing.append((label, str(reason)))
        except Exception as err:  # a peer that fails to build must not stop the others
            missing.append((label, f"failed to build: {type(err).__name__}: {err}"))
    return peers, missing


def installed(module: str, dist: str) -> tuple[Any, str]:
    """(module, version of its distribution), or Unavailable when the distribution is not installed."""
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise Unavailable("not installed") from None
    return importlib.import_module(module), version


def per_document(encode: Callable[[str], Any]) -> Callable[[list[str]], list[Any]]:
    return lambda documents: [encode(document) for document in documents]


def flat_to_lists(ids: Any, offsets: Any) -> list[list[int]]:
    ids, offsets = ids.tolist(), offsets.tolist()
    return [ids[start:end] for start, end in pairwise(offsets)]


def as_bytes(texts: list[Any]) -> list[bytes]:
    return [text.encode("utf-8") if isinstance(text, str) else bytes(text) for text in texts]


# ==== Hugging Face tokenizers: a byte-level BPE rebuilt from the ranks ====


def gpt2_byte_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character (bytes that print stand for themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge list in rank order: for each token of two bytes or more, the pair BPE joins into it.

    The pair is found by running BPE on the token's own bytes with only the lower ranks allowed; it ends at two
    parts for every token BPE can build. (A token it cannot build gets no merge; the ids check would show it.)
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = [token[i : i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best_rank, best_index = rank, -1
            for index in range(len(parts) - 1):
                pair_rank = ranks.get(parts[index] + parts[index + 1])
                if pair_rank is not None and pair_rank < best_rank:
                    best_rank, best_index = pair_rank, index
            if best_index < 0:
                break
            parts[best_index : best_index + 2] = [parts[best_index] + parts[best_index + 1]]
        if len(parts) == 2 and parts[0] in ranks and parts[1] in ranks:
            merges.append((parts[0], parts[1]))
    return merges


def build_tokenizers(context: Context) -> Peer:
    tokenizers, version = installed("tokenizers", "tokenizers")
    from tokenizers import Regex, decoders, models, pre_tokenizers

    char = gpt2_byte_to_unicode()

    def text(token: bytes) -> str:
        return "".join(char[byte] for byte in token)

    vocab = {text(token): rank for token, rank in context.ranks.items()}
    merges = [(text(left), text(right)) for left, right in recover_merges(context.ranks)]
    # ignore_merges: a piece that is itself a token is that token, as in tiktoken.
    tokenizer = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(context.spec.pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # Special tokens are left out on purpose: the rows are tiktoken's encode_ordinary, which ignores them.
    # The pattern is used as it is, even where its regex engine (Oniguruma) reads it otherwise: it takes cl100k's
    # `\p{N}{1,3}+` as "one or more runs of 1-3 digits", not as a possessive `{1,3}`, so long numbers stay one piece
    # and the ids check reports the documents where that changes the ids.

    def encode_one(document: str) -> list[int]:
        return tokenizer.encode(document, add_special_tokens=False).ids

    batch = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)  # _fast (0.20+) skips offsets
    return Peer(
        label="HF tokenizers",
        dist="tokenizers",
        version=version,
        source=f"`tokenizers.Tokenizer` (BPE + Split/ByteLevel) built from the ranks, {len(merges):,} merges recovered",
        encode_one=encode_one,
        ops={
            ENCODE: Op("`encode(d, add_special_tokens=False).ids`", per_document(encode_one)),
            BATCH: Op(
                f"`{batch.__name__}(docs, add_special_tokens=False)` + `.ids` (rayon, all cores)",
                lambda documents: [one.ids for one in batch(documents, add_special_tokens=False)],
            ),
            DECODE: Op("`decode(ids)` (str)", per_document(tokenizer.decode), as_bytes),
        },
    )


# ==== bpe-openai: GitHub's rust-gems `bpe` behind a tiktoken-style wrapper ====


def build_bpe_openai(context: Context) -> Peer:
    bpe_openai, version = installed("bpe_openai", "bpe-openai")
    # The Rust crate compiles its own copy of the vocab in; there is no way to hand it ours. Only the encodings it
    # ships data for: for the others its wrapper asks tiktoken, which downloads.
    if not (importlib.resources.files("bpe_openai.data") / f"{context.spec.name}.tiktoken.gz").is_file():
        raise Unavailable(f"ships no {context.spec.name}")
    encoding = bpe_openai.get_encoding(context.spec.name)
    threads = context.threads
    return Peer(
        label="bpe-openai",
        dist="bpe-openai",
        version=version,
        source="its own bundled copy of the vocab (compiled into the Rust crate)",
        encode_one=encoding.encode_ordinary,
        token_bytes=encoding.decode_single_token_bytes,
        ops={
            ENCODE: Op("`encode_ordinary(d)`", per_document(encoding.encode_ordinary)),
            ENCODE_ARRAY: Op("`encode_to_numpy(d)`", per_document(encoding.encode_to_numpy), arrays_to_lists),
            BATCH: Op(
                f"`encode_ordinary_batch(docs, num_threads={threads})` (Python thread pool)",
                lambda documents: encoding.encode_ordinary_batch(documents, num_threads=threads),
            ),
            DECODE: Op("`decode_bytes(ids)`", per_document(encoding.decode_bytes)),
        },
    )


def arrays_to_lists(arrays: list[Any]) -> list[list[int]]:
    return [array.tolist() for array in arrays]


# ==== riptoken: a tiktoken-style CoreBPE built from the ranks ====


def build_riptoken(context: Context) -> Peer:
    riptoken, version = installed("riptoken", "riptoken")
    # CoreBPE directly: riptoken.Encoding forwards what it does not speed up (encode_to_numpy) to tiktoken itself.
    core = riptoken.CoreBPE(dict(context.ranks), dict(context.spec.special_tokens), context.spec.pattern)
    return Peer(
        label="riptoken",
        dist="riptoken",
        version=version,
        source="`riptoken.CoreBPE(ranks, specials, pattern)` from the same ranks",
        encode_one=core.encode_ordinary,
        ops={
            ENCODE: Op("`CoreBPE.encode_ordinary(d)`", per_document(core.encode_ordinary)),
            BATCH: Op("`CoreBPE.encode_ordinary_batch(docs)` (rayon, all cores)", core.encode_ordinary_batch),
            DECODE: Op("`CoreBPE.decode_bytes(ids)`", per_document(core.decode_bytes)),
        },
    )


# ==== toktok-rs (imports as toktok) ====


def build_toktok(context: Context) -> Peer:
    toktok, version = installed("toktok", "toktok-rs")
    # Its public API only counts tokens; `_encoding(name)` is the documented way to the full encode/decode surface.
    # Its vocab is compiled in, and a data folder must hold its own binary format, so it uses its own copy.
    try:
        tokenizer = toktok._encoding(context.spec.name)
    except KeyError as err:
        raise Unavailable(f"has no {context.spec.name}") from err
    threads = context.threads
    return Peer(
        label="toktok-rs",
        dist="toktok-rs",
        version=version,
        source="its own bundled copy of the vocab (compiled in); reached through `toktok._encoding(name)`",
        encode_one=tokenizer.encode_ordinary,
        token_bytes=tokenizer.decode_single_token_bytes,
        ops={
            ENCODE: Op("`encode_ordinary(d)`", per_document(tokenizer.encode_ordinary)),
            ENCODE_ARRAY: Op("`encode_to_numpy(d)`", per_document(tokenizer.encode_to_numpy), arrays_to_lists),
            BATCH_ARRAY: Op(
                f"`encode_batch_to_numpy(docs, {threads})`",
                lambda documents: tokenizer.encode_batch_to_numpy(documents, threads),
                lambda result: flat_to_lists(*result),
            ),
            DECODE: Op("`decode_bytes(ids)`", per_document(tokenizer.decode_bytes)),
        },
    )


# ==== wordchipper: reads the vocab file from its cache folder, which we fill with ours ====


def build_wordchipper(context: Context) -> Peer:
    wordchipper, version = installed("wordchipper", "wordchipper")
    name = context.spec.name
    if f"openai:{name}" not in wordchipper.Tokenizer.available_models():
        raise Unavailable(f"has no {name}")
    # from_pretrained downloads `<cache>/openai/<name>/<name>.tiktoken` unless it is there already: put ours there,
    # so it never goes to the network (a failed download would leave an empty vocab and wrong ids).
    cache = context.scratch / "wordchipper"
    target = cache / "openai" / name / f"{name}.tiktoken"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(context.vocab_path, target)
    saved = os.environ.get("WORDCHIPPER_CACHE_DIR")
    os.environ["WORDCHIPPER_CACHE_DIR"] = str(cache)
    try:
        single_options = wordchipper.TokenizerOptions.default()
        single_options.set_parallel(False)
        single = wordchipper.Tokenizer.from_pretrained(name, single_options)
        batch_options = wordchipper.TokenizerOptions.default()
        batch_options.set_parallel(True)
        parallel = wordchipper.Tokenizer.from_pretrained(name, batch_options)
    finally:
        if saved is None:
            del os.environ["WORDCHIPPER_CACHE_DIR"]
        else:
            os.environ["WORDCHIPPER_CACHE_DIR"] = saved
    ordinary = wordchipper.SpecialFilter.include_none()  # its default turns special-token text into special ids

    def encode_one(document: str) -> list[int]:
        return single.encode(document, ordinary)

    return Peer(
        label="wordchipper",
        dist="wordchipper",
        version=version,
        source="`Tokenizer.from_pretrained(name)` reading our vocab file from its cache folder",
        encode_one=encode_one,
        ops={
            ENCODE: Op("`encode(d, SpecialFilter.include_none())`", per_document(encode_one)),
            BATCH: Op(
                "`encode_batch(docs, include_none)` on a tokenizer built with `set_parallel(True)`",
                lambda documents: parallel.encode_batch(documents, ordinary),
            ),
            DECODE: Op("`decode_bytes(ids)`", per_document(single.decode_bytes)),
        },
    )


# ==== quicktok-v1 (imports as quicktok) ====


def build_quicktok(context: Context) -> Peer:
    quicktok, version = installed("quicktok", "quicktok-v1")
    # Its importer takes a tokenizer.json and accepts only split patterns it has a hand-written scanner for (our
    # cl100k pattern is not one of them), so it uses the vocab files it ships.
    try:
        tokenizer = quicktok.Tokenizer(context.spec.name, "")  # "": bundled data only (get_encoding falls back to ~)
    except RuntimeError as err:
        raise Unavailable(f"ships no {context.spec.name}") from err
    threads = context.threads
    return Peer(
        label="quicktok-v1",
        dist="quicktok-v1",
        version=version,
        source="its own bundled copy of the vocab (`quicktok/data/`)",
        encode_one=tokenizer.encode_ordinary,
        token_bytes=tokenizer.decode_single_token_bytes,
        ops={
            ENCODE: Op("`encode_ordinary(d)`", per_document(tokenizer.encode_ordinary)),
            BATCH_ARRAY: Op(
                f"`encode_batch(docs, {threads})`",
                lambda documents: tokenizer.encode_batch(documents, threads),
                lambda result: flat_to_lists(*result),
            ),
            DECODE: Op("`decode_bytes(ids)`", per_document(tokenizer.decode_bytes)),
        },
    )


# ==== gigatoken: loads the .tiktoken file itself ====


def build_gigatoken(context: Context) -> Peer:
    gigatoken, version = installed("gigatoken", "gigatoken")
    # from_tiktoken picks its hand-written pretokenizer and the special tokens from the file name.
    try:
        tokenizer = gigatoken.Tokenizer.from_tiktoken(str(context.vocab_path))
    except ValueError as err:
        raise Unavailable(str(err).split(":")[0]) from err
    compat = tokenizer.as_tiktoken()
    return Peer(
        label="gigatoken",
        dist="gigatoken",
        version=version,
        source="`Tokenizer.from_tiktoken(path)` on our vocab file",
        encode_one=compat.encode_ordinary,
        ops={
            ENCODE: Op("`as_tiktoken().encode_ordinary(d)`", per_document(compat.encode_ordinary)),
            ENCODE_ARRAY: Op("`Tokenizer.encode(d)` (uint32 array)", per_document(tokenizer.encode), arrays_to_lists),
            BATCH: Op("`as_tiktoken().encode_ordinary_batch(docs)` (all cores)", compat.encode_ordinary_batch),
            BATCH_ARRAY: Op(
                "`Tokenizer.encode_batch(docs)` (awkward array)",
                tokenizer.encode_batch,
                lambda result: result.to_list(),
            ),
            DECODE: Op("`as_tiktoken().decode_bytes(ids)`", per_document(compat.decode_bytes)),
        },
    )


BUILDERS: list[tuple[str, Callable[[Context], Peer]]] = [
    ("HF tokenizers", build_tokenizers),
    ("bpe-openai", build_bpe_openai),
    ("riptoken", build_riptoken),
    ("toktok-rs", build_toktok),
    ("wordchipper", build_wordchipper),
    ("quicktok-v1", build_quicktok),
    ("gigatoken", build_gigatoken),
]
