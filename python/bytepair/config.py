"""What each bundled encoding is: split pattern, vocab file with its sha256, special tokens.

Data only; `registry.py` turns a spec into an `Encoding`. Patterns and special-token ids are the public constants
of tiktoken_ext/openai_public.py (tiktoken 0.14); the vocab files are the ones tiktoken pins by the same sha256.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bytepair.special_tokens import (
    CALL,
    CHANNEL,
    CONSTRAIN,
    END,
    ENDOFPROMPT,
    ENDOFTEXT,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    MESSAGE,
    RETURN,
    START,
    STARTOFTEXT,
    reserved,
)


@dataclass(frozen=True)
class EncodingSpec:
    """Everything that defines a named encoding."""

    name: str
    pattern: str
    vocab_file: str  # file name under bytepair/vocab/
    vocab_sha256: str
    special_tokens: Mapping[str, int] = field(default_factory=dict)
    explicit_n_vocab: int | None = None


# Split pattern of r50k_base, p50k_base, p50k_edit and gpt2, copied from tiktoken_ext/openai_public.py.
R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

# Split pattern of cl100k_base, copied from tiktoken_ext/openai_public.py.
CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501  (a pattern reads best on one line)

# Split pattern of o200k_base and o200k_harmony, copied from tiktoken_ext/openai_public.py.
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

R50K_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
P50K_SHA256 = "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

# GPT-2's encoder.json + vocab.bpe convert to exactly the r50k_base ranks (tests/test_load.py checks this), so gpt2
# ships as the r50k_base file.
GPT2 = EncodingSpec(
    name="gpt2",
    pattern=R50K_PATTERN,
    vocab_file="r50k_base.tiktoken",
    vocab_sha256=R50K_SHA256,
    special_tokens={ENDOFTEXT: 50256},
    explicit_n_vocab=50257,
)

R50K_BASE = EncodingSpec(
    name="r50k_base",
    pattern=R50K_PATTERN,
    vocab_file="r50k_base.tiktoken",
    vocab_sha256=R50K_SHA256,
    special_tokens={ENDOFTEXT: 50256},
    explicit_n_vocab=50257,
)

P50K_BASE = EncodingSpec(
    name="p50k_base",
    pattern=R50K_PATTERN,
    vocab_file="p50k_base.tiktoken",
    vocab_sha256=P50K_SHA256,
    special_tokens={ENDOFTEXT: 50256},
    explicit_n_vocab=50281,
)

P50K_EDIT = EncodingSpec(
    name="p50k_edit",
    pattern=R50K_PATTERN,
    vocab_file="p50k_base.tiktoken",
    vocab_sha256=P50K_SHA256,
    special_tokens={ENDOFTEXT: 50256, FIM_PREFIX: 50281, FIM_MIDDLE: 50282, FIM_SUFFIX: 50283},
)

CL100K_BASE = EncodingSpec(
    name="cl100k_base",
    pattern=CL100K_PATTERN,
    vocab_file="cl100k_base.tiktoken",
    vocab_sha256=CL100K_SHA256,
    special_tokens={
        ENDOFTEXT: 100257,
        FIM_PREFIX: 100258,
        FIM_MIDDLE: 100259,
        FIM_SUFFIX: 100260,
        ENDOFPROMPT: 100276,
    },
)

O200K_BASE = EncodingSpec(
    name="o200k_base",
    pattern=O200K_PATTERN,
    vocab_file="o200k_base.tiktoken",
    vocab_sha256=O200K_SHA256,
    special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
)

O200K_HARMONY = EncodingSpec(
    name="o200k_harmony",
    pattern=O200K_PATTERN,
    vocab_file="o200k_base.tiktoken",
    vocab_sha256=O200K_SHA256,
    special_tokens={
        **O200K_BASE.special_tokens,
        STARTOFTEXT: 199998,
        ENDOFTEXT: 199999,
        reserved(200000): 200000,
        reserved(200001): 200001,
        RETURN: 200002,
        CONSTRAIN: 200003,
        reserved(200004): 200004,
        CHANNEL: 200005,
        START: 200006,
        END: 200007,
        MESSAGE: 200008,
        reserved(200009): 200009,
        reserved(200010): 200010,
        reserved(200011): 200011,
        CALL: 200012,
        **{reserved(i): i for i in range(200013, 201088)},
    },
)

ENCODINGS: Mapping[str, EncodingSpec] = MappingProxyType(
    {spec.name: spec for spec in [GPT2, R50K_BASE, P50K_BASE, P50K_EDIT, CL100K_BASE, O200K_BASE, O200K_HARMONY]}
)
