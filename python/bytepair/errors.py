"""Exceptions raised by bytepair.

Each also subclasses the builtin that tiktoken raises for the same problem,
so code written against tiktoken catches them unchanged.
"""

from __future__ import annotations


class BytepairError(Exception):
    """Base class for every error raised by bytepair."""


class DisallowedSpecialTokenError(BytepairError, ValueError):
    """The text contains a special token that this call did not allow.

    ``token`` is the special token's text.
    """

    def __init__(self, message: str, token: str = "") -> None:
        super().__init__(message)
        self.token = token


class UnknownTokenError(BytepairError, KeyError):
    """A token id or byte string is not in the vocabulary."""

    def __str__(self) -> str:
        # KeyError quotes its argument; these carry a sentence, not a key.
        return str(self.args[0]) if self.args else ""


class VocabFileError(BytepairError, ValueError):
    """A vocab file is malformed or does not match its pinned sha256."""


class SplitError(BytepairError, ValueError):
    """The split pattern's backtracking engine gave up on the text (only patterns outside the bundled ones)."""


class UnknownEncodingError(BytepairError, ValueError):
    """No encoding has this name."""


class UnknownModelError(BytepairError, KeyError):
    """No encoding is known for this model name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TokenizerFileError(BytepairError, ValueError):
    """A Hugging Face tokenizer.json (or vocab.json/merges.txt) is malformed or uses a component bytepair lacks."""
