"""The public surface matches tiktoken 0.14's, so `import bytepair as tiktoken` works: the same methods with the same
parameters, the same module functions and model tables, and the same vocabulary facts for every encoding."""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ALL_ENCODINGS, VECTORS, VOCAB_DIR, oracle

import bytepair
import bytepair.config

tiktoken = pytest.importorskip("tiktoken")
tiktoken_load = pytest.importorskip("tiktoken.load")
tiktoken_model = pytest.importorskip("tiktoken.model")

ENCODING_NAMES = ["gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"]

# The one intended difference in signatures: bytepair's batch methods default to one thread per CPU.
NUM_THREADS_DEFAULT = {"encode_batch", "encode_ordinary_batch", "decode_batch", "decode_bytes_batch"}

PUBLIC_MEMBERS = [*sorted(name for name in dir(tiktoken.Encoding) if not name.startswith("_")), "__init__"]


def member_kind(cls: type, name: str) -> type:
    return type(inspect.getattr_static(cls, name))


@pytest.mark.parametrize("member", PUBLIC_MEMBERS)
def test_every_public_member_of_tiktoken_encoding_exists_with_the_same_kind(member: str) -> None:
    assert hasattr(bytepair.Encoding, member)
    assert member_kind(bytepair.Encoding, member) is member_kind(tiktoken.Encoding, member)


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(
    "member", [m for m in PUBLIC_MEMBERS if member_kind(tiktoken.Encoding, m) is type(lambda: None)]
)
def test_every_method_has_tiktokens_parameter_names_kinds_and_defaults(member: str) -> None:
    expected = parameters(getattr(tiktoken.Encoding, member))
    actual = parameters(getattr(bytepair.Encoding, member))
    if member in NUM_THREADS_DEFAULT:
        expected = [(n, k, None if n == "num_threads" else d) for n, k, d in expected]
        assert ("num_threads", inspect.Parameter.KEYWORD_ONLY, 8) in parameters(getattr(tiktoken.Encoding, member))
    assert actual == expected


@pytest.mark.parametrize("member", ["_encode_bytes", "_encode_single_piece"])
def test_private_methods_that_tiktoken_users_call_exist_with_the_same_parameters(member: str) -> None:
    assert [p[:2] for p in parameters(getattr(bytepair.Encoding, member))] == [
        p[:2] for p in parameters(getattr(tiktoken.Encoding, member))
    ]


@pytest.mark.parametrize("attribute", ["name", "_pat_str", "_mergeable_ranks", "_special_tokens", "max_token_value"])
def test_instance_attributes_that_tiktoken_users_read_exist(cl100k: bytepair.Encoding, attribute: str) -> None:
    expected = getattr(oracle("cl100k_base"), attribute)
    assert getattr(cl100k, attribute) == expected


@pytest.mark.parametrize(
    "function", ["get_encoding", "list_encoding_names", "encoding_for_model", "encoding_name_for_model"]
)
def test_module_functions_exist_with_tiktokens_parameters(function: str) -> None:
    assert callable(getattr(bytepair, function))
    expected = [p[:2] for p in parameters(getattr(tiktoken, function))]
    assert [p[:2] for p in parameters(getattr(bytepair, function))] == expected


@pytest.mark.parametrize("module", ["core", "load", "model", "registry"])
def test_tiktokens_submodules_exist(module: str) -> None:
    importlib.import_module(f"bytepair.{module}")
    # As in tiktoken, each is an attribute of the package once it is imported: `tiktoken.core.Encoding` works.
    assert hasattr(tiktoken, module)
    assert hasattr(bytepair, module)


def test_core_encoding_is_the_encoding() -> None:
    import bytepair.core

    assert bytepair.core.Encoding is bytepair.Encoding


@pytest.mark.parametrize(
    "function",
    ["load_tiktoken_bpe", "dump_tiktoken_bpe", "data_gym_to_mergeable_bpe_ranks", "read_file", "read_file_cached"],
)
def test_load_module_has_tiktokens_functions_with_the_same_parameters(function: str) -> None:
    expected = [(n, k, d) for n, k, d in parameters(getattr(tiktoken.load, function))]
    assert parameters(getattr(bytepair.load, function)) == expected


# ==== Models ====


def test_model_tables_equal_tiktokens() -> None:
    assert bytepair.model.MODEL_TO_ENCODING == tiktoken_model.MODEL_TO_ENCODING
    # Prefixes are tried in order, so the order is part of the table.
    assert list(bytepair.model.MODEL_PREFIX_TO_ENCODING.items()) == list(
        tiktoken_model.MODEL_PREFIX_TO_ENCODING.items()
    )


@pytest.mark.parametrize("model", sorted(tiktoken_model.MODEL_TO_ENCODING))
def test_encoding_for_each_model_is_the_cached_encoding_of_its_name(model: str) -> None:
    name = tiktoken_model.MODEL_TO_ENCODING[model]
    assert bytepair.encoding_name_for_model(model) == tiktoken_model.encoding_name_for_model(model) == name
    assert bytepair.encoding_for_model(model) is bytepair.get_encoding(name)


@pytest.mark.parametrize(
    "model",
    [f"{prefix}2099-01-01" for prefix in tiktoken_model.MODEL_PREFIX_TO_ENCODING]
    + ["gpt-4o-mini", "gpt-4-0613", "gpt-5-mini", "ft:gpt-3.5-turbo:org:custom:id", "gpt-oss-120b", "o1-preview"],
)
def test_encoding_name_for_a_prefixed_model_equals_tiktokens(model: str) -> None:
    assert bytepair.encoding_name_for_model(model) == tiktoken_model.encoding_name_for_model(model)


# ==== Registry ====


def test_list_encoding_names_gives_the_seven_names() -> None:
    assert bytepair.list_encoding_names() == ENCODING_NAMES
    assert set(bytepair.list_encoding_names()) == set(tiktoken.list_encoding_names())


PLUGIN = """
    from tiktoken.load import load_tiktoken_bpe

    def r50k_plus():
        return {
            "name": "r50k_plus",
            "pat_str": PATTERN,
            "mergeable_ranks": load_tiktoken_bpe(VOCAB),
            "special_tokens": {"<|endoftext|>": 50256, "<|extra|>": 50257},
        }

    ENCODING_CONSTRUCTORS = {"r50k_plus": r50k_plus}
"""


def run_with_plugins(tmp_path: Path, plugins: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter that finds ``plugins`` (module name -> source) in ``tiktoken_ext``."""
    (tmp_path / "tiktoken_ext").mkdir()
    for module, source in plugins.items():
        (tmp_path / "tiktoken_ext" / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    preamble = f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
    return subprocess.run(  # noqa: S603  (our own interpreter running our own script)
        [sys.executable, "-c", preamble + textwrap.dedent(script)], capture_output=True, text=True, check=False
    )


def test_get_encoding_finds_the_encodings_of_tiktoken_plugins(tmp_path: Path) -> None:
    """As in tiktoken: a module of the `tiktoken_ext` namespace package names encodings in ENCODING_CONSTRUCTORS.
    tiktoken, finding the same plugin, is the oracle."""
    spec = bytepair.config.ENCODINGS["r50k_base"]
    plugin = f"PATTERN = {spec.pattern!r}\nVOCAB = {str(VOCAB_DIR / spec.vocab_file)!r}\n" + textwrap.dedent(PLUGIN)
    done = run_with_plugins(
        tmp_path,
        {"r50k_plus": plugin},
        """
        import pickle, bytepair, tiktoken
        ours, theirs = bytepair.get_encoding("r50k_plus"), tiktoken.get_encoding("r50k_plus")
        text = "hello <|extra|> world 12345 <|endoftext|>"
        assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
        assert (ours.name, ours.n_vocab, ours.eot_token) == (theirs.name, theirs.n_vocab, theirs.eot_token)
        assert bytepair.get_encoding("r50k_plus") is ours
        pickled = pickle.dumps(ours)  # by name, as a bundled encoding
        assert len(pickled) < 100 and pickle.loads(pickled).encode(text, allowed_special="all") == ours.encode(
            text, allowed_special="all"
        )
        assert bytepair.list_encoding_names()[-1] == "r50k_plus"
        try:
            bytepair.get_encoding("r50k_minus")
        except bytepair.UnknownEncodingError as err:
            print(str(err).endswith("o200k_harmony, r50k_plus"))
        """,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "True\n", "")


def test_a_bundled_name_in_a_plugin_stays_the_bundled_encoding(tmp_path: Path) -> None:
    plugin = "ENCODING_CONSTRUCTORS = {'cl100k_base': lambda: 1 / 0, 'gpt2': lambda: 1 / 0}\n"
    script = """
        import bytepair
        assert bytepair.list_encoding_names() == bytepair.list_encoding_names()[:7]
        print(bytepair.get_encoding("cl100k_base").encode("hello world"))
    """
    done = run_with_plugins(tmp_path, {"shadow": plugin}, script)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[15339, 1917]\n", "")


def test_two_plugins_with_one_name_are_refused(tmp_path: Path) -> None:
    same = "ENCODING_CONSTRUCTORS = {'twice': dict}\n"
    script = "import bytepair; bytepair.get_encoding('twice')"
    done = run_with_plugins(tmp_path, {"first": same, "second": same}, script)
    assert done.returncode == 1 and "ValueError: duplicate encoding name 'twice' in tiktoken plugin" in done.stderr


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_get_encoding_returns_one_cached_instance(name: str) -> None:
    enc = bytepair.get_encoding(name)
    assert bytepair.get_encoding(name) is enc
    assert enc.name == name


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_repr_equals_oracle(name: str) -> None:
    assert repr(bytepair.get_encoding(name)) == repr(oracle(name)) == f"<Encoding {name!r}>"


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_vocabulary_sizes_equal_oracle(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    assert enc.n_vocab == expected.n_vocab
    assert enc.max_token_value == expected.max_token_value
    assert enc.eot_token == expected.eot_token


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_token_byte_values_equal_oracle(name: str) -> None:
    assert bytepair.get_encoding(name).token_byte_values() == oracle(name).token_byte_values()


@pytest.mark.parametrize("name", ALL_ENCODINGS)
def test_private_vocabulary_attributes_equal_oracle(name: str) -> None:
    enc, expected = bytepair.get_encoding(name), oracle(name)
    assert enc._pat_str == expected._pat_str
    assert enc._special_tokens == expected._special_tokens
    assert enc._mergeable_ranks == expected._mergeable_ranks


@pytest.mark.parametrize("piece", [pytest.param("hello", id="word"), pytest.param(b" \xe4\xb8\xad\xe6", id="bytes")])
def test_encode_single_piece_equals_oracle(cl100k: bytepair.Encoding, piece: str | bytes) -> None:
    assert cl100k._encode_single_piece(piece) == oracle("cl100k_base")._encode_single_piece(piece)


# ==== Building an Encoding with tiktoken's constructor ====


@functools.cache
def extended(library: str) -> Any:
    """tiktoken's README recipe for extending cl100k_base with chat tokens, run on either library."""
    base = bytepair.get_encoding("cl100k_base") if library == "bytepair" else oracle("cl100k_base")
    cls = bytepair.Encoding if library == "bytepair" else tiktoken.Encoding
    return cls(
        name="cl100k_im",
        pat_str=base._pat_str,
        mergeable_ranks=base._mergeable_ranks,
        special_tokens={**base._special_tokens, "<|im_start|>": 100264, "<|im_end|>": 100265},
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n", id="chat"),
        pytest.param("plain text with <|endoftext|> and <|fim_prefix|>", id="old-specials"),
        pytest.param("<|im_start|<|im_end|>>", id="nested"),
    ],
)
def test_encoding_extended_with_tiktokens_constructor_matches_oracle(text: str) -> None:
    ours, theirs = extended("bytepair"), extended("tiktoken")
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
    assert ours.encode_ordinary(text) == theirs.encode_ordinary(text)
    with pytest.raises(ValueError):
        ours.encode(text)
    assert ours.n_vocab == theirs.n_vocab == 100277  # <|endofprompt|> = 100276 is still the largest id
    assert ours.special_tokens_set == theirs.special_tokens_set
    assert ours.name == "cl100k_im"
    assert repr(ours) == repr(theirs)


def test_encoding_built_from_tiny_vocab_merges_by_rank(tiny: bytepair.Encoding) -> None:
    """Ranks: 'ab'=256, 'cd'=257, 'abcd'=258, ' a'=259, '  '=260; pattern \\S+|\\s+.
    "abcd" -> a b c d -> ab c d -> ab cd -> abcd: [258]. "   " is one whitespace piece: '  ' + ' ' = [260, 32].
    """
    assert tiny.encode_ordinary("abcd") == [258]
    assert tiny.encode_ordinary("   ") == [260, 32]
    assert tiny.encode("abcd<|endoftext|>", allowed_special="all") == [258, 1000]
    assert tiny.n_vocab == 1001


def test_lists_share_one_int_per_id_and_keep_reference_counts_balanced(cl100k: bytepair.Encoding) -> None:
    """Lists of ids hold one shared int per id (made on first use), each list owning a reference to it."""
    text = "Tokenizers share their ints: tokenizers, tokenizers, tokenizers."
    first = cl100k.encode_ordinary(text)
    assert first == oracle("cl100k_base").encode_ordinary(text)
    assert all(type(token) is int for token in first)
    again = cl100k.encode_ordinary(text)
    assert all(ours is theirs for ours, theirs in zip(first, again, strict=True))
    shared = sorted({token for token in first if token > 256}, key=first.index)  # past CPython's own small ints

    def references() -> list[int]:
        return [sys.getrefcount(token) for token in shared]

    before = references()
    lists = [cl100k.encode_ordinary(text) for _ in range(50)] + cl100k.encode_ordinary_batch([text] * 50)
    added = [100 * first.count(token) for token in shared]
    assert [now - then for now, then in zip(references(), before, strict=True)] == added
    del lists
    assert references() == before


def test_ids_past_the_shared_int_table_come_back_as_ints() -> None:
    """A sparse vocabulary's ids past 2**20 are made per use rather than kept."""
    sparse = bytepair.Encoding(
        "sparse",
        pat_str=r"\S+|\s+",
        mergeable_ranks=bytepair.load.load_tiktoken_bpe(VECTORS / "tiny.tiktoken"),
        special_tokens={"<|endoftext|>": 3_000_000},
    )
    tokens = sparse.encode("abcd<|endoftext|>abcd<|endoftext|>", allowed_special="all")
    assert tokens == [258, 3_000_000, 258, 3_000_000]
    assert sparse.encode_batch(["<|endoftext|>"] * 3, allowed_special="all") == [[3_000_000]] * 3


def test_a_dropped_encoding_gives_its_shared_ints_back() -> None:
    ranks = bytepair.load.load_tiktoken_bpe(VECTORS / "tiny.tiktoken")
    tiny = bytepair.Encoding("tiny", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={})
    (shared,) = tiny.encode_ordinary("abcd")  # 258: past CPython's own small ints, so made by the encoder
    held = sys.getrefcount(shared)
    del tiny
    gc.collect()
    assert sys.getrefcount(shared) == held - 1
