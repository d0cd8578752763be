"""`get_encoding(name)` and `list_encoding_names()`: one cached `Encoding` per bundled name, built on first use."""

from __future__ import annotations

import hashlib
import threading
from importlib import resources

from bytepair import _core
from bytepair.config import ENCODINGS, EncodingSpec
from bytepair.encoding import Encoding
from bytepair.errors import UnknownEncodingError, VocabFileError

_lock = threading.Lock()
_cache: dict[str, Encoding] = {}


def get_encoding(encoding_name: str) -> Encoding:
    """The bundled encoding called ``encoding_name``; the same instance on every call, from any thread.

    >>> import bytepair
    >>> bytepair.get_encoding("o200k_base").encode("hello world")
    [24912, 2375]
    """
    if not isinstance(encoding_name, str):
        raise UnknownEncodingError(f"expected an encoding name (str), got {type(encoding_name).__name__}")
    encoding = _cache.get(encoding_name)
    if encoding is not None:
        return encoding
    spec = ENCODINGS.get(encoding_name)
    if spec is None:
        raise UnknownEncodingError(f"unknown encoding {encoding_name!r}; available: {', '.join(list_encoding_names())}")
    with _lock:
        encoding = _cache.get(encoding_name)
        if encoding is None:
            encoding = _build(spec)
            _cache[encoding_name] = encoding
    return encoding


def list_encoding_names() -> list[str]:
    """The names of the bundled encodings.

    >>> import bytepair
    >>> bytepair.list_encoding_names()
    ['gpt2', 'r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base', 'o200k_harmony']
    """
    return list(ENCODINGS)


def is_registered(encoding: Encoding) -> bool:
    """Whether ``encoding`` is the cached instance of a bundled name (so it can pickle as that name)."""
    return _cache.get(encoding.name) is encoding


def read_vocab_file(spec: EncodingSpec) -> bytes:
    """The bytes of a bundled vocab file, after checking them against the pinned sha256."""
    data = resources.files("bytepair").joinpath("vocab").joinpath(spec.vocab_file).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.vocab_sha256:
        raise VocabFileError(
            f"bundled vocab file {spec.vocab_file} has sha256 {digest}, expected {spec.vocab_sha256}; "
            "the installation is damaged: reinstall bytepair"
        )
    return data


def _build(spec: EncodingSpec) -> Encoding:
    core = _core.Encoder(read_vocab_file(spec), spec.pattern, list(spec.special_tokens.items()))
    return Encoding._from_core(spec.name, core, dict(spec.special_tokens), spec.explicit_n_vocab)
