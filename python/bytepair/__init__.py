"""bytepair: exact byte-level BPE tokenization with a Rust core, a drop-in for tiktoken.

>>> import bytepair
>>> enc = bytepair.get_encoding("cl100k_base")
>>> enc.decode(enc.encode("hello world"))
'hello world'
"""

from __future__ import annotations

# `core`, as in tiktoken, whose package imports it: code written for it reads `tiktoken.core.Encoding`.
from bytepair import core, load
from bytepair._core import __version__
from bytepair.encoding import Encoding
from bytepair.errors import (
    BytepairError,
    DisallowedSpecialTokenError,
    SplitError,
    TokenizerFileError,
    UnknownEncodingError,
    UnknownModelError,
    UnknownTokenError,
    VocabFileError,
)
from bytepair.huggingface import BatchEncoding, Tokenizer
from bytepair.model import encoding_for_model, encoding_name_for_model
from bytepair.registry import get_encoding, list_encoding_names

__all__ = [
    "BatchEncoding",
    "BytepairError",
    "DisallowedSpecialTokenError",
    "Encoding",
    "SplitError",
    "Tokenizer",
    "TokenizerFileError",
    "UnknownEncodingError",
    "UnknownModelError",
    "UnknownTokenError",
    "VocabFileError",
    "__version__",
    "core",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
    "load",
]
