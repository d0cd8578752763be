"""Hugging Face models: load a byte-level BPE ``tokenizer.json`` exactly, and the call interface of transformers.

`Tokenizer.from_file` reads a ``tokenizer.json``; `Tokenizer.from_pretrained` a local model directory
(``tokenizer.json`` or GPT-2's ``vocab.json`` + ``merges.txt``, with ``tokenizer_config.json`` when present).
Parsing and validation happen here; normalization, pre-tokenization, merges and batches run in Rust
(``_core.HfTokenizer``). Every component outside the supported set is an error naming it and the file, never a
silent difference. Post-processing follows ``tokenizers``' order: truncate, add the template's special tokens, pad.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from bytepair import _core
from bytepair.errors import TokenizerFileError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from bytepair.encoding import Encoding

__all__ = ["BatchEncoding", "Tokenizer", "encoding_to_tokenizer_json"]

TextInput = str
Padding = bool | Literal["longest", "max_length", "do_not_pad"]
Truncation = bool | Literal["longest_first", "only_first", "only_second", "do_not_truncate"] | None

# transformers' "no limit" model_max_length (VERY_LARGE_INTEGER), used when no tokenizer_config.json sets one.
_NO_LIMIT = int(1e30)

_BEHAVIORS = {
    "Removed": "removed",
    "Isolated": "isolated",
    "MergedWithPrevious": "merged_with_previous",
    "MergedWithNext": "merged_with_next",
    "Contiguous": "contiguous",
}

_SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token")


# ==== Reading tokenizer.json ====


def _fail(source: str, message: str) -> TokenizerFileError:
    return TokenizerFileError(f"{source}: {message}")


def _pattern(source: str, where: str, pattern: Any) -> tuple[str, str]:
    """``("regex" | "string", text)`` from a ``{"Regex": ...}`` or ``{"String": ...}`` pattern."""
    if isinstance(pattern, dict) and len(pattern) == 1:
        ((kind, text),) = pattern.items()
        if kind in ("Regex", "String") and isinstance(text, str):
            return kind.lower(), text
    raise _fail(source, f"{where}: pattern must be {{'Regex': str}} or {{'String': str}}, found {pattern!r}")


def _normalizers(source: str, spec: Any) -> list[tuple[str, str, str]]:
    if spec is None:
        return []
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "Sequence":
        return [step for inner in spec.get("normalizers", []) for step in _normalizers(source, inner)]
    if kind in ("NFC", "NFKC", "Lowercase"):
        return [(kind.lower(), "", "")]
    if kind == "Prepend":
        return [("prepend", str(spec["prepend"]), "")]
    if kind == "Replace":
        pattern_kind, pattern = _pattern(source, "normalizer Replace", spec.get("pattern"))
        return [(f"replace_{pattern_kind}", pattern, str(spec.get("content", "")))]
    raise _fail(
        source,
        f"normalizer {kind!r} is not supported (supported: NFC, NFKC, Lowercase, Prepend, Replace, Sequence)",
    )


def _pre_tokenizers(source: str, spec: Any) -> list[tuple[str, str, str, bool]]:
    """The steps for Rust; ByteLevel must come last, as it turns text into the bytes the model merges."""
    steps: list[tuple[str, str, str, bool]] = []
    byte_level = False

    def visit(step: Any) -> None:
        nonlocal byte_level
        kind = step.get("type") if isinstance(step, dict) else None
        if byte_level:
            raise _fail(source, f"pre-tokenizer {kind!r} after ByteLevel is not supported (ByteLevel must be last)")
        if kind == "Sequence":
            for inner in step.get("pretokenizers", []):
                visit(inner)
        elif kind == "ByteLevel":
            byte_level = True
            if step.get("add_prefix_space", True):
                steps.append(("prefix_space", "", "isolated", False))
            if step.get("use_regex", True):
                steps.append(("byte_level_regex", "", "isolated", False))
        elif kind == "Split":
            pattern_kind, pattern = _pattern(source, "pre-tokenizer Split", step.get("pattern"))
            behavior = step.get("behavior")
            if behavior not in _BEHAVIORS:
                raise _fail(source, f"pre-tokenizer Split: unknown behavior {behavior!r} (one of {sorted(_BEHAVIORS)})")
            steps.append((f"split_{pattern_kind}", pattern, _BEHAVIORS[behavior], bool(step.get("invert", False))))
        elif kind == "Digits":
            behavior = "isolated" if step.get("individual_digits", False) else "contiguous"
            steps.append(("digits", "", behavior, False))
        else:
            raise _fail(
                source,
                f"pre-tokenizer {kind!r} is not supported (supported: ByteLevel, Split, Digits, Sequence)",
            )

    if spec is None:
        raise _fail(source, "no pre-tokenizer: bytepair needs a byte-level BPE (a ByteLevel pre-tokenizer)")
    visit(spec)
    if not byte_level:
        raise _fail(source, "the pre-tokenizer has no ByteLevel step: bytepair only loads byte-level BPE models")
    return steps


@dataclass(frozen=True)
class _Template:
    """A post-processor's sequences with special tokens: items are ``("A" | "B" | "special", ids, type_id)``."""

    single: tuple[tuple[str, tuple[int, ...], int], ...]
    pair: tuple[tuple[str, tuple[int, ...], int], ...]

    def added(self, is_pair: bool) -> int:
        return sum(len(ids) for kind, ids, _ in (self.pair if is_pair else self.single) if kind == "special")


_PLAIN = _Template(single=(("A", (), 0),), pair=(("A", (), 0), ("B", (), 1)))


def _template_items(
    source: str, items: Any, special: Mapping[str, Any]
) -> tuple[tuple[str, tuple[int, ...], int], ...]:
    out: list[tuple[str, tuple[int, ...], int]] = []
    for item in items:
        if "Sequence" in item:
            out.append((item["Sequence"]["id"], (), int(item["Sequence"].get("type_id", 0))))
        elif "SpecialToken" in item:
            name = item["SpecialToken"]["id"]
            if name not in special:
                raise _fail(source, f"post-processor TemplateProcessing: special token {name!r} is not defined")
            out.append(("special", tuple(int(i) for i in special[name]["ids"]), int(item["SpecialToken"]["type_id"])))
        else:
            raise _fail(source, f"post-processor TemplateProcessing: unknown item {item!r}")
    return tuple(out)


def _post_processor(source: str, spec: Any) -> tuple[_Template, bool | None]:
    """The template and ``trim_offsets`` (``None``: no trimming, else the processor's ``add_prefix_space``)."""
    template, trim = _PLAIN, None
    steps = spec.get("processors", []) if isinstance(spec, dict) and spec.get("type") == "Sequence" else [spec]
    for step in steps:
        if step is None:
            continue
        kind = step.get("type") if isinstance(step, dict) else None
        if kind == "ByteLevel":
            if step.get("trim_offsets", True) and trim is None:
                trim = bool(step.get("add_prefix_space", True))
        elif kind == "TemplateProcessing":
            special = step.get("special_tokens", {})
            template = _Template(
                single=_template_items(source, step["single"], special),
                pair=_template_items(source, step["pair"], special),
            )
        elif kind == "RobertaProcessing":
            cls, sep = (int(step["cls"][1]),), (int(step["sep"][1]),)
            template = _Template(
                single=(("special", cls, 0), ("A", (), 0), ("special", sep, 0)),
                pair=(("special", cls, 0), ("A", (), 0), ("special", sep, 0), ("special", sep, 0), ("B", (), 0),
                      ("special", sep, 0)),
            )  # fmt: skip
            if step.get("trim_offsets", True) and trim is None:
                trim = bool(step.get("add_prefix_space", True))
        else:
            raise _fail(
                source,
                f"post-processor {kind!r} is not supported "
                "(supported: ByteLevel, TemplateProcessing, RobertaProcessing, Sequence)",
            )
    return template, trim


def _merges(source: str, merges: Any) -> list[tuple[str, str]]:
    """The merges as (left, right) pairs, from either encoding ("left right" strings, or [left, right] lists)."""
    out = []
    for index, merge in enumerate(merges):
        if isinstance(merge, str):
            parts = merge.split(" ")
        elif isinstance(merge, list):
            parts = merge
        else:
            parts = []
        if len(parts) != 2 or not all(isinstance(part, str) for part in parts):
            raise _fail(source, f"model.merges[{index}] must be 'left right' or [left, right], found {merge!r}")
        out.append((parts[0], parts[1]))
    return out


def _core_merges(source: str, merges: Any) -> list[str] | list[tuple[str, str]]:
    """The merges as `_core.HfTokenizer` takes them: a list of "left right" lines goes as it is (the core splits and
    checks each: splitting 280,000 lines here took 0.2 s of Llama 3's load), anything else as checked pairs."""
    if all(type(merge) is str for merge in merges):
        return merges  # type: ignore[no-any-return]  # a list of str, just checked
    return _merges(source, merges)


def _model(source: str, model: Any) -> tuple[dict[str, int], list[str] | list[tuple[str, str]], bool]:
    if not isinstance(model, dict):
        raise _fail(source, "'model' is missing")
    kind = model.get("type", "BPE")
    if kind != "BPE":
        raise _fail(source, f"model {kind!r} is not supported (bytepair loads byte-level BPE models)")
    for option in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(option):
            raise _fail(source, f"model.{option}={model[option]!r} is not supported (byte-level BPE has none)")
    if model.get("dropout"):
        raise _fail(source, f"model.dropout={model['dropout']!r} is not supported (encoding must be deterministic)")
    if model.get("byte_fallback"):
        raise _fail(source, "model.byte_fallback=true is not supported (byte-level BPE needs no fallback)")
    vocab, merges = model.get("vocab"), model.get("merges")
    if not isinstance(vocab, dict) or not all(isinstance(v, int) and v >= 0 for v in vocab.values()):
        raise _fail(source, "model.vocab must map each token string to a non-negative integer id")
    if not isinstance(merges, list):
        raise _fail(source, "model.merges must be a list")
    if model.get("unk_token") is not None and not all(char in vocab for char in _byte_alphabet()):
        # With every byte in the vocab the unknown token can never be produced; without, tokenizers would emit it
        # where bytepair (like tokenizers without one) drops the byte.
        raise _fail(source, "model.unk_token is not supported when some single bytes have no token")
    return vocab, _core_merges(source, merges), bool(model.get("ignore_merges", False))


def _added_tokens(source: str, tokens: Any) -> list[tuple[str, int, bool, bool, bool, bool, bool]]:
    out = []
    for index, token in enumerate(tokens or []):
        try:
            out.append(
                (
                    str(token["content"]),
                    int(token["id"]),
                    bool(token.get("special", False)),
                    bool(token.get("single_word", False)),
                    bool(token.get("lstrip", False)),
                    bool(token.get("rstrip", False)),
                    bool(token.get("normalized", not token.get("special", False))),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise _fail(source, f"added_tokens[{index}] needs 'content' and 'id', found {token!r}") from err
    return out


def _assign_added_ids(
    tokens: list[tuple[str, int, bool, bool, bool, bool, bool]], vocab: Mapping[str, int]
) -> list[tuple[str, int, bool, bool, bool, bool, bool]]:
    """The ids ``tokenizers`` gives added tokens when it loads a file: a token already in the vocab (or added before)
    keeps that id, any other gets the next free one; the ids written in the file are only checked there, not used.
    In published files the two agree."""
    assigned: dict[str, int] = {}
    out = []
    for content, _, *flags in tokens:
        if not content:
            continue
        token_id = assigned.get(content, vocab.get(content))
        if token_id is None:
            largest = max(assigned.values(), default=None)
            token_id = len(vocab) if largest is None or (largest < len(vocab) and vocab) else largest + 1
        assigned[content] = token_id
        out.append((content, token_id, *flags))
    return out  # type: ignore[return-value]


def _decoder(source: str, spec: Any) -> bool:
    """Whether the decoder is ByteLevel (``False``: no decoder, tokens are joined with spaces, as in tokenizers)."""
    steps = spec.get("decoders", []) if isinstance(spec, dict) and spec.get("type") == "Sequence" else [spec]
    kinds = [step.get("type") if isinstance(step, dict) else None for step in steps if step is not None]
    if not kinds:
        return False
    if kinds == ["ByteLevel"]:
        return True
    raise _fail(source, f"decoder {kinds!r} is not supported (supported: ByteLevel)")


@dataclass(frozen=True)
class _Truncation:
    max_length: int
    side: str
    strategy: str = "longest_first"  # or "only_first", "only_second": which sequence loses tokens


@dataclass(frozen=True)
class _Padding:
    length: int | None  # None: the longest in the batch
    side: str
    multiple_of: int | None
    pad_id: int
    pad_type_id: int


def _file_truncation(source: str, spec: Any) -> _Truncation | None:
    if spec is None:
        return None
    strategies = {"LongestFirst": "longest_first", "OnlyFirst": "only_first", "OnlySecond": "only_second"}
    strategy = strategies.get(spec.get("strategy", "LongestFirst"))
    if strategy is None or spec.get("stride", 0):
        raise _fail(source, f"truncation {spec!r} is not supported (LongestFirst, OnlyFirst or OnlySecond, no stride)")
    return _Truncation(int(spec["max_length"]), "left" if spec.get("direction") == "Left" else "right", strategy)


def _file_padding(source: str, spec: Any) -> _Padding | None:
    if spec is None:
        return None
    strategy = spec.get("strategy", "BatchLongest")
    length = int(strategy["Fixed"]) if isinstance(strategy, dict) and "Fixed" in strategy else None
    return _Padding(
        length=length,
        side="left" if spec.get("direction") == "Left" else "right",
        multiple_of=spec.get("pad_to_multiple_of"),
        pad_id=int(spec.get("pad_id", 0)),
        pad_type_id=int(spec.get("pad_type_id", 0)),
    )


# ==== The call's result ====


class BatchEncoding(dict[str, Any]):
    """The result of calling a `Tokenizer`: ``input_ids``, ``attention_mask`` and the other requested fields.

    A dict, as transformers' ``BatchEncoding``; fields are also attributes (``enc.input_ids``).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class _Row:
    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]
    special: list[int]


# ==== Tokenizer ====


class Tokenizer:
    """A Hugging Face byte-level BPE tokenizer with identical ids and offsets, called like transformers' tokenizers.

    Padding and truncation are arguments of each call. The settings transformers users set on a tokenizer may be set
    here too (``tok.pad_token = tok.eos_token``, ``tok.padding_side = "left"``, ``tok.model_max_length = 512``: see
    `SETTABLE`), each checked when set; nothing else changes, so one instance may be shared by threads.

    >>> import bytepair
    >>> tok = bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json")
    >>> tok.encode("abcd ab")
    [8, 9]
    >>> tok = bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json", config={"pad_token": "<pad>"})
    >>> tok(["abcd ab", "ab"], padding=True)["input_ids"]
    [[8, 9], [5, 12]]
    """

    __slots__ = (
        "_added",
        "_byte_level_decoder",
        "_config",
        "_core",
        "_file_padding",
        "_file_truncation",
        "_id_to_token",
        "_json",
        "_special_ids",
        "_template",
        "_vocab",
    )

    _core: _core.HfTokenizer
    _json: str
    _vocab: dict[str, int]
    _added: dict[str, int]
    _id_to_token: dict[int, str]
    _special_ids: frozenset[int]
    _template: _Template
    _byte_level_decoder: bool
    _config: dict[str, Any]
    _file_truncation: _Truncation | None
    _file_padding: _Padding | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("use Tokenizer.from_file(path), Tokenizer.from_str(json) or Tokenizer.from_pretrained(dir)")

    #: The attributes that may be set, as in transformers: the special tokens (by text or by id; ``None`` for none),
    #: ``model_max_length`` (the default ``max_length``), and the default ``padding_side`` and ``truncation_side``.
    #: Filled in after the class from its properties that have a setter.
    SETTABLE: ClassVar[tuple[str, ...]] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.SETTABLE:
            raise AttributeError(
                f"cannot set {name!r} on a Tokenizer: pass padding and truncation options to each call; "
                f"the attributes that may be set are {', '.join(self.SETTABLE)}"
            )
        object.__setattr__(self, name, value)  # the property's setter, which calls `_set`

    def _set(self, name: str, value: Any) -> None:
        key, value = self._checked_setting(name, value)
        config = {k: v for k, v in self._config.items() if k != key}
        if value is not None:
            config[key] = value
        # The settings are replaced whole, never changed in place: a call running on another thread reads the old
        # settings or the new ones.
        object.__setattr__(self, "_config", config)

    def _checked_setting(self, name: str, value: Any) -> tuple[str, Any]:
        """The tokenizer_config.json key and value that setting ``name`` to ``value`` stores (``None``: removed)."""
        if name.endswith("_token_id"):
            if value is None:
                return name.removesuffix("_id"), None
            if isinstance(value, bool) or not isinstance(value, int) or value not in self._id_to_token:
                raise ValueError(f"{name} must be the id of a token of this tokenizer (or None), found {value!r}")
            return name.removesuffix("_id"), self._id_to_token[value]
        if name.endswith("_token"):
            if value is not None and (not isinstance(value, str) or self._token_id(value) is None):
                raise ValueError(
                    f"{name} must be a token of this tokenizer (or None), found {value!r}; bytepair does not add "
                    "tokens to a vocabulary: use one it has, such as the end-of-text token"
                )
            return name, value
        if name == "model_max_length":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model_max_length must be a positive int, found {value!r}")
            return name, value
        if value not in ("left", "right"):
            raise ValueError(f"{name} must be 'left' or 'right', found {value!r}")
        return name, value

    # ---- construction ----

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, config: Mapping[str, Any] | None = None) -> Tokenizer:
        """Load a ``tokenizer.json`` (a byte-level BPE model), optionally with a ``tokenizer_config.json`` dict.

        >>> import bytepair
        >>> bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json").encode("abcd ab")
        [8, 9]
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise TokenizerFileError(f"{path}: cannot read the tokenizer file: {err}") from err
        return cls.from_str(text, source=str(path), config=config)

    @classmethod
    def from_str(
        cls, json_text: str, *, source: str = "<tokenizer.json>", config: Mapping[str, Any] | None = None
    ) -> Tokenizer:
        """Load a tokenizer from the text of a ``tokenizer.json``; ``source`` names it in error messages."""
        try:
            spec = json.loads(json_text)
        except json.JSONDecodeError as err:
            raise _fail(source, f"not valid JSON: {err}") from err
        if not isinstance(spec, dict):
            raise _fail(source, "the top level must be a JSON object")
        vocab, merges, ignore_merges = _model(source, spec.get("model"))
        normalizers = _normalizers(source, spec.get("normalizer"))
        pre_tokenizers = _pre_tokenizers(source, spec.get("pre_tokenizer"))
        template, trim = _post_processor(source, spec.get("post_processor"))
        byte_level_decoder = _decoder(source, spec.get("decoder"))
        added = _assign_added_ids(_added_tokens(source, spec.get("added_tokens")), vocab)
        try:
            core = _core.HfTokenizer(
                list(vocab.items()), merges, ignore_merges, normalizers, pre_tokenizers, added, trim
            )
        except TokenizerFileError as err:
            raise _fail(source, str(err)) from err
        tokenizer = object.__new__(cls)
        setter = object.__setattr__
        id_to_token = {token_id: token for token, token_id in vocab.items()}
        # A normalized added token reads back in its normalized form, as tokenizers' id_to_token gives it.
        id_to_token.update(
            (token_id, core.normalize(content) if normalized else content)
            for content, token_id, _, _, _, _, normalized in added
        )
        setter(tokenizer, "_core", core)
        setter(tokenizer, "_json", json_text)
        setter(tokenizer, "_vocab", vocab)
        setter(tokenizer, "_added", {content: token_id for content, token_id, *_ in added})
        setter(tokenizer, "_id_to_token", id_to_token)
        setter(tokenizer, "_special_ids", frozenset(token_id for _, token_id, special, *_ in added if special))
        setter(tokenizer, "_template", template)
        setter(tokenizer, "_byte_level_decoder", byte_level_decoder)
        setter(tokenizer, "_config", dict(config or {}))
        setter(tokenizer, "_file_truncation", _file_truncation(source, spec.get("truncation")))
        setter(tokenizer, "_file_padding", _file_padding(source, spec.get("padding")))
        return tokenizer

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> Tokenizer:
        """Load a local model directory: ``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``; with
        ``tokenizer_config.json`` (and ``special_tokens_map.json``) when present. Nothing is downloaded.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise TokenizerFileError(f"{directory}: not a directory (from_pretrained reads a local model directory)")
        config: dict[str, Any] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            path = directory / name
            if path.exists():
                try:
                    loaded = json.loads(path.read_text(encoding="utf-8"))
                except json.JSONDecodeError as err:
                    raise TokenizerFileError(f"{path}: not valid JSON: {err}") from err
                config.update(loaded)
        if (directory / "tokenizer.json").exists():
            return cls.from_file(directory / "tokenizer.json", config=config)
        vocab_path, merges_path = directory / "vocab.json", directory / "merges.txt"
        if vocab_path.exists() and merges_path.exists():
            text = _gpt2_tokenizer_json(vocab_path, merges_path, config)
            return cls.from_str(text, source=str(vocab_path), config=config)
        raise TokenizerFileError(f"{directory}: needs tokenizer.json, or vocab.json and merges.txt")

    @classmethod
    def from_encoding(cls, encoding: Encoding) -> Tokenizer:
        """The Hugging Face form of a bytepair (tiktoken) encoding; ``to_str()`` gives its ``tokenizer.json``,
        which ``tokenizers`` loads with the same ids as ``encoding.encode_ordinary`` (special tokens become added
        tokens, always recognized).

        >>> import bytepair
        >>> tok = bytepair.Tokenizer.from_encoding(bytepair.get_encoding("r50k_base"))
        >>> tok.encode("hello world")
        [31373, 995]
        """
        return cls.from_str(encoding_to_tokenizer_json(encoding), source=f"<{encoding.name}>")

    def to_str(self) -> str:
        """The ``tokenizer.json`` text this tokenizer was loaded from (or made by `from_encoding`)."""
        return self._json

    def to_tiktoken_ranks(self) -> dict[bytes, int]:
        """tiktoken's mergeable ranks (token bytes -> id) for a model whose merge order is its id order.

        tiktoken merges by rank = id, so the conversion is exact only when each merge makes a token with a larger id
        than the merges before it, and when whole pieces that are tokens are taken as they are (``ignore_merges``,
        tiktoken's shortcut) or every token is reachable by its merges; otherwise this raises ``ValueError``.
        """
        spec = json.loads(self._json)
        merges = _merges("<model>", spec["model"]["merges"])
        previous = -1
        for index, (left, right) in enumerate(merges):
            merged = self._vocab.get(left + right, -1)
            if merged <= previous:
                raise ValueError(
                    f"merge {index} ({left} {right}) makes id {merged}, not above the previous merge's {previous}: "
                    "the merge order is not the id order, so tiktoken's ranks cannot express this model"
                )
            previous = merged
        ranks = {}
        for token, token_id in self._vocab.items():
            raw = self._core.token_bytes(token_id)
            if raw is not None and token not in self._added:
                ranks[raw] = token_id
        if len(ranks) != len(set(ranks.values())):
            raise ValueError("two tokens share an id; tiktoken's ranks need one id per token")
        return ranks

    # ---- encoding ----

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """The ids ``tokenizers.Tokenizer.encode(text).ids`` gives (with the file's own truncation and padding).

        >>> import bytepair
        >>> bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json").encode("abc")
        [7]
        """
        if self._file_truncation is None and self._file_padding is None:
            ids, _ = self._core.encode(text, False)
            if add_special_tokens and self._template is not _PLAIN:
                return self._post_process(ids, [], None, None).ids
            return ids
        return self.encode_batch([text], add_special_tokens=add_special_tokens)[0]

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        """The tokens of ``text`` as strings (``tokenizers.Tokenizer.encode(text).tokens``), without the template's
        special tokens unless asked, as transformers' ``tokenize`` gives them.

        >>> import bytepair
        >>> bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json").tokenize("abcd ab")
        ['abcd', 'Ġab']
        """
        return [self._id_to_token[token_id] for token_id in self.encode(text, add_special_tokens=add_special_tokens)]

    def encode_batch(
        self, texts: Sequence[str], add_special_tokens: bool = True, *, num_threads: int | None = None
    ) -> list[list[int]]:
        """`encode` for many texts, on several threads (default: one per CPU)."""
        encoded = self._core.encode_batch(list(texts), False, num_threads)
        if self._file_truncation is None and self._file_padding is None:
            if not add_special_tokens or self._template is _PLAIN:
                return [ids for ids, _ in encoded]
            return [self._post_process(ids, [], None, None).ids for ids, _ in encoded]
        rows = [
            self._post_process(ids, offsets, None, None, add_special_tokens, self._file_truncation)
            for ids, offsets in encoded
        ]
        if self._file_padding is not None:
            self._pad_rows(rows, self._file_padding)
        return [row.ids for row in rows]

    def encode_batch_to_numpy(
        self, texts: Sequence[str], add_special_tokens: bool = True, *, num_threads: int | None = None
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """`encode_batch` as one flat ``uint32`` array of ids and ``int64`` offsets (`Encoding.encode_batch_to_numpy`).

        Text ``i`` is ``tokens[offsets[i]:offsets[i + 1]]`` (``len(texts) + 1`` offsets), with the post-processor's
        special tokens when ``add_special_tokens``; no Python object is made per token. Needs NumPy.

        >>> import bytepair
        >>> tok = bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json")
        >>> tokens, offsets = tok.encode_batch_to_numpy(["abcd ab", "ab"])
        >>> tokens.tolist(), offsets.tolist()
        ([8, 9, 5], [0, 2, 3])
        """
        import numpy as np

        texts = list(texts)
        if self._file_truncation is not None or self._file_padding is not None:
            # The file's own truncation and padding apply, row by row as in `encode_batch`.
            rows = self.encode_batch(texts, add_special_tokens, num_threads=num_threads)
            lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
            tokens = np.fromiter((i for row in rows for i in row), dtype=np.uint32, count=int(lengths.sum()))
        else:
            flat, lengths_buffer, _ = self._core.encode_batch_flat(texts, False, num_threads)
            tokens = np.frombuffer(flat, dtype="<u4").astype(np.uint32)  # a writable copy in native order
            lengths = np.frombuffer(lengths_buffer, dtype="<u8").astype(np.int64)
            prefix, suffix = self._template_ends() if add_special_tokens else ([], [])
            if prefix or suffix:
                added = len(prefix) + len(suffix)
                starts = np.cumsum(lengths + added) - (lengths + added)
                within = np.arange(len(tokens)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                out = np.empty(len(tokens) + added * len(texts), dtype=np.uint32)
                out[np.repeat(starts + len(prefix), lengths) + within] = tokens
                for j, token_id in enumerate(prefix):
                    out[starts + j] = token_id
                for j, token_id in enumerate(suffix):
                    out[starts + len(prefix) + lengths + j] = token_id
                tokens, lengths = out, lengths + added
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return tokens, offsets

    def __call__(
        self,
        text: str | Sequence[str] | Sequence[tuple[str, str]],
        text_pair: str | Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: Padding = False,
        truncation: Truncation = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: Literal["left", "right"] | None = None,
        truncation_side: Literal["left", "right"] | None = None,
        return_tensors: Literal["np", "pt"] | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        num_threads: int | None = None,
    ) -> BatchEncoding:
        """Tokenize one text or a batch (optionally with pairs), as transformers' tokenizers do.

        ``padding``: ``True``/``"longest"`` pads to the longest in the batch, ``"max_length"`` to ``max_length``;
        ``text``: a text, a list of texts, or a list of ``(text, text_pair)`` pairs;
        ``truncation``: ``True``/``"longest_first"`` cuts to ``max_length`` (special tokens included), the longer
        sequence of a pair first; ``"only_first"``/``"only_second"`` cut only that sequence (an error when it is too
        short to make room);
        ``return_tensors``: ``"np"`` (or ``"pt"`` with torch installed) returns 2-D arrays instead of lists.

        >>> import bytepair
        >>> tok = bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json")
        >>> tok("ab cd", return_offsets_mapping=True)["offset_mapping"]
        [(0, 2), (2, 5)]
        """
        is_batch = not isinstance(text, str)
        items: list[Any] = [text] if isinstance(text, str) else list(text)
        texts: list[str] = items
        pairs: list[str] | None = None
        if text_pair is None and items and all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            # A batch of (text, text_pair) pairs, as transformers takes it.
            texts, pairs = [first for first, _ in items], [second for _, second in items]
        elif text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if isinstance(text_pair, str) == is_batch or len(pairs) != len(texts):
                raise ValueError(
                    "text_pair must match text: a string with a string, a list of the same length with a list"
                )
        for item in (*texts, *(pairs or [])):
            if not isinstance(item, str):
                raise TypeError(f"text must be a str or a list of str, found an item of type {type(item).__name__}")
        model_max = self.model_max_length
        padding_strategy = _padding_strategy(padding)
        truncate = truncation not in (None, False, "do_not_truncate")
        strategies = (True, "longest_first", "only_first", "only_second")
        if truncation not in (None, False, "do_not_truncate", *strategies):
            raise ValueError(
                f"truncation={truncation!r} is not supported (use True, 'longest_first', 'only_first' or 'only_second')"
            )
        limit = max_length if max_length is not None else model_max
        truncation_spec = (
            _Truncation(
                limit,
                truncation_side or self.truncation_side,
                "longest_first" if truncation is True else str(truncation),
            )
            if truncate
            else None
        )
        padding_spec = None
        if padding_strategy is not None:
            pad_id = self.pad_token_id
            if pad_id is None:
                raise ValueError(
                    "asking to pad but the tokenizer has no pad token: load it with a tokenizer_config.json that sets "
                    "pad_token, or call without padding"
                )
            length = None if padding_strategy == "longest" else limit
            side = padding_side or self.padding_side
            if side not in ("left", "right"):
                raise ValueError(f"padding_side must be 'left' or 'right', found {side!r}")
            padding_spec = _Padding(length, side, pad_to_multiple_of, pad_id, 0)
        if truncation_spec is not None and truncation_spec.side not in ("left", "right"):
            raise ValueError(f"truncation_side must be 'left' or 'right', found {truncation_spec.side!r}")
        want_mask = True if return_attention_mask is None else return_attention_mask
        if return_tensors is not None and return_tensors not in ("np", "pt"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported (use 'np' or 'pt')")
        if (
            return_tensors is not None
            and pairs is None
            and not return_token_type_ids
            and not return_special_tokens_mask
            and (padding_spec is not None)
        ):
            return self._call_arrays(
                texts, add_special_tokens, truncation_spec, padding_spec, return_tensors, want_mask,
                return_offsets_mapping, return_length, is_batch, num_threads,
            )  # fmt: skip
        with_offsets = return_offsets_mapping
        first = self._core.encode_batch(texts, with_offsets, num_threads)
        second = self._core.encode_batch(pairs, with_offsets, num_threads) if pairs is not None else None
        rows = [
            self._post_process(
                ids,
                offsets,
                second[i][0] if second is not None else None,
                second[i][1] if second is not None else None,
                add_special_tokens,
                truncation_spec,
            )
            for i, (ids, offsets) in enumerate(first)
        ]
        if padding_spec is not None:
            self._pad_rows(rows, padding_spec)
        result: dict[str, Any] = {"input_ids": [row.ids for row in rows]}
        if return_token_type_ids:
            result["token_type_ids"] = [row.type_ids for row in rows]
        if want_mask:
            result["attention_mask"] = [[0 if kind == 2 else 1 for kind in row.special] for row in rows]
        if return_special_tokens_mask:
            result["special_tokens_mask"] = [[0 if kind == 0 else 1 for kind in row.special] for row in rows]
        if return_offsets_mapping:
            result["offset_mapping"] = [row.offsets for row in rows]
        if return_length:
            result["length"] = [len(row.ids) for row in rows]
        if return_tensors is not None:
            return BatchEncoding({key: _tensor(value, return_tensors, key) for key, value in result.items()})
        if not is_batch:
            result = {key: value[0] for key, value in result.items()}
        return BatchEncoding(result)

    def _post_process(
        self,
        ids: list[int],
        offsets: list[tuple[int, int]],
        pair_ids: list[int] | None,
        pair_offsets: list[tuple[int, int]] | None,
        add_special_tokens: bool = True,
        truncation: _Truncation | None = None,
    ) -> _Row:
        """Truncate (leaving room for the special tokens), then add them, as ``tokenizers``' ``post_process``."""
        is_pair = pair_ids is not None
        if truncation is not None:
            room = truncation.max_length - (self._template.added(is_pair) if add_special_tokens else 0)
            if room < 0:
                raise ValueError(
                    f"max_length={truncation.max_length} leaves no room for the "
                    f"{self._template.added(is_pair)} special tokens this tokenizer adds"
                )
            second = len(pair_ids) if pair_ids is not None else None
            if truncation.strategy == "longest_first":
                keep_first, keep_second = _longest_first(len(ids), second, room)
            else:
                keep_first, keep_second = _only_one(truncation.strategy, len(ids), second, room)
            ids, offsets = _cut(ids, keep_first, truncation.side), _cut(offsets, keep_first, truncation.side)
            if pair_ids is not None and pair_offsets is not None:
                pair_ids = _cut(pair_ids, keep_second, truncation.side)
                pair_offsets = _cut(pair_offsets, keep_second, truncation.side)
        row = _Row([], [], [], [])
        items = self._template.pair if is_pair else self._template.single
        for kind, special_ids, type_id in items:
            if kind == "special":
                if add_special_tokens:
                    row.ids.extend(special_ids)
                    row.type_ids.extend([type_id] * len(special_ids))
                    row.offsets.extend([(0, 0)] * len(special_ids))
                    row.special.extend([1] * len(special_ids))
                continue
            seq_ids, seq_offsets = (ids, offsets) if kind == "A" else (pair_ids or [], pair_offsets or [])
            row.ids.extend(seq_ids)
            row.type_ids.extend([type_id] * len(seq_ids))
            row.offsets.extend(seq_offsets)
            row.special.extend([0] * len(seq_ids))
        return row

    @staticmethod
    def _pad_rows(rows: list[_Row], padding: _Padding) -> None:
        """Pads each row in place; ``special`` marks padding with 2."""
        width = padding.length if padding.length is not None else max((len(row.ids) for row in rows), default=0)
        if padding.multiple_of and width % padding.multiple_of:
            width += padding.multiple_of - width % padding.multiple_of
        for row in rows:
            missing = width - len(row.ids)
            if missing <= 0:
                continue
            fill = (
                ([padding.pad_id] * missing, [padding.pad_type_id] * missing, [(0, 0)] * missing, [2] * missing)
            )  # fmt: skip
            if padding.side == "left":
                row.ids[:0], row.type_ids[:0], row.offsets[:0], row.special[:0] = fill
            else:
                row.ids.extend(fill[0])
                row.type_ids.extend(fill[1])
                row.offsets.extend(fill[2])
                row.special.extend(fill[3])

    def _call_arrays(
        self,
        texts: list[str],
        add_special_tokens: bool,
        truncation: _Truncation | None,
        padding: _Padding,
        return_tensors: str,
        want_mask: bool,
        want_offsets: bool,
        want_length: bool,
        is_batch: bool,
        num_threads: int | None,
    ) -> BatchEncoding:
        """The padded batch as 2-D arrays, built with whole-array NumPy operations from one flat Rust buffer."""
        import numpy as np

        flat, lengths_buffer, offsets_buffer = self._core.encode_batch_flat(texts, want_offsets, num_threads)
        tokens = np.frombuffer(flat, dtype="<u4")
        lengths = np.frombuffer(lengths_buffer, dtype="<u8").astype(np.int64)
        prefix, suffix = self._template_ends() if add_special_tokens else ([], [])
        added = len(prefix) + len(suffix)
        keep = lengths
        if truncation is not None:
            room = truncation.max_length - added
            if room < 0:
                raise ValueError(
                    f"max_length={truncation.max_length} leaves no room for the {added} special tokens "
                    "this tokenizer adds"
                )
            if truncation.strategy == "only_second" and room > 0 and bool((lengths > room).any()):
                _only_one("only_second", int(lengths.max()), None, room)  # raises: there is no second sequence
            keep = np.minimum(lengths, room)
        row_lengths = keep + added
        batch = len(texts)
        width = int(padding.length) if padding.length is not None else int(row_lengths.max(initial=0))
        if padding.multiple_of and width % padding.multiple_of:
            width += padding.multiple_of - width % padding.multiple_of
        if batch and int(row_lengths.max()) > width:
            raise ValueError(
                "unable to create a tensor: some sequences are longer than max_length; "
                "use truncation=True to cut them, or padding='longest'"
            )
        starts = np.cumsum(lengths) - lengths
        source_starts = starts + (lengths - keep if truncation is not None and truncation.side == "left" else 0)
        first_column = width - row_lengths if padding.side == "left" else np.zeros(batch, dtype=np.int64)
        rows = np.repeat(np.arange(batch), keep)
        within = np.arange(int(keep.sum())) - np.repeat(np.cumsum(keep) - keep, keep)
        columns = np.repeat(first_column + len(prefix), keep) + within
        source = np.repeat(source_starts, keep) + within
        input_ids = np.full((batch, width), padding.pad_id, dtype=np.int64)
        input_ids[rows, columns] = tokens[source]
        all_rows = np.arange(batch)
        for j, token_id in enumerate(prefix):
            input_ids[all_rows, first_column + j] = token_id
        for j, token_id in enumerate(suffix):
            input_ids[all_rows, first_column + len(prefix) + keep + j] = token_id
        result: dict[str, Any] = {"input_ids": input_ids}
        if want_mask:
            column_index = np.arange(width)
            mask = (column_index >= first_column[:, None]) & (column_index < (first_column + row_lengths)[:, None])
            result["attention_mask"] = mask.astype(np.int64)
        if want_offsets:
            offsets = np.frombuffer(offsets_buffer, dtype="<u4").reshape(-1, 2).astype(np.int64)
            mapping = np.zeros((batch, width, 2), dtype=np.int64)
            mapping[rows, columns] = offsets[source]
            result["offset_mapping"] = mapping
        if want_length:
            result["length"] = row_lengths.astype(np.int64)
        if return_tensors == "pt":
            result = {key: _tensor(value, "pt", key) for key, value in result.items()}
        del is_batch  # arrays always have the batch dimension, as in transformers
        return BatchEncoding(result)

    def _template_ends(self) -> tuple[list[int], list[int]]:
        """The single template's special ids before and after the sequence."""
        prefix: list[int] = []
        suffix: list[int] = []
        seen_sequence = False
        for kind, ids, _ in self._template.single:
            if kind == "special":
                (suffix if seen_sequence else prefix).extend(ids)
            else:
                seen_sequence = True
        return prefix, suffix

    # ---- decoding ----

    def decode(
        self,
        token_ids: int | Sequence[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str:
        """Text of the ids, as ``tokenizers`` decodes them (invalid UTF-8 becomes U+FFFD).

        >>> import bytepair
        >>> tok = bytepair.Tokenizer.from_file("tests/vectors/tiny.tokenizer.json")
        >>> tok.decode(tok.encode("abcd ab"))
        'abcd ab'
        """
        ids = [token_ids] if isinstance(token_ids, int) else list(token_ids)
        if self._byte_level_decoder:
            text = self._core.decode_bytes(ids, skip_special_tokens).decode("utf-8", errors="replace")
        else:
            tokens = [self._id_to_token.get(i) for i in ids if not (skip_special_tokens and i in self._special_ids)]
            text = " ".join(token for token in tokens if token is not None)
        clean = (
            self._config.get("clean_up_tokenization_spaces", False)
            if clean_up_tokenization_spaces is None
            else clean_up_tokenization_spaces
        )
        return _clean_up_tokenization(text) if clean else text

    def batch_decode(
        self,
        sequences: Iterable[Sequence[int]],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> list[str]:
        """`decode` for each sequence."""
        return [self.decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in sequences]

    # ---- vocabulary ----

    @overload
    def convert_ids_to_tokens(self, ids: int, skip_special_tokens: bool = False) -> str | None: ...
    @overload
    def convert_ids_to_tokens(self, ids: Sequence[int], skip_special_tokens: bool = False) -> list[str | None]: ...
    def convert_ids_to_tokens(
        self, ids: int | Sequence[int], skip_special_tokens: bool = False
    ) -> str | list[str | None] | None:
        """The token strings (byte-level, as in the vocab) of ids; ``None`` for an unknown id."""
        if isinstance(ids, int):
            return self._id_to_token.get(ids)
        return [self._id_to_token.get(i) for i in ids if not (skip_special_tokens and i in self._special_ids)]

    @overload
    def convert_tokens_to_ids(self, tokens: str) -> int | None: ...
    @overload
    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int | None]: ...
    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int | None] | None:
        """The ids of token strings; ``None`` for a string that is not a token."""
        if isinstance(tokens, str):
            return self._token_id(tokens)
        return [self._token_id(token) for token in tokens]

    def _token_id(self, token: str) -> int | None:
        found = self._added.get(token)
        return found if found is not None else self._vocab.get(token)

    def get_vocab(self) -> dict[str, int]:
        """Every token string and its id, added tokens included."""
        vocab = dict(self._vocab)
        vocab.update(self._added)
        return vocab

    @property
    def vocab_size(self) -> int:
        """Size of the model's vocab, without added tokens (as transformers' ``vocab_size``)."""
        return len(self._vocab)

    def __len__(self) -> int:
        """Size of the vocab with added tokens."""
        return len(self.get_vocab())

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of the special added tokens."""
        return sorted(self._special_ids)

    def _special_token(self, name: str) -> str | None:
        value = self._config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        return value if isinstance(value, str) else None

    @property
    def bos_token(self) -> str | None:
        """The beginning-of-sequence token (from tokenizer_config.json), if any."""
        return self._special_token("bos_token")

    @bos_token.setter
    def bos_token(self, value: str | None) -> None:
        self._set("bos_token", value)

    @property
    def eos_token(self) -> str | None:
        """The end-of-sequence token (from tokenizer_config.json), if any."""
        return self._special_token("eos_token")

    @eos_token.setter
    def eos_token(self, value: str | None) -> None:
        self._set("eos_token", value)

    @property
    def pad_token(self) -> str | None:
        """The padding token (from tokenizer_config.json), if any."""
        return self._special_token("pad_token")

    @pad_token.setter
    def pad_token(self, value: str | None) -> None:
        self._set("pad_token", value)

    @property
    def unk_token(self) -> str | None:
        """The unknown token (from tokenizer_config.json), if any."""
        return self._special_token("unk_token")

    @unk_token.setter
    def unk_token(self, value: str | None) -> None:
        self._set("unk_token", value)

    @property
    def bos_token_id(self) -> int | None:
        """Id of `bos_token`."""
        return self._id_of("bos_token")

    @bos_token_id.setter
    def bos_token_id(self, value: int | None) -> None:
        self._set("bos_token_id", value)

    @property
    def eos_token_id(self) -> int | None:
        """Id of `eos_token`."""
        return self._id_of("eos_token")

    @eos_token_id.setter
    def eos_token_id(self, value: int | None) -> None:
        self._set("eos_token_id", value)

    @property
    def pad_token_id(self) -> int | None:
        """Id of `pad_token`."""
        return self._id_of("pad_token")

    @pad_token_id.setter
    def pad_token_id(self, value: int | None) -> None:
        self._set("pad_token_id", value)

    @property
    def unk_token_id(self) -> int | None:
        """Id of `unk_token`."""
        return self._id_of("unk_token")

    @unk_token_id.setter
    def unk_token_id(self, value: int | None) -> None:
        self._set("unk_token_id", value)

    def _id_of(self, name: str) -> int | None:
        token = self._special_token(name)
        return None if token is None else self._token_id(token)

    @property
    def model_max_length(self) -> int:
        """The longest input the model takes (tokenizer_config.json), the default ``max_length``."""
        return int(self._config.get("model_max_length", _NO_LIMIT))

    @model_max_length.setter
    def model_max_length(self, value: int) -> None:
        self._set("model_max_length", value)

    @property
    def padding_side(self) -> str:
        """Where padding goes when a call does not say (tokenizer_config.json; ``"right"`` when it does not say)."""
        return str(self._config.get("padding_side", "right"))

    @padding_side.setter
    def padding_side(self, value: str) -> None:
        self._set("padding_side", value)

    @property
    def truncation_side(self) -> str:
        """Where truncation cuts when a call does not say (tokenizer_config.json; ``"right"`` when it does not say)."""
        return str(self._config.get("truncation_side", "right"))

    @truncation_side.setter
    def truncation_side(self, value: str) -> None:
        self._set("truncation_side", value)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> list[str]:
        """Write ``tokenizer.json`` (as loaded) and ``tokenizer_config.json`` to a directory; returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tokenizer_path = directory / "tokenizer.json"
        tokenizer_path.write_text(self._json, encoding="utf-8")
        config = {key: value for key, value in self._config.items() if key != "tokenizer_file"}
        config_path = directory / "tokenizer_config.json"
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        return [str(tokenizer_path), str(config_path)]

    def __repr__(self) -> str:
        return f"<bytepair.Tokenizer vocab_size={self.vocab_size} added={len(self._added)}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_json, (self._json, self._config))


Tokenizer.SETTABLE = tuple(
    name for name, value in vars(Tokenizer).items() if isinstance(value, property) and value.fset is not None
)


def _from_json(json_text: str, config: dict[str, Any]) -> Tokenizer:
    return Tokenizer.from_str(json_text, config=config)


def _padding_strategy(padding: Padding) -> str | None:
    if padding is True or padding == "longest":
        return "longest"
    if padding == "max_length":
        return "max_length"
    if padding is False or padding == "do_not_pad" or padding is None:
        return None
    raise ValueError(f"padding={padding!r} is not supported (use True, 'longest' or 'max_length')")


def _longest_first(first: int, second: int | None, room: int) -> tuple[int, int]:
    """Lengths to keep under ``tokenizers``' LongestFirst truncation: the longer sequence loses tokens first."""
    if second is None:
        return min(first, room), 0
    if first + second <= room:
        return first, second
    n1, n2 = first, second
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > room else max(n1, room - n1)
    if n1 + n2 > room:
        n1 = room // 2
        n2 = n1 + room % 2
    return (n2, n1) if swap else (n1, n2)


def _only_one(strategy: str, first: int, second: int | None, room: int) -> tuple[int, int]:
    """Lengths to keep under ``tokenizers``' OnlyFirst/OnlySecond truncation: only that sequence loses tokens, and it
    must keep at least one; with no room at all both are emptied, as there."""
    if room == 0:
        return 0, 0
    excess = first + (second or 0) - room
    if excess <= 0:
        return first, second or 0
    if strategy == "only_second" and second is None:
        raise ValueError("truncation='only_second' needs a text pair: there is no second sequence to truncate")
    target = first if strategy == "only_first" else second or 0
    if target <= excess:
        raise ValueError(
            f"truncation={strategy!r}: the sequence to truncate has {target} tokens, too few to remove the {excess} "
            f"that max_length requires; use truncation='longest_first' or a larger max_length"
        )
    return (first - excess, second or 0) if strategy == "only_first" else (first, target - excess)


def _cut(items: list[Any], keep: int, side: str) -> list[Any]:
    if len(items) <= keep:
        return items
    return items[len(items) - keep :] if side == "left" else items[:keep]


def _tensor(value: Any, kind: str, key: str) -> Any:
    import numpy as np

    try:
        array = np.asarray(value, dtype=np.int64)
    except ValueError as err:
        raise ValueError(
            f"unable to create a tensor from {key!r}: the sequences have different lengths; use padding=True"
        ) from err
    if kind == "pt":
        import torch  # type: ignore[import-not-found,unused-ignore]  # optional: only for return_tensors="pt"

        return torch.from_numpy(np.ascontiguousarray(array))
    return array


_CLEANUPS = (
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"),
    (" 've", "'ve"), (" 're", "'re"),
)  # fmt: skip


def _clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization``: no space before punctuation and English contractions."""
    for before, after in _CLEANUPS:
        text = text.replace(before, after)
    return text


def _oniguruma_pattern(pattern: str) -> str:
    """A split pattern that Oniguruma (tokenizers' engine) reads as tiktoken's engine reads it.

    Two constructs read differently there: a possessive quantifier after a counted repetition (``\\p{N}{1,3}+``)
    is a second repetition in Oniguruma, and ``$`` is an end of line, not the end of the text. Possessive
    quantifiers are dropped (in the bundled patterns nothing after them could take back what they matched, so the
    greedy forms split the same; tests/test_huggingface.py proves parity on the corpora), and ``$`` becomes ``\\z``.
    """
    out: list[str] = []
    class_depth = 0
    after_quantifier = False  # the last thing written was a quantifier (so a "+" now makes it possessive)
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            end = i + 2
            if pattern[i + 1 : i + 2] in ("p", "P") and pattern[i + 2 : i + 3] == "{":
                end = pattern.index("}", i) + 1  # \p{...} is one atom; its brace is not a repetition
            out.append(pattern[i:end])
            after_quantifier = False
            i = end
            continue
        if class_depth:
            class_depth += char == "["
            class_depth -= char == "]"
            out.append(char)
        elif char == "[":
            class_depth = 1
            out.append(char)
            after_quantifier = False
        elif char == "+" and after_quantifier:
            after_quantifier = False  # possessive: dropped
        elif char in "+*?" and not (char == "?" and out and out[-1] == "("):
            out.append(char)
            after_quantifier = True
        elif char == "{":
            end = pattern.index("}", i) + 1
            out.append(pattern[i:end])
            after_quantifier = True
            i = end
            continue
        elif char == "$":
            out.append("\\z")
            after_quantifier = False
        else:
            out.append(char)
            after_quantifier = False
        i += 1
    return "".join(out)


def _byte_level(data: bytes) -> str:
    alphabet = _byte_alphabet()
    return "".join(alphabet[byte] for byte in data)


@functools.cache
def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-in for each byte (the byte-level alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    alphabet = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in alphabet:
            alphabet[byte] = chr(256 + extra)
            extra += 1
    return [alphabet[byte] for byte in range(256)]


def encoding_to_tokenizer_json(encoding: Encoding) -> str:
    """A ``tokenizer.json`` for a bytepair encoding: byte-level BPE whose merges give tiktoken's ids.

    Each token of two or more bytes gets the merge that tiktoken's own algorithm makes last when it encodes the token
    with only the ranks below it; merges are listed in rank order, and ``ignore_merges`` mirrors tiktoken's whole-piece
    lookup. A token that does not split into exactly two lower-ranked tokens cannot be expressed; that raises.
    """
    ranks = encoding._mergeable_ranks
    vocab = {_byte_level(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = _split_below(ranks, token, rank)
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) does not split into two lower-ranked tokens")
        merges.append([_byte_level(parts[0]), _byte_level(parts[1])])
    # Special tokens are in the vocab as well: tokenizers gives an added token the vocab's id for its content, and
    # otherwise the next free id, whatever the file says (cl100k_base's specials start after a gap).
    vocab.update(encoding._special_tokens)
    added = [
        {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for content, token_id in sorted(encoding._special_tokens.items(), key=lambda item: item[1])
    ]  # fmt: skip
    split = {"type": "Split", "pattern": {"Regex": _oniguruma_pattern(encoding._pat_str)},
             "behavior": "Isolated", "invert": False}  # fmt: skip
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split, byte_level]},
        "post_processor": {**byte_level, "trim_offsets": False},
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }  # fmt: skip
    return json.dumps(spec, ensure_ascii=False)


def _split_below(ranks: Mapping[bytes, int], token: bytes, rank: int) -> list[bytes]:
    """tiktoken's merge of ``token``'s bytes using only ranks below ``rank``."""
    parts = [token[i : i + 1] for i in range(len(token))]
    none = rank  # a pair rank of `rank` or more never merges here

    def pair_rank(i: int) -> int:
        found = ranks.get(parts[i] + parts[i + 1], none)
        return found if found < rank else none

    pair_ranks = [pair_rank(i) for i in range(len(parts) - 1)]
    while len(parts) > 2:
        lowest = min(pair_ranks)
        if lowest == none:
            break
        i = pair_ranks.index(lowest)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        del pair_ranks[i]
        if i < len(parts) - 1:
            pair_ranks[i] = pair_rank(i)
        if i > 0:
            pair_ranks[i - 1] = pair_rank(i - 1)
    return parts


def _gpt2_tokenizer_json(vocab_path: Path, merges_path: Path, config: Mapping[str, Any]) -> str:
    """A GPT-2 ``tokenizer.json`` from ``vocab.json`` + ``merges.txt``, as transformers' GPT2TokenizerFast makes it."""
    try:
        vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise TokenizerFileError(f"{vocab_path}: not valid JSON: {err}") from err
    if not isinstance(vocab, dict):
        raise TokenizerFileError(f"{vocab_path}: must map each token string to its id")
    merges = []
    for number, line in enumerate(merges_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise TokenizerFileError(f"{merges_path}: line {number}: expected 'left right', found {line!r}")
        merges.append(line)
    added: list[dict[str, Any]] = []
    for name in _SPECIAL_TOKEN_NAMES:
        value = config.get(name)
        content = value.get("content") if isinstance(value, dict) else value
        if isinstance(content, str) and content in vocab and all(token["content"] != content for token in added):
            added.append(
                {"id": vocab[content], "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True}
            )  # fmt: skip
    byte_level = {"type": "ByteLevel", "add_prefix_space": bool(config.get("add_prefix_space", False)),
                  "trim_offsets": True, "use_regex": True}  # fmt: skip
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": {**byte_level, "trim_offsets": False},
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": merges},
    }  # fmt: skip
    return json.dumps(spec, ensure_ascii=False)


if TYPE_CHECKING:
    _unused: tuple[type[np.ndarray[Any, Any]], type[npt.NDArray[Any]], type[Encoding]]
