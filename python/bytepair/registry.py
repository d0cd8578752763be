"""`get_encoding(name)` and `list_encoding_names()`: one cached `Encoding` per name, built on first use: the bundled
encodings, and those of installed tiktoken plugins (`tiktoken_ext` modules with `ENCODING_CONSTRUCTORS`)."""

from __future__ import annotations

import functools
import hashlib
import importlib
import pkgutil
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from bytepair import _core
from bytepair.config import ENCODINGS, EncodingSpec
from bytepair.encoding import Encoding
from bytepair.errors import UnknownEncodingError, VocabFileError

# Reentrant: a plugin's constructor may itself call get_encoding (say for a bundled encoding it extends).
_lock = threading.RLock()
_cache: dict[str, Encoding] = {}
# The encodings of tiktoken plugins by name, found on first need (as tiktoken finds them once): see `_plugins`.
_plugin_constructors: dict[str, Callable[[], dict[str, Any]]] | None = None


def get_encoding(encoding_name: str) -> Encoding:
    """The encoding called ``encoding_name``; the same instance on every call, from any thread.

    The bundled encodings come from the wheel. Any other name is looked up, as tiktoken does, in the installed
    plugins: the modules of the ``tiktoken_ext`` namespace package, each with an ``ENCODING_CONSTRUCTORS`` mapping of
    names to functions that return `Encoding`'s keyword arguments (tiktoken's own ``openai_public`` is skipped: its
    encodings are the bundled ones).

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
    if spec is not None:
        build = functools.partial(_build, spec)
    elif (constructor := _plugins().get(encoding_name)) is not None:
        build = functools.partial(_build_plugin, encoding_name, constructor)
    else:
        raise UnknownEncodingError(f"unknown encoding {encoding_name!r}; available: {', '.join(list_encoding_names())}")
    with _lock:
        encoding = _cache.get(encoding_name)
        if encoding is None:
            encoding = build()
            _cache[encoding_name] = encoding
    return encoding


def list_encoding_names() -> list[str]:
    """The names of the bundled encodings, then those of the installed tiktoken plugins (see `get_encoding`).

    >>> import bytepair
    >>> bytepair.list_encoding_names()[:7]
    ['gpt2', 'r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base', 'o200k_harmony']
    """
    return [*ENCODINGS, *_plugins()]


def _plugins() -> dict[str, Callable[[], dict[str, Any]]]:
    """The constructors of the encodings of installed tiktoken plugins, other than the bundled names, found once.
    A name that two plugins define raises `ValueError`, as in tiktoken."""
    global _plugin_constructors
    with _lock:
        if _plugin_constructors is None:
            _plugin_constructors = _find_plugins()
        return _plugin_constructors


def _find_plugins() -> dict[str, Callable[[], dict[str, Any]]]:
    try:
        tiktoken_ext = importlib.import_module("tiktoken_ext")  # a namespace package that plugins add modules to
    except ImportError:
        return {}
    found: dict[str, Callable[[], dict[str, Any]]] = {}
    for module_info in pkgutil.iter_modules(tiktoken_ext.__path__, "tiktoken_ext."):
        if module_info.name == "tiktoken_ext.openai_public":
            continue  # tiktoken's own: the bundled encodings, whose constructors would download their files
        module = importlib.import_module(module_info.name)
        for name, constructor in getattr(module, "ENCODING_CONSTRUCTORS", {}).items():
            if name in ENCODINGS:
                continue
            if name in found:
                raise ValueError(f"duplicate encoding name {name!r} in tiktoken plugin {module_info.name}")
            found[name] = constructor
    return found


def is_registered(encoding: Encoding) -> bool:
    """Whether ``encoding`` is the cached instance of its name (bundled or a plugin's): it can pickle as the name."""
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


def _build_plugin(name: str, constructor: Callable[[], dict[str, Any]]) -> Encoding:
    arguments = dict(constructor())  # a copy: the constructor may hand out a dict of its own
    return Encoding(arguments.pop("name", name), **arguments)


def _build(spec: EncodingSpec) -> Encoding:
    core = _core.Encoder(read_vocab_file(spec), spec.pattern, list(spec.special_tokens.items()))
    return Encoding._from_core(spec.name, core, dict(spec.special_tokens), spec.explicit_n_vocab)
