"""Hugging Face tokenizer.json models: ids and offsets identical to `tokenizers` (PyPI), the oracle.

The shared files (../shared/vocab/huggingface) are checked over the corpora, generated text and a sweep of code
points; hand-made byte-level tokenizers (built here, and tests/vectors/tiny.tokenizer.json) check each normalizer,
pre-tokenizer behaviour and added-token flag without the shared folder.
"""

# ruff: noqa: RUF003, S311  (look-alike characters are the test data; random only picks test text)

from __future__ import annotations

import contextlib
import json
import pickle
import random
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest
from tests.conftest import VECTORS, require_shared, sample_text, split_documents

import bytepair
from bytepair.config import R50K_PATTERN

tokenizers = pytest.importorskip("tokenizers")

MODELS = ("gpt2", "gpt-neox-20b", "llama3", "qwen2", "starcoder", "deepseek-v3", "claude-legacy")
CORPUS_KINDS = ("english", "code", "multilingual")
# Documents per corpus and model: the whole corpora agree too (checked once: 3797 documents x 7 models), but with
# tokenizers as the oracle a full run takes minutes; an evenly spread sample covers every model in seconds.
DOCS_PER_CORPUS = 12
TINY = VECTORS / "tiny.tokenizer.json"

# Characters where engines, Unicode versions and normalizers tend to differ: case folding (ſ, K), marks, digits of
# other scripts, compatibility forms (ﬁ, ①, full width), Hangul jamo that compose, white space of every kind.
ALPHABET = [
    *"abstlLveErdmAZ_'\u2019!./-(<>|",
    *["'s", "'LL", "12", "1234", "\u017f", "\u212a", "\xe9", "\xc9", "\u01c5", "\u02b0", "\u4e2d", "\u0627"],
    *["\u0301", "\u093f", "0", "7", "\u0663", "\xbd", "\u216b", " ", "  ", "\t", "\n", "\r", "\xa0", "\u3000"],
    *["\u2028", "\x0b", "\x0c", "\x85", "\x1c", "\U0001f600", "\u200d", "\ufe0f", "\ue000", "\ufb01", "\u2460"],
    *["\uff21", "\uff76", "\uff9e", "\uac00", "\u1100", "\u1161", "\u11a8", "\xdf", "\u0130", "\u2126", "\ufdfa"],
    *["\U0001d400", "\u0660", "\u4e00", "\u9fa5", "\u3042", "\u30a2", "\uff1c", "\U00040000"],
]


@cache
def pair(model: str) -> tuple[Any, bytepair.Tokenizer]:
    """The oracle and bytepair, loaded from the same shared tokenizer.json."""
    path = require_shared(f"vocab/huggingface/{model}.tokenizer.json")
    return tokenizers.Tokenizer.from_file(str(path)), bytepair.Tokenizer.from_file(path)


@cache
def documents(kind: str) -> list[str]:
    text = require_shared(f"corpus/{kind}.txt").read_text(encoding="utf-8")
    docs = split_documents(text)
    step = max(1, len(docs) // DOCS_PER_CORPUS)
    return docs[::step][:DOCS_PER_CORPUS]


def generated_texts(seed: int, count: int, specials: list[str]) -> list[str]:
    rng = random.Random(seed)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(30))) for _ in range(count)]
    for _ in range(count // 10):
        texts.append(rng.choice(ALPHABET) + rng.choice(specials) + rng.choice(ALPHABET) + rng.choice(specials))
    return texts


def assert_same(oracle: Any, ours: bytepair.Tokenizer, texts: list[str]) -> None:
    """Ids and offsets of every text equal the oracle's; the first difference is shown."""
    expected = oracle.encode_batch(texts)
    got = ours(texts, return_offsets_mapping=True)
    for text, want, ids, offsets in zip(texts, expected, got["input_ids"], got["offset_mapping"], strict=True):
        assert (ids, offsets) == (want.ids, want.offsets), f"text {text[:200]!r}"


# ==== The shared tokenizer.json files ====


@pytest.mark.corpus
@pytest.mark.parametrize("kind", CORPUS_KINDS)
@pytest.mark.parametrize("model", MODELS)
def test_ids_and_offsets_equal_tokenizers_on_the_corpora(model: str, kind: str) -> None:
    oracle, ours = pair(model)
    assert_same(oracle, ours, documents(kind))


@pytest.mark.parametrize("model", MODELS)
def test_ids_and_offsets_equal_tokenizers_on_generated_text(model: str) -> None:
    oracle, ours = pair(model)
    specials = [token.content for token in oracle.get_added_tokens_decoder().values()][:50]
    assert_same(oracle, ours, generated_texts(seed=len(model), count=800, specials=specials))


@pytest.mark.parametrize("model", MODELS)
def test_every_code_point_region_equals_tokenizers(model: str) -> None:
    """Every 31st code point beside letters, digits, contractions and spaces (the split regexes' classes).

    The full sweep (every code point, all seven models) agrees too; it takes minutes with tokenizers as the oracle.
    """
    oracle, ours = pair(model)
    code_points = [chr(c) for c in range(0, 0x110000, 31) if not 0xD800 <= c < 0xE000]
    separators = ["a", " ", "1", "'s", "\n", "  ", "é"]
    texts = [
        "".join(c + separators[j % len(separators)] + c + c for j, c in enumerate(code_points[i : i + 64]))
        for i in range(0, len(code_points), 64)
    ]
    assert_same(oracle, ours, texts)


@hypothesis.given(parts=st.lists(st.sampled_from(ALPHABET), max_size=30))
def test_any_text_equals_tokenizers_on_llama3(parts: list[str]) -> None:
    oracle, ours = pair("llama3")
    assert_same(oracle, ours, ["".join(parts)])


@hypothesis.given(text=st.text(max_size=40))
def test_any_unicode_equals_tokenizers_on_the_nfkc_model(text: str) -> None:
    oracle, ours = pair("claude-legacy")
    assert_same(oracle, ours, [text])


# Which shared tokenizer.json each llama.cpp vector file was made from (its tokenizer, by name and ids).
LLAMA_CPP_VECTORS = {
    "ggml-vocab-gpt-2.gguf": "gpt2",
    "ggml-vocab-llama-bpe.gguf": "llama3",
    "ggml-vocab-mpt.gguf": "gpt-neox-20b",  # MPT uses the GPT-NeoX-20B tokenizer
    "ggml-vocab-qwen2.gguf": "qwen2",
    "ggml-vocab-starcoder.gguf": "starcoder",
}


def read_llama_cpp_vectors(name: str) -> list[tuple[str, list[int]]]:
    """llama.cpp's test-tokenizer-0 files: inputs separated by `__ggml_vocab_test__` lines, one id line each."""
    inputs = require_shared(f"vocab/llama.cpp-vectors/{name}.inp").read_text(encoding="utf-8")
    outputs = require_shared(f"vocab/llama.cpp-vectors/{name}.out").read_text(encoding="utf-8")
    texts = inputs.split("\n__ggml_vocab_test__\n")
    if texts[-1] == "":
        texts.pop()
    ids = [[int(token) for token in line.split()] for line in outputs.split("\n")[: len(texts)]]
    assert len(texts) == len(ids) > 40
    return list(zip(texts, ids, strict=True))


@pytest.mark.parametrize(("vectors", "model"), LLAMA_CPP_VECTORS.items())
def test_llama_cpp_vectors_pass(vectors: str, model: str) -> None:
    _, ours = pair(model)
    for text, ids in read_llama_cpp_vectors(vectors):
        assert ours.encode(text, add_special_tokens=False) == ids, f"text {text!r}"


@pytest.mark.parametrize("model", MODELS)
def test_decode_equals_tokenizers(model: str) -> None:
    oracle, ours = pair(model)
    rng = random.Random(7)
    specials = sorted(oracle.get_added_tokens_decoder())
    batches = [oracle.encode(text).ids for text in generated_texts(1, 200, ["<|x|>"])]
    batches += [[rng.randrange(oracle.get_vocab_size()) for _ in range(20)] + specials[:3] for _ in range(100)]
    for ids in batches:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == oracle.decode(ids, skip_special_tokens=skip), ids


@pytest.mark.parametrize("model", MODELS)
def test_vocabulary_equals_tokenizers(model: str) -> None:
    oracle, ours = pair(model)
    assert ours.get_vocab() == oracle.get_vocab(with_added_tokens=True)
    assert len(ours) == oracle.get_vocab_size(with_added_tokens=True)
    assert ours.vocab_size == oracle.get_vocab_size(with_added_tokens=False)
    ids = list(range(0, oracle.get_vocab_size(), 997))
    assert ours.convert_ids_to_tokens(ids) == [oracle.id_to_token(i) for i in ids]
    tokens = [oracle.id_to_token(i) for i in ids]
    assert ours.convert_tokens_to_ids(tokens) == [oracle.token_to_id(t) for t in tokens]


# ==== Padding, truncation, pairs and offsets through the call ====

CALLS = [
    pytest.param({"padding": True}, id="longest"),
    pytest.param({"padding": True, "padding_side": "left"}, id="longest-left"),
    pytest.param({"padding": "max_length", "max_length": 300, "truncation": True}, id="max_length-truncate"),
    pytest.param(
        {"padding": True, "max_length": 37, "truncation": True, "truncation_side": "left"}, id="truncate-left"
    ),
    pytest.param({"padding": True, "pad_to_multiple_of": 8}, id="multiple-of-8"),
    pytest.param({"truncation": True, "max_length": 5}, id="truncate-unpadded"),
    pytest.param({"padding": True, "add_special_tokens": False, "max_length": 9, "truncation": True}, id="no-specials"),
]


@contextlib.contextmanager
def configured(oracle: Any, call: dict[str, Any], pad_id: int) -> Iterator[Any]:
    """The oracle with padding and truncation set as transformers sets them for this call; reset afterwards, since
    the shared oracles are cached."""
    if call.get("truncation"):
        oracle.enable_truncation(call["max_length"], direction=call.get("truncation_side", "right"))
    if call.get("padding"):
        length = call["max_length"] if call["padding"] == "max_length" else None
        oracle.enable_padding(
            direction=call.get("padding_side", "right"),
            pad_id=pad_id,
            pad_token="<pad>",  # noqa: S106  (a token, not a password)
            length=length,
            pad_to_multiple_of=call.get("pad_to_multiple_of"),
        )
    try:
        yield oracle
    finally:
        oracle.no_truncation()
        oracle.no_padding()


@cache
def with_pad_token(model: str, pad: str) -> bytepair.Tokenizer:
    path = require_shared(f"vocab/huggingface/{model}.tokenizer.json")
    return bytepair.Tokenizer.from_file(path, config={"pad_token": pad, "bos_token": pad})


PAD_TOKENS = {"gpt2": "<|endoftext|>", "llama3": "<|end_of_text|>", "qwen2": "<|endoftext|>"}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("model", sorted(PAD_TOKENS))
def test_padding_and_truncation_equal_tokenizers(model: str, call: dict[str, Any]) -> None:
    ours = with_pad_token(model, PAD_TOKENS[model])
    pad_id = ours.pad_token_id
    assert pad_id is not None
    texts = [*documents("multilingual")[:6], "", "a", "hello world " * 40]
    add_special_tokens = call.get("add_special_tokens", True)
    with configured(pair(model)[0], call, pad_id) as oracle:
        expected = oracle.encode_batch(texts, add_special_tokens=add_special_tokens)
    got = ours(texts, return_offsets_mapping=True, return_special_tokens_mask=True, **call)
    assert got["input_ids"] == [e.ids for e in expected]
    assert got["attention_mask"] == [e.attention_mask for e in expected]
    assert got["offset_mapping"] == [e.offsets for e in expected]
    assert got["special_tokens_mask"] == [e.special_tokens_mask for e in expected]
    if call.get("padding"):
        arrays = ours(texts, return_tensors="np", return_offsets_mapping=True, **call)
        assert arrays["input_ids"].tolist() == [e.ids for e in expected]
        assert arrays["attention_mask"].tolist() == [e.attention_mask for e in expected]
        assert arrays["offset_mapping"].tolist() == [[list(o) for o in e.offsets] for e in expected]


TEMPLATE = {
    "type": "TemplateProcessing",
    "single": [
        {"SpecialToken": {"id": "<s>", "type_id": 0}},
        {"Sequence": {"id": "A", "type_id": 0}},
        {"SpecialToken": {"id": "</s>", "type_id": 0}},
    ],
    "pair": [
        {"SpecialToken": {"id": "<s>", "type_id": 0}},
        {"Sequence": {"id": "A", "type_id": 0}},
        {"SpecialToken": {"id": "</s>", "type_id": 0}},
        {"Sequence": {"id": "B", "type_id": 1}},
        {"SpecialToken": {"id": "</s>", "type_id": 1}},
    ],
    "special_tokens": {
        "<s>": {"id": "<s>", "ids": [264], "tokens": ["<s>"]},
        "</s>": {"id": "</s>", "ids": [265], "tokens": ["</s>"]},
    },
}


@pytest.mark.parametrize("max_length", [4, 7, 12, 50, 400])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pairs_truncate_longest_first_like_tokenizers(max_length: int, side: str) -> None:
    # 264 and 265 are the ids tokenizers gives the two added tokens (the first ids after the 264-token vocab).
    text = json.dumps(byte_level_spec(post_processor=TEMPLATE, added_tokens=[added("<s>", 264), added("</s>", 265)]))
    ours = bytepair.Tokenizer.from_str(text, config={"pad_token": "</s>"})
    call = {"truncation": True, "max_length": max_length, "truncation_side": side, "padding": True}
    oracle = tokenizers.Tokenizer.from_str(text)
    firsts = ["short one", "a much longer first sentence than the second " * 5, "", "x y z", "abcd ab " * 9]
    seconds = ["a much longer second sentence " * 4, "tiny", "only the pair", "", "eee " * 7]
    with configured(oracle, call, 265):
        expected = oracle.encode_batch(list(zip(firsts, seconds, strict=True)))
        expected_singles = oracle.encode_batch(firsts)
    got = ours(firsts, seconds, return_offsets_mapping=True, return_token_type_ids=True, **call)
    assert got["input_ids"] == [e.ids for e in expected]
    assert got["offset_mapping"] == [e.offsets for e in expected]
    assert got["token_type_ids"] == [e.type_ids for e in expected]
    assert got["attention_mask"] == [e.attention_mask for e in expected]
    singles = ours(firsts, return_tensors="np", **call)
    assert singles["input_ids"].tolist() == [e.ids for e in expected_singles]


@pytest.mark.parametrize("strategy", ["only_first", "only_second"])
@pytest.mark.parametrize("max_length", [3, 7, 12, 50])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pairs_truncate_only_one_sequence_like_tokenizers(strategy: str, max_length: int, side: str) -> None:
    text = json.dumps(byte_level_spec(post_processor=TEMPLATE, added_tokens=[added("<s>", 264), added("</s>", 265)]))
    ours = bytepair.Tokenizer.from_str(text, config={"pad_token": "</s>"})
    oracle = tokenizers.Tokenizer.from_str(text)
    call = {"truncation": strategy, "max_length": max_length, "truncation_side": side}
    firsts = ["short one", "a much longer first sentence than the second " * 5, "", "x y z", "abcd ab " * 9]
    seconds = ["a much longer second sentence " * 4, "tiny", "only the pair", "", "eee " * 7]
    oracle.enable_truncation(max_length, strategy=strategy, direction=side)
    try:
        for first, second in zip(firsts, seconds, strict=True):
            try:
                want = oracle.encode(first, second)
            except Exception:  # tokenizers raises a bare Exception when the sequence is too short
                with pytest.raises(ValueError, match=strategy):
                    ours(first, second, **call)
                continue
            got = ours(first, second, return_offsets_mapping=True, return_token_type_ids=True, **call)
            assert got["input_ids"] == want.ids, (first, second)
            assert got["offset_mapping"] == want.offsets
            assert got["token_type_ids"] == want.type_ids
    finally:
        oracle.no_truncation()


def test_only_second_without_a_pair_is_an_error_only_when_it_must_cut() -> None:
    ours = with_pad_token("gpt2", PAD_TOKENS["gpt2"])
    assert ours("hello world", truncation="only_second", max_length=5)["input_ids"] == [31373, 995]
    for return_tensors in (None, "np"):
        with pytest.raises(ValueError, match="needs a text pair"):
            ours(["hello world"], truncation="only_second", max_length=1, padding=True, return_tensors=return_tensors)
    assert ours("hello world", truncation="only_first", max_length=1)["input_ids"] == [31373]


def test_a_batch_of_pairs_equals_text_and_text_pair() -> None:
    text = json.dumps(byte_level_spec(post_processor=TEMPLATE, added_tokens=[added("<s>", 264), added("</s>", 265)]))
    ours = bytepair.Tokenizer.from_str(text, config={"pad_token": "</s>"})
    firsts, seconds = ["ab cd", "x", ""], ["eee", "", "12 ab"]
    want = ours(firsts, seconds, padding=True, return_token_type_ids=True)
    assert ours(list(zip(firsts, seconds, strict=True)), padding=True, return_token_type_ids=True) == want
    assert (
        ours([[a, b] for a, b in zip(firsts, seconds, strict=True)], padding=True, return_token_type_ids=True) == want
    )
    oracle = tokenizers.Tokenizer.from_str(text)
    assert want["input_ids"][0] == oracle.encode("ab cd", "eee").ids


@pytest.mark.parametrize("post_processor", [None, TEMPLATE], ids=["plain", "template"])
@pytest.mark.parametrize("file_truncation", [False, True], ids=["", "file-truncation"])
def test_flat_arrays_hold_what_encode_batch_gives(post_processor: Any, file_truncation: bool) -> None:
    spec = byte_level_spec(post_processor=post_processor, added_tokens=[added("<s>", 264), added("</s>", 265)])
    if file_truncation:
        spec["truncation"] = {"max_length": 4, "strategy": "LongestFirst", "stride": 0, "direction": "Right"}
    ours = bytepair.Tokenizer.from_str(json.dumps(spec))
    texts = ["ab cd", "", "eee ab cd 12 " * 3, "x"]
    for add_special_tokens in (True, False):
        tokens, offsets = ours.encode_batch_to_numpy(texts, add_special_tokens)
        assert tokens.dtype.name == "uint32" and offsets.dtype.name == "int64" and tokens.flags.writeable
        rows = [tokens[offsets[i] : offsets[i + 1]].tolist() for i in range(len(texts))]
        assert rows == ours.encode_batch(texts, add_special_tokens)
        assert offsets[0] == 0 and offsets[-1] == len(tokens)
    if post_processor is not None and not file_truncation:
        with_template = ours.encode_batch_to_numpy(["ab"])[0].tolist()
        assert with_template[0] == 264 and with_template[-1] == 265  # the template's <s> and </s>


def test_one_text_gives_flat_lists_and_arrays_keep_the_batch_dimension() -> None:
    ours = with_pad_token("gpt2", PAD_TOKENS["gpt2"])
    single = ours("hello world")
    assert single["input_ids"] == [31373, 995] and single["attention_mask"] == [1, 1]
    assert single.input_ids == single["input_ids"]
    arrays = ours("hello world", return_tensors="np")
    assert arrays["input_ids"].shape == (1, 2)
    assert arrays["input_ids"].dtype.name == "int64"


def test_ragged_arrays_need_padding() -> None:
    ours = with_pad_token("gpt2", PAD_TOKENS["gpt2"])
    with pytest.raises(ValueError, match="padding=True"):
        ours(["a", "a b c"], return_tensors="np")


def test_padding_without_a_pad_token_is_a_clear_error() -> None:
    _, ours = pair("gpt2")
    with pytest.raises(ValueError, match="no pad token"):
        ours(["a", "b c"], padding=True)


def test_torch_tensors_equal_numpy_arrays() -> None:
    torch = pytest.importorskip("torch")
    ours = with_pad_token("gpt2", PAD_TOKENS["gpt2"])
    texts = ["a", "hello there world"]
    tensors = ours(texts, padding=True, return_tensors="pt")
    arrays = ours(texts, padding=True, return_tensors="np")
    assert isinstance(tensors["input_ids"], torch.Tensor)
    assert tensors["input_ids"].tolist() == arrays["input_ids"].tolist()


def test_special_token_properties_come_from_tokenizer_config(tmp_path: Path) -> None:
    source = require_shared("vocab/huggingface/gpt2.tokenizer.json")
    (tmp_path / "tokenizer.json").write_bytes(source.read_bytes())
    config = {"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}, "model_max_length": 8}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    ours = bytepair.Tokenizer.from_pretrained(tmp_path)
    assert (ours.bos_token, ours.bos_token_id) == ("<|endoftext|>", 50256)
    assert (ours.eos_token, ours.eos_token_id) == ("<|endoftext|>", 50256)
    assert ours.pad_token is None and ours.pad_token_id is None and ours.unk_token_id is None
    assert len(ours("word " * 20, truncation=True)["input_ids"]) == 8  # model_max_length is the default max_length
    saved = ours.save_pretrained(tmp_path / "saved")
    again = bytepair.Tokenizer.from_pretrained(tmp_path / "saved")
    assert [Path(p).name for p in saved] == ["tokenizer.json", "tokenizer_config.json"]
    assert again.encode("héllo wörld 123") == ours.encode("héllo wörld 123")
    assert again.eos_token_id == 50256


def test_vocab_json_and_merges_txt_load_like_tokenizers(tmp_path: Path) -> None:
    spec = json.loads(require_shared("vocab/huggingface/gpt2.tokenizer.json").read_text(encoding="utf-8"))
    (tmp_path / "vocab.json").write_text(json.dumps(spec["model"]["vocab"]), encoding="utf-8")
    merges = ["#version: 0.2", *spec["model"]["merges"]]
    (tmp_path / "merges.txt").write_text("\n".join(merges) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    ours = bytepair.Tokenizer.from_pretrained(tmp_path)
    oracle = tokenizers.Tokenizer(
        tokenizers.models.BPE.from_file(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    )
    oracle.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    oracle.add_special_tokens(["<|endoftext|>"])
    assert_same(oracle, ours, [*documents("english")[:10], "a<|endoftext|>b"])
    assert ours.eos_token_id == 50256


def test_one_tokenizer_shared_by_threads_gives_single_thread_results() -> None:
    ours = with_pad_token("gpt2", PAD_TOKENS["gpt2"])
    texts = documents("code")[:8]
    calls = [
        {"padding": True},
        {"padding": "max_length", "max_length": 600, "truncation": True, "padding_side": "left"},
        {"truncation": True, "max_length": 10},
        {"return_tensors": "np", "padding": True},
    ]
    expected = [ours(texts, **call) for call in calls]
    failures: list[str] = []

    def work(index: int) -> None:
        for repeat in range(5):
            call = calls[(index + repeat) % len(calls)]
            got = ours(texts, **call)
            want = expected[(index + repeat) % len(calls)]
            if str(got["input_ids"]) != str(want["input_ids"]):
                failures.append(f"thread {index} call {call}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def tiny() -> bytepair.Tokenizer:
    return bytepair.Tokenizer.from_file(TINY)


def test_settings_transformers_users_set_are_checked_and_used(tmp_path: Path) -> None:
    ours = tiny()
    with pytest.raises(ValueError, match="no pad token"):
        ours(["abcd ab", "ab"], padding=True)
    ours.pad_token = "<pad>"  # noqa: S105  (a token, not a password)
    assert (ours.pad_token, ours.pad_token_id) == ("<pad>", 12)
    configured = bytepair.Tokenizer.from_file(TINY, config={"pad_token": "<pad>"})
    assert ours(["abcd ab", "ab"], padding=True) == configured(["abcd ab", "ab"], padding=True)
    # The sides are defaults that a call's own argument overrides.
    ours.padding_side = "left"
    assert ours.padding_side == "left"
    assert ours(["abcd ab", "ab"], padding=True)["input_ids"] == [[8, 9], [12, 5]]
    assert ours(["abcd ab", "ab"], padding=True, padding_side="right")["input_ids"] == [[8, 9], [5, 12]]
    ours.truncation_side = "left"
    ours.model_max_length = 1
    assert ours("abcd ab", truncation=True)["input_ids"] == [9]
    assert ours("abcd ab", truncation=True, truncation_side="right")["input_ids"] == [8]
    # By id, and None for none.
    ours.bos_token_id = 13
    assert ours.bos_token == "<s>"  # noqa: S105
    ours.pad_token_id = None
    assert ours.pad_token is None and ours.pad_token_id is None
    # Kept by pickling and by save_pretrained, as a tokenizer_config.json would give them.
    ours.save_pretrained(tmp_path)
    for again in [pickle.loads(pickle.dumps(ours)), bytepair.Tokenizer.from_pretrained(tmp_path)]:  # noqa: S301
        settings = (again.bos_token, again.pad_token, again.padding_side, again.truncation_side, again.model_max_length)
        assert settings == ("<s>", None, "left", "left", 1)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("pad_token", "<none>", "must be a token of this tokenizer"),
        ("pad_token", 12, "must be a token of this tokenizer"),
        ("eos_token_id", 99, "must be the id of a token"),
        ("eos_token_id", "12", "must be the id of a token"),
        ("model_max_length", 0, "positive int"),
        ("padding_side", "top", "'left' or 'right'"),
        ("truncation_side", None, "'left' or 'right'"),
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(name: str, value: Any, message: str) -> None:
    ours = tiny()
    before = getattr(ours, name)
    with pytest.raises(ValueError, match=message):
        setattr(ours, name, value)
    assert getattr(ours, name) == before


def test_other_attributes_cannot_be_set() -> None:
    ours = tiny()
    specials = [f"{kind}_token{suffix}" for suffix in ("", "_id") for kind in ("bos", "eos", "pad", "unk")]
    assert ours.SETTABLE == (*specials, "model_max_length", "padding_side", "truncation_side")
    for name in ["vocab_size", "add_bos_token", "_core"]:
        with pytest.raises(AttributeError, match="the attributes that may be set are bos_token"):
            setattr(ours, name, 1)


def test_tokenize_gives_the_token_strings_of_tokenizers() -> None:
    oracle, ours = pair("llama3")
    for text in [*documents("multilingual")[:5], "héllo wörld 123 <|begin_of_text|>x"]:
        assert ours.tokenize(text, add_special_tokens=True) == oracle.encode(text).tokens
        assert ours.tokenize(text) == oracle.encode(text, add_special_tokens=False).tokens


# ==== Hand-made byte-level tokenizers: each component against the oracle, without ../shared ====


def byte_level_spec(**parts: Any) -> dict[str, Any]:
    """A byte-level BPE tokenizer.json: all 256 bytes, a few merges whose order differs from their ids."""
    chars = tokenizers.pre_tokenizers.ByteLevel.alphabet()
    byte_chars = sorted(chars)
    vocab = {c: i for i, c in enumerate(byte_chars)}
    merges = [("a", "b"), ("c", "d"), ("ab", "cd"), ("Ġ", "a"), ("Ġa", "b"), ("e", "e"), ("ee", "e"), ("1", "2")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab["Ġab"], vocab["abcd"] = vocab["abcd"], vocab["Ġab"]  # priority order no longer follows the ids
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    spec: dict[str, Any] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    spec.update(parts)
    return spec


def added(content: str, token_id: int, **flags: bool) -> dict[str, Any]:
    token = {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }
    token.update(flags)
    return token


def split(pattern: dict[str, str], behavior: str, invert: bool = False) -> dict[str, Any]:
    return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}


def byte_level(**options: bool) -> dict[str, Any]:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False, **options}


VARIANTS = {
    **{
        f"split-{behavior}-{'invert' if invert else 'plain'}": {
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [split({"String": "e"}, behavior, invert), byte_level()],
            },
        }
        for behavior in ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")
        for invert in (False, True)
    },
    "split-regex-gaps": {
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [split({"Regex": r"\p{N}{1,3}| ?\p{L}+"}, "Isolated"), byte_level()],
        }
    },
    "split-regex-backtracking": {
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [split({"Regex": r"\p{L}+(?=\s)|\s+(?!\S)|\S"}, "Isolated"), byte_level()],
        }
    },
    "split-line-anchors": {
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [split({"Regex": r"^\s*|\S+$|\s+"}, "Isolated"), byte_level()],
        }
    },
    "digits-individual": {
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level(use_regex=True)],
        }
    },
    "digits-contiguous": {
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [{"type": "Digits", "individual_digits": False}, byte_level(use_regex=True)],
        }
    },
    "byte-level-prefix-space": {"pre_tokenizer": byte_level(add_prefix_space=True, use_regex=True)},
    "byte-level-no-regex": {"pre_tokenizer": byte_level()},
    "nfc": {"normalizer": {"type": "NFC"}},
    "nfkc-lowercase": {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}},
    "prepend": {"normalizer": {"type": "Prepend", "prepend": "▁x"}},
    "replace-string": {"normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "ab"}},
    "replace-regex": {"normalizer": {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": ""}},
    "ignore-merges": {},
    "post-trim-offsets": {"post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True}},
    "roberta": {
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": ["</s>", 1],
            "cls": ["<s>", 0],
            "trim_offsets": True,
            "add_prefix_space": False,
        }
    },
    "added-flags": {
        "normalizer": {"type": "Lowercase"},
        "added_tokens": [
            added("<s>", 300),
            added("</s>", 301, lstrip=True),
            added("ab", 302, single_word=True, special=False),
            added("EE", 303, normalized=True, special=False),
            added("<x>", 304, rstrip=True, lstrip=True),
        ],
    },
}
VARIANTS["ignore-merges"] = {"model": {**byte_level_spec()["model"], "ignore_merges": True}}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_component_equals_tokenizers(variant: str) -> None:
    spec = byte_level_spec(**VARIANTS[variant])
    text = json.dumps(spec)
    oracle = tokenizers.Tokenizer.from_str(text)
    ours = bytepair.Tokenizer.from_str(text)
    rng = random.Random(variant)
    pieces = [*ALPHABET, "ab", "cd", "abcd", "eee", "e", " e ", "12", "<s>", "</s>", "<x>", "EE", "AB", "  \n"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(25))) for _ in range(600)]
    assert_same(oracle, ours, [*texts, "", " ", "abcd ab", "eEe"])
    for ids in [oracle.encode(t).ids for t in texts[:200]]:
        assert ours.decode(ids, skip_special_tokens=True) == oracle.decode(ids, skip_special_tokens=True)


def test_tiny_tokenizer_merges_by_list_order_not_by_id() -> None:
    """Merges, in priority order: a b -> ab(5), c d -> cd(6), ab cd -> abcd(8), ab c -> abc(7), Ġ ab, Ġ c, Ġ cd.

    "abcd" -> a b c d -> ab c d -> ab cd -> abcd: [8], although "abc" (7) has the smaller id;
    " cd" -> Ġ c d -> Ġ cd (c d comes before Ġ c) -> Ġcd: [10].
    """
    ours = bytepair.Tokenizer.from_file(TINY)
    assert ours.encode("abcd") == [8]
    assert ours.encode("abc") == [7]
    assert ours.encode("ab cd") == [5, 10]
    assert ours("ab cd", return_offsets_mapping=True)["offset_mapping"] == [(0, 2), (2, 5)]
    assert ours.encode("<s>ab<pad>") == [13, 5, 12]
    assert ours.decode([13, 5, 12], skip_special_tokens=True) == "ab"
    oracle = tokenizers.Tokenizer.from_file(str(TINY))
    assert_same(oracle, ours, ["abcd ab cd", "<s>abc<pad>", "dcba"])


# ==== Errors ====

UNSUPPORTED = [
    pytest.param({"normalizer": {"type": "NFD"}}, "normalizer 'NFD'", id="normalizer-nfd"),
    pytest.param({"normalizer": {"type": "BertNormalizer"}}, "normalizer 'BertNormalizer'", id="normalizer-bert"),
    pytest.param({"pre_tokenizer": {"type": "Whitespace"}}, "pre-tokenizer 'Whitespace'", id="pre-tokenizer-ws"),
    pytest.param({"pre_tokenizer": {"type": "Metaspace"}}, "pre-tokenizer 'Metaspace'", id="pre-tokenizer-meta"),
    pytest.param({"pre_tokenizer": None}, "no pre-tokenizer", id="no-pre-tokenizer"),
    pytest.param(
        {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits"}]}},
        "no ByteLevel",
        id="no-byte-level",
    ),
    pytest.param(
        {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [byte_level(), {"type": "Digits"}]}},
        "after ByteLevel",
        id="step-after-byte-level",
    ),
    pytest.param(
        {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [split({"String": "x"}, "Shuffled"), byte_level()]}},
        "unknown behavior 'Shuffled'",
        id="split-behavior",
    ),
    pytest.param({"post_processor": {"type": "BertProcessing"}}, "post-processor 'BertProcessing'", id="post-bert"),
    pytest.param({"decoder": {"type": "WordPiece"}}, "decoder", id="decoder-wordpiece"),
    pytest.param({"model": {"type": "WordPiece", "vocab": {}}}, "model 'WordPiece'", id="model-wordpiece"),
]


@pytest.mark.parametrize(("part", "message"), UNSUPPORTED)
def test_unsupported_components_name_themselves_and_the_file(part: dict[str, Any], message: str) -> None:
    text = json.dumps(byte_level_spec(**part))
    with pytest.raises(bytepair.TokenizerFileError, match=message) as raised:
        bytepair.Tokenizer.from_str(text, source="my/tokenizer.json")
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith("my/tokenizer.json: ")


@pytest.mark.parametrize(
    ("option", "value"),
    [("continuing_subword_prefix", "##"), ("end_of_word_suffix", "</w>"), ("dropout", 0.1), ("byte_fallback", True)],
)
def test_unsupported_model_options_are_errors(option: str, value: Any) -> None:
    spec = byte_level_spec()
    spec["model"][option] = value
    with pytest.raises(bytepair.TokenizerFileError, match=f"model.{option}"):
        bytepair.Tokenizer.from_str(json.dumps(spec))


def test_unknown_token_is_an_error_only_where_it_could_be_produced() -> None:
    spec = byte_level_spec()
    spec["model"]["unk_token"] = "a"  # noqa: S105  (a token, not a password)
    assert bytepair.Tokenizer.from_str(json.dumps(spec)).encode("ab") == [256]
    del spec["model"]["vocab"]["\u0100"]  # the byte 0x00 has no token now
    with pytest.raises(bytepair.TokenizerFileError, match=r"model\.unk_token"):
        bytepair.Tokenizer.from_str(json.dumps(spec))


MALFORMED = [
    pytest.param("{not json", "not valid JSON", id="json"),
    pytest.param("[]", "JSON object", id="top-level"),
    pytest.param(json.dumps({"pre_tokenizer": byte_level()}), "'model' is missing", id="no-model"),
    pytest.param(json.dumps(byte_level_spec(added_tokens=[{"content": "x"}])), r"added_tokens\[0\]", id="added-id"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(bytepair.TokenizerFileError, match=message):
        bytepair.Tokenizer.from_str(text)


def test_merge_naming_a_missing_token_is_an_error() -> None:
    spec = byte_level_spec()
    spec["model"]["merges"].append("ab zz")
    with pytest.raises(bytepair.TokenizerFileError, match=r"merge 8 \(\"ab zz\"\) needs the token \"zz\""):
        bytepair.Tokenizer.from_str(json.dumps(spec))
    spec["model"]["merges"][-1] = "a b c"
    with pytest.raises(bytepair.TokenizerFileError, match=r"model.merges\[8\]"):
        bytepair.Tokenizer.from_str(json.dumps(spec))


def test_merges_in_either_encoding_load_alike_and_malformed_ones_are_named() -> None:
    spec = byte_level_spec()
    pairs = [merge.split(" ") for merge in spec["model"]["merges"]]
    want = bytepair.Tokenizer.from_str(json.dumps(spec)).encode(" ab cd eee 12")
    for merges in (pairs, [pairs[0], *spec["model"]["merges"][1:]]):  # lists, and the two encodings mixed
        spec["model"]["merges"] = merges
        assert bytepair.Tokenizer.from_str(json.dumps(spec)).encode(" ab cd eee 12") == want
    for bad in ("ab", {"a": "b"}, ["a", "b", "c"], ["a", 1]):  # not a pair, though some iterate to two items
        spec["model"]["merges"] = [*pairs[:3], bad]
        with pytest.raises(bytepair.TokenizerFileError, match=r"model.merges\[3\]"):
            bytepair.Tokenizer.from_str(json.dumps(spec))


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(bytepair.TokenizerFileError, match="cannot read"):
        bytepair.Tokenizer.from_file(tmp_path / "absent.json")
    with pytest.raises(bytepair.TokenizerFileError, match=r"needs tokenizer\.json, or vocab\.json and merges\.txt"):
        bytepair.Tokenizer.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="from_file"):
        bytepair.Tokenizer()


# ==== Export: bytepair encodings to tokenizer.json, Hugging Face models to tiktoken ranks ====


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base"])
def test_exported_encoding_loads_in_tokenizers_with_identical_ids(name: str) -> None:
    encoding = bytepair.get_encoding(name)
    exported = bytepair.Tokenizer.from_encoding(encoding)
    oracle = tokenizers.Tokenizer.from_str(exported.to_str())
    texts = [doc for kind in CORPUS_KINDS for doc in split_documents(sample_text(kind))[::9]]
    texts += generated_texts(seed=3, count=500, specials=["<|endoftext|>"])
    texts = [text.replace("<|endoftext|>", "") for text in texts]
    expected = [encoding.encode_ordinary(text) for text in texts]
    assert [e.ids for e in oracle.encode_batch(texts)] == expected
    assert exported.encode_batch(texts) == expected
    assert oracle.encode("a<|endoftext|>b").ids == encoding.encode("a<|endoftext|>b", allowed_special="all")


@pytest.mark.parametrize(
    ("pattern", "oniguruma"),
    [
        (r"\p{N}{1,3}+", r"\p{N}{1,3}"),
        (r"\s++$|\s+(?!\S)", r"\s+\z|\s+(?!\S)"),
        (r"[^\r\n\p{L}\p{N}]?+\p{L}++", r"[^\r\n\p{L}\p{N}]?\p{L}+"),
        (r"[$+]+\++a*+", r"[$+]+\++a*"),
    ],
)
def test_exported_patterns_read_the_same_in_oniguruma(pattern: str, oniguruma: str) -> None:
    """Oniguruma reads `{1,3}+` as a second repetition and `$` as an end of line: both are rewritten."""
    from bytepair.huggingface import _oniguruma_pattern

    assert _oniguruma_pattern(pattern) == oniguruma


def test_gpt2_model_converts_to_tiktoken_ranks_with_identical_ids() -> None:
    oracle, ours = pair("gpt2")
    ranks = ours.to_tiktoken_ranks()
    assert ranks == bytepair.get_encoding("gpt2")._mergeable_ranks
    encoding = bytepair.Encoding("gpt2-from-hf", pat_str=R50K_PATTERN, mergeable_ranks=ranks, special_tokens={})
    texts = documents("english") + documents("multilingual")
    assert [encoding.encode_ordinary(text) for text in texts] == [e.ids for e in oracle.encode_batch(texts)]


def test_merge_order_unlike_id_order_cannot_become_tiktoken_ranks() -> None:
    with pytest.raises(ValueError, match="not the id order"):
        bytepair.Tokenizer.from_file(TINY).to_tiktoken_ranks()
