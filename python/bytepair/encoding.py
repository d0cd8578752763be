"""`Encoding`: the tiktoken-compatible object, a thin layer of argument handling over `_core.Encoder`."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Union

from bytepair import _core
from bytepair.errors import DisallowedSpecialTokenError, UnknownTokenError, VocabFileError
from bytepair.special_tokens import ENDOFTEXT

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

AllowedSpecial = Union[Literal["all"], AbstractSet[str]]
DisallowedSpecial = Union[Literal["all"], Collection[str]]

# How many distinct allowed/disallowed combinations one encoding remembers.
_POLICY_CACHE_SIZE = 128


class Encoding:
    """A byte-level BPE encoding: split pattern, mergeable ranks and special tokens.

    Same constructor and methods as ``tiktoken.Encoding``; immutable, so one instance may be shared by threads.

    >>> import bytepair
    >>> enc = bytepair.get_encoding("cl100k_base")
    >>> enc.decode(enc.encode("hello world"))
    'hello world'
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> None:
        """Build an encoding from a split pattern, mergeable ranks and special tokens (as tiktoken does).

        ``explicit_n_vocab``, when given, must equal the number of mergeable plus special tokens and be one more
        than the largest id.
        """
        core = _core.Encoder.from_ranks(mergeable_ranks, pat_str, list(special_tokens.items()))
        self._setup(name, core, dict(special_tokens), explicit_n_vocab)
        self.__dict__["_mergeable_ranks"] = mergeable_ranks

    @classmethod
    def _from_core(
        cls, name: str, core: _core.Encoder, special_tokens: dict[str, int], explicit_n_vocab: int | None
    ) -> Encoding:
        encoding = cls.__new__(cls)
        encoding._setup(name, core, special_tokens, explicit_n_vocab)
        return encoding

    def _setup(
        self, name: str, core: _core.Encoder, special_tokens: dict[str, int], explicit_n_vocab: int | None
    ) -> None:
        self.name = name
        self._core = core
        self._pat_str = core.pattern
        self._special_tokens = special_tokens
        self._special_token_values = frozenset(special_tokens.values())
        self.max_token_value = core.max_token_value
        if explicit_n_vocab:
            n_tokens = core.n_mergeable + len(special_tokens)
            if n_tokens != explicit_n_vocab or self.max_token_value != explicit_n_vocab - 1:
                raise VocabFileError(
                    f"encoding {name!r}: explicit_n_vocab={explicit_n_vocab}, but the vocab has {n_tokens} tokens "
                    f"(mergeable and special) with largest id {self.max_token_value}; "
                    "both must match explicit_n_vocab (count) and explicit_n_vocab - 1 (largest id)"
                )
        no_specials = core.special_policy([], [])
        every_special = sorted(special_tokens)
        self._policies: dict[tuple[Any, Any], tuple[_core.SpecialPolicy, tuple[str, ...]]] = {
            ("default", "all"): (core.special_policy([], every_special), ()),
            ("all", "all"): (core.special_policy(every_special, []), ()),
            ("default", ()): (no_specials, ()),
        }

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ==== Encoding ====

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text, treating special-token strings as ordinary text.

        Same as ``encode(text, disallowed_special=())``, but faster.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_ordinary("hello world")
        [15339, 1917]
        """
        try:
            return self._core.encode_ordinary(text)
        except UnicodeEncodeError:
            return self._core.encode_ordinary(_repair_surrogates(text))

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006  (tiktoken's signature; never mutated)
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[int]:
        """Encode text; special-token strings raise unless allowed.

        ``allowed_special`` names the special tokens to encode as such (``"all"`` for every one);
        ``disallowed_special`` names those whose text raises `DisallowedSpecialTokenError` (a ``ValueError``);
        its default ``"all"`` means every special token not allowed. ``disallowed_special=()`` encodes
        special-token text as ordinary text.

        >>> import bytepair
        >>> enc = bytepair.get_encoding("cl100k_base")
        >>> enc.encode("hello <|endoftext|>", allowed_special={"<|endoftext|>"})
        [15339, 220, 100257]
        >>> enc.encode("<|endoftext|>", disallowed_special=())
        [27, 91, 8862, 728, 428, 91, 29]
        """
        policy = self._policy(text, allowed_special, disallowed_special)
        try:
            return self._core.encode(text, policy)
        except UnicodeEncodeError:
            return self._core.encode(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:
            _raise_disallowed(err)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> npt.NDArray[np.uint32]:
        """Encode text like `encode`, returning a read-only ``uint32`` NumPy array instead of a list.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_to_numpy("hello world").tolist()
        [15339, 1917]
        """
        import numpy as np

        policy = self._policy(text, allowed_special, disallowed_special)
        try:
            buffer = self._core.encode_to_bytes(text, policy)
        except UnicodeEncodeError:
            buffer = self._core.encode_to_bytes(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:
            _raise_disallowed(err)
        return np.frombuffer(buffer, dtype=np.dtype("<u4"))

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int | None = None) -> list[list[int]]:
        """Encode many texts on several threads (default: one per CPU), ignoring special tokens.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_ordinary_batch(["hello world", "goodbye world"])
        [[15339, 1917], [19045, 29474, 1917]]
        """
        texts = _as_list(text)
        try:
            return self._core.encode_ordinary_batch(texts, _threads(num_threads))
        except UnicodeEncodeError:
            return self._core.encode_ordinary_batch([_repair_surrogates(t) for t in texts], _threads(num_threads))

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[list[int]]:
        """Encode many texts like `encode`, on several threads (default: one per CPU); order is kept.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_batch(["hello world", "goodbye world"])
        [[15339, 1917], [19045, 29474, 1917]]
        """
        texts = _as_list(text)
        policy, extra = self._policy_and_extra(allowed_special, disallowed_special)
        if extra:
            for one in texts:
                _check_extra_disallowed(one, extra)
        try:
            return self._core.encode_batch(texts, policy, _threads(num_threads))
        except UnicodeEncodeError:
            return self._core.encode_batch([_repair_surrogates(t) for t in texts], policy, _threads(num_threads))
        except DisallowedSpecialTokenError as err:
            _raise_disallowed(err)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """Encode text into stable tokens and the token sequences that could complete its unstable end.

        The stable tokens cover a prefix of ``text``; each completion, appended to them, decodes to bytes that
        start with ``text``. Completions come in a fixed (sorted) order; tiktoken gives them in hash order.

        >>> import bytepair
        >>> stable, completions = bytepair.get_encoding("cl100k_base").encode_with_unstable("hello fanta")
        >>> stable
        [15339]
        """
        policy = self._policy(text, allowed_special, disallowed_special)
        try:
            return self._core.encode_with_unstable(text, policy)
        except UnicodeEncodeError:
            return self._core.encode_with_unstable(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:
            _raise_disallowed(err)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of text or bytes that are exactly one token, special tokens included; `KeyError` otherwise.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_single_token("hello")
        15339
        """
        token = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else bytes(text_or_bytes)
        rank = self._core.encode_single_token(token)
        if rank is None:
            raise UnknownTokenError(f"{text_or_bytes!r} is not a single token of {self.name}")
        return rank

    # ==== Decoding ====

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Decode tokens (special tokens included) to bytes; `KeyError` on an unknown id.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_bytes([15339, 1917])
        b'hello world'
        """
        return self._core.decode_bytes(tokens)

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Decode tokens to text; bytes that are not valid UTF-8 follow ``errors`` (default: U+FFFD).

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode([15339, 1917])
        'hello world'
        """
        return self._core.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token (special tokens included); `KeyError` on an unknown id.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_single_token_bytes(15339)
        b'hello'
        """
        return self._core.decode_single_token_bytes(token)

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """The bytes of each token, for showing how text was cut.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_tokens_bytes([15339, 1917])
        [b'hello', b' world']
        """
        return self._core.decode_tokens_bytes(tokens)

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Decode tokens to text and the character offset where each token starts.

        A token that starts inside a multi-byte character gets that character's offset. Raises
        ``UnicodeDecodeError`` if the tokens do not decode to valid UTF-8.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_with_offsets([15339, 1917])
        ('hello world', [0, 5])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        offsets = []
        chars = 0
        for piece in token_bytes:
            # UTF-8 continuation bytes (0x80-0xBF) do not start a character.
            starts_inside = 0x80 <= piece[0] < 0xC0
            offsets.append(max(0, chars - starts_inside))
            chars += sum(1 for byte in piece if not 0x80 <= byte < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int | None = None
    ) -> list[str]:
        """Decode many token sequences to text, on several threads.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_batch([[15339], [1917]])
        ['hello', ' world']
        """
        return [raw.decode("utf-8", errors=errors) for raw in self.decode_bytes_batch(batch, num_threads=num_threads)]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int | None = None) -> list[bytes]:
        """Decode many token sequences to bytes, on several threads.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").decode_bytes_batch([[15339], [1917]])
        [b'hello', b' world']
        """
        return self._core.decode_bytes_batch(_as_list(batch), _threads(num_threads))

    # ==== Vocabulary ====

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every mergeable token, sorted bytewise."""
        return self._core.token_byte_values()

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>``."""
        return self._special_tokens[ENDOFTEXT]

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        """The special-token strings of this encoding."""
        return set(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        """Whether an id belongs to a special token."""
        assert isinstance(token, int)  # tiktoken's contract: an int, or AssertionError
        return token in self._special_token_values

    @property
    def n_vocab(self) -> int:
        """One more than the largest id (tiktoken's name; prefer ``max_token_value + 1``)."""
        return self.max_token_value + 1

    @functools.cached_property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        # Bundled encodings never build this dict unless asked: the ranks live in Rust.
        return self._core.mergeable_ranks()

    # ==== Private (tiktoken has these too) ====

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """Encode text or bytes as one piece, with no split and no special tokens."""
        piece = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
        return self._core.encode_single_piece(piece)

    def _encode_bytes(self, text: bytes) -> list[int]:
        """Encode bytes that need not be valid UTF-8; `decode_bytes` gives them back."""
        return self._core.encode_bytes(text)

    # ==== Pickling ====

    def __getstate__(self) -> object:
        from bytepair import registry

        # A bundled encoding pickles as its name: small, and unpickles to the cached instance's state.
        if registry.is_registered(self):
            return self.name
        return {
            "name": self.name,
            "pat_str": self._pat_str,
            "mergeable_ranks": self._mergeable_ranks,
            "special_tokens": self._special_tokens,
        }

    def __setstate__(self, value: object) -> None:
        from bytepair import registry

        if isinstance(value, str):
            self.__dict__ = registry.get_encoding(value).__dict__
            return
        assert isinstance(value, dict)
        self.__init__(**value)  # type: ignore[misc]

    # ==== Special-token policy ====

    def _policy(self, text: str, allowed: AllowedSpecial, disallowed: DisallowedSpecial) -> _core.SpecialPolicy:
        """The core policy for these arguments; raises if ``text`` holds a disallowed non-special string."""
        policy, extra = self._policy_and_extra(allowed, disallowed)
        if extra and text:
            _check_extra_disallowed(text, extra)
        return policy

    def _policy_and_extra(
        self, allowed: AllowedSpecial, disallowed: DisallowedSpecial
    ) -> tuple[_core.SpecialPolicy, tuple[str, ...]]:
        key = (_key(allowed), _key(disallowed))
        cached = self._policies.get(key)
        if cached is None:
            cached = self._build_policy(allowed, disallowed)
            if len(self._policies) < _POLICY_CACHE_SIZE:
                self._policies[key] = cached
        return cached

    def _build_policy(
        self, allowed: AllowedSpecial, disallowed: DisallowedSpecial
    ) -> tuple[_core.SpecialPolicy, tuple[str, ...]]:
        allowed_set = self.special_tokens_set if allowed == "all" else set(allowed)
        disallowed_set = self.special_tokens_set - allowed_set if disallowed == "all" else set(disallowed)
        # tiktoken searches the text for every disallowed string, special token or not; the core only knows the
        # special tokens, so the others are checked here.
        extra = tuple(sorted(disallowed_set - self.special_tokens_set))
        return self._core.special_policy(sorted(allowed_set), sorted(disallowed_set)), extra


def _key(argument: object) -> object:
    if isinstance(argument, str):
        if argument == "all":
            return "all"
        # A string is iterable, so it would silently become a set of characters.
        raise TypeError(f"expected 'all' or a collection of special-token strings, got the string {argument!r}")
    if isinstance(argument, (set, frozenset)) and not argument:
        return "default" if isinstance(argument, set) else ()
    if isinstance(argument, (tuple, list)) and not argument:
        return ()
    return frozenset(argument)  # type: ignore[call-overload]


def _threads(num_threads: int | None) -> int | None:
    """``num_threads`` checked as tiktoken's thread pool checks it; None means one thread per CPU."""
    if num_threads is not None and num_threads <= 0:
        raise ValueError(f"num_threads must be at least 1 (or None for one per CPU), got {num_threads}")
    return num_threads


def _as_list(items: Sequence[Any]) -> list[Any]:
    return items if isinstance(items, list) else list(items)


def _repair_surrogates(text: str) -> str:
    """Lone surrogates cannot be UTF-8; replace them with U+FFFD (and join valid pairs), as tiktoken does."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _check_extra_disallowed(text: str, extra: tuple[str, ...]) -> None:
    found = [(text.find(token), token) for token in extra if token and token in text]
    if found:
        _raise_disallowed_token(min(found)[1])


def _raise_disallowed(err: DisallowedSpecialTokenError) -> NoReturn:
    _raise_disallowed_token(err.args[1] if len(err.args) > 1 else err.token, err)


def _raise_disallowed_token(token: str, cause: BaseException | None = None) -> NoReturn:
    message = (
        f"the text contains {token!r}, a special token this call does not allow.\n"
        f"To encode it as the special token, pass allowed_special={{{token!r}, ...}} (or allowed_special='all').\n"
        f"To encode it as ordinary text, pass disallowed_special=(enc.special_tokens_set - {{{token!r}}}), "
        "or disallowed_special=() to turn the check off for every special token."
    )
    raise DisallowedSpecialTokenError(message, token) from cause
