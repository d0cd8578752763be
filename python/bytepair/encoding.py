"""`Encoding`: the tiktoken-compatible object, a thin layer of argument handling over `_core.Encoder`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from bytepair import _core
from bytepair.errors import DisallowedSpecialTokenError, UnknownTokenError, VocabFileError
from bytepair.special_tokens import ENDOFTEXT

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

AllowedSpecial = Literal["all"] | AbstractSet[str]
DisallowedSpecial = Literal["all"] | Collection[str]

_T = TypeVar("_T")

# The dtypes `encode_batch_padded` writes: the two the core writes, and the signed ones frameworks without unsigned
# integer types need (int32 holds every id: the largest bundled one is about 200 000).
_PADDED_DTYPES = ("uint16", "uint32", "int32", "int64")

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
        # The policy of the default arguments, returned without building a key: the arguments are checked on every
        # call, and a document of a few KiB encodes in tens of microseconds (measured: the general path was 2.3 us).
        self._default_policy = core.special_policy([], every_special)
        self._policies: dict[tuple[Any, Any], tuple[_core.SpecialPolicy, tuple[str, ...]]] = {
            ("default", "all"): (self._default_policy, ()),
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
        # The default arguments' policy without a call to `_policy`, here and in `encode_to_numpy` and `count_tokens`:
        # callgrind, 20,000 calls of encode("hello world"), 4,676 -> 4,212 instructions per call (count_tokens 4,367
        # -> 3,919; encode_to_numpy, when it still wrapped bytes in Python, 7,273 -> 6,523). Written out rather than
        # shared for the same reason: a helper taking the core call added about 140 ns (25%) to encode("hello world").
        policy = (
            self._default_policy
            if disallowed_special == "all" and type(allowed_special) is set and not allowed_special
            else self._policy(text, allowed_special, disallowed_special)
        )
        try:
            try:
                return self._core.encode(text, policy)
            except UnicodeEncodeError:
                return self._core.encode(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:  # also from the retry with repaired surrogates
            _raise_disallowed(err)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> npt.NDArray[np.uint32]:
        """Encode text like `encode`, returning a ``uint32`` NumPy array instead of a list (writable, and the only
        owner of its memory, like the arrays of `encode_batch_to_numpy`).

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_to_numpy("hello world").tolist()
        [15339, 1917]
        """
        policy = (
            self._default_policy
            if disallowed_special == "all" and type(allowed_special) is set and not allowed_special
            else self._policy(text, allowed_special, disallowed_special)
        )
        try:
            try:
                tokens: npt.NDArray[np.uint32] = self._core.encode_to_array(text, policy)
            except UnicodeEncodeError:
                tokens = self._core.encode_to_array(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:  # also from the retry with repaired surrogates
            _raise_disallowed(err)
        return tokens

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
        threads = _threads(num_threads)
        return self._run_batch(
            text,
            allowed_special,
            disallowed_special,
            lambda texts, policy: self._core.encode_batch(texts, policy, threads),
        )

    def encode_batch_to_numpy(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Encode many texts like `encode_batch` into one flat ``uint32`` array and ``int64`` document offsets.

        Document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``; ``offsets`` has ``len(text) + 1`` entries, the
        first 0 and the last ``len(tokens)``. No Python object is made per token: the threads' output is copied
        once into a buffer that NumPy wraps (writable). Needs NumPy.

        >>> import bytepair
        >>> tokens, offsets = bytepair.get_encoding("cl100k_base").encode_batch_to_numpy(["hello world", "goodbye"])
        >>> tokens.tolist(), offsets.tolist()
        ([15339, 1917, 19045, 29474], [0, 2, 4])
        """
        np = _numpy()
        tokens, offsets = self._encode_batch_flat(
            text, num_threads=num_threads, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
        return np.frombuffer(tokens, dtype=_uint32_le()), np.frombuffer(offsets, dtype=np.dtype("<i8"))

    def encode_batch_padded(
        self,
        text: Sequence[str],
        *,
        max_length: int | None = None,
        padding_side: Literal["left", "right"] = "right",
        truncation_side: Literal["left", "right"] = "right",
        pad_token: int | None = None,
        dtype: npt.DTypeLike | None = None,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """Encode many texts into a 2-D array of ids and an attention mask, one row per text.

        Rows have ``max_length`` tokens (default: the longest text's count, so nothing is cut); longer texts lose
        tokens at ``truncation_side``, shorter ones get ``pad_token`` at ``padding_side`` and 0 in the mask where
        the row has no token (1 elsewhere), as Hugging Face tokenizers pad. ``pad_token`` defaults to the
        end-of-text token (these encodings have no padding token; the mask tells padding apart). ``dtype``
        (default ``uint32``) applies to both arrays: ``uint16`` only when every id is below 65536 (gpt2,
        r50k_base, p50k_base), or ``int32``/``int64`` for frameworks without unsigned types. Needs NumPy.

        >>> import bytepair
        >>> ids, mask = bytepair.get_encoding("cl100k_base").encode_batch_padded(["hello world", "hi"])
        >>> ids.tolist(), mask.tolist()
        ([[15339, 1917], [6151, 100257]], [[1, 1], [1, 0]])
        """
        np = _numpy()
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ValueError(f"max_length must be a positive int or None (the longest text), got {max_length!r}")
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("left", "right"):
                raise ValueError(f"{name} must be 'left' or 'right', got {side!r}")
        if pad_token is None:
            if ENDOFTEXT not in self._special_tokens:
                raise ValueError(f"{self.name} has no {ENDOFTEXT} token to pad with; pass pad_token=ID")
            pad_token = self.eot_token
        if not 0 <= pad_token <= self.max_token_value:
            raise ValueError(f"pad_token must be an id of {self.name} (0 to {self.max_token_value}), got {pad_token}")
        out_dtype = np.dtype(np.uint32 if dtype is None else dtype)
        if out_dtype not in _PADDED_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_PADDED_DTYPES)}, got {out_dtype}")
        if out_dtype == np.uint16 and self.max_token_value > 0xFFFF:
            raise ValueError(
                f"dtype uint16 cannot hold the ids of {self.name} (up to {self.max_token_value}); "
                "use uint32 (the default), int32 or int64"
            )
        width = 2 if out_dtype == np.uint16 else 4
        threads = _threads(num_threads)

        def padded(texts: list[str], policy: _core.SpecialPolicy | None) -> tuple[bytearray, bytearray, int]:
            return self._core.encode_batch_padded(
                texts, policy, threads, max_length, pad_token, padding_side, truncation_side, width
            )

        texts = _as_list(text)
        ids, mask, length = self._run_batch(texts, allowed_special, disallowed_special, padded, ordinary=True)
        raw = np.dtype("<u2") if width == 2 else _uint32_le()
        shape = (len(texts), length)
        ids_array = np.frombuffer(ids, dtype=raw).reshape(shape)
        mask_array = np.frombuffer(mask, dtype=raw).reshape(shape)
        if raw != out_dtype:
            return ids_array.astype(out_dtype), mask_array.astype(out_dtype)
        return ids_array, mask_array

    def encode_arrow(
        self,
        array: Any,
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> Any:
        """Encode an Arrow string array (or chunked array) into an Arrow list array of ``uint32`` token ids.

        Null strings give null lists. The result is ``list<uint32>``, or ``large_list<uint32>`` when an array's
        tokens exceed 32-bit offsets; a chunked array gives a chunked array, chunk by chunk (one native batch per
        chunk). For Ray Data, Spark (Arrow UDFs) and Hugging Face ``datasets`` map functions. Needs pyarrow.

        >>> import pyarrow as pa, bytepair
        >>> bytepair.get_encoding("cl100k_base").encode_arrow(pa.array(["hello world", None])).to_pylist()
        [[15339, 1917], None]
        """
        import pyarrow as pa

        def encode_chunk(chunk: Any) -> Any:
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                raise TypeError(f"encode_arrow takes a string or large_string array, got {chunk.type}")
            texts = chunk.to_pylist()
            tokens, offsets = self._encode_batch_flat(
                ["" if one is None else one for one in texts],
                num_threads=num_threads,
                allowed_special=allowed_special,
                disallowed_special=disallowed_special,
            )
            values = pa.Array.from_buffers(pa.uint32(), len(tokens) // 4, [None, pa.py_buffer(tokens)])
            offsets_array = pa.Array.from_buffers(pa.int64(), len(texts) + 1, [None, pa.py_buffer(offsets)])
            mask = chunk.is_null() if chunk.null_count else None
            if len(values) < 2**31:
                return pa.ListArray.from_arrays(offsets_array.cast(pa.int32()), values, mask=mask)
            return pa.LargeListArray.from_arrays(offsets_array, values, mask=mask)

        if isinstance(array, pa.ChunkedArray):
            chunks = [encode_chunk(chunk) for chunk in array.chunks]
            if any(pa.types.is_large_list(chunk.type) for chunk in chunks):
                chunks = [chunk.cast(pa.large_list(pa.uint32())) for chunk in chunks]
            return pa.chunked_array(chunks, type=chunks[0].type if chunks else pa.list_(pa.uint32()))
        if not isinstance(array, pa.Array):
            raise TypeError(f"encode_arrow takes a pyarrow Array or ChunkedArray, got {type(array).__name__}")
        return encode_chunk(array)

    def count_tokens(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> int:
        """The number of tokens `encode` gives for ``text`` (same keyword arguments), without building the list.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").count_tokens("hello world")
        2
        """
        policy = (
            self._default_policy
            if disallowed_special == "all" and type(allowed_special) is set and not allowed_special
            else self._policy(text, allowed_special, disallowed_special)
        )
        try:
            try:
                return self._core.count_tokens(text, policy)
            except UnicodeEncodeError:
                return self._core.count_tokens(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:  # also from the retry with repaired surrogates
            _raise_disallowed(err)

    def count_tokens_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[int]:
        """The token count of each text, as `encode_batch` would give, on several threads; no ids are kept.

        >>> import bytepair
        >>> bytepair.get_encoding("cl100k_base").count_tokens_batch(["hello world", "goodbye"])
        [2, 2]
        """
        threads = _threads(num_threads)
        return self._run_batch(
            text,
            allowed_special,
            disallowed_special,
            lambda texts, policy: self._core.count_tokens_batch(texts, policy, threads),
            ordinary=True,
        )

    def _encode_batch_flat(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
        separator: int | None = None,
        width: int = 4,
    ) -> tuple[bytearray, bytearray]:
        """Tokens end to end (``width``-byte little-endian, ``separator`` after each text) and int64 offsets."""
        threads = _threads(num_threads)
        return self._run_batch(
            text,
            allowed_special,
            disallowed_special,
            lambda texts, policy: self._core.encode_batch_flat(texts, policy, threads, separator, width),
            ordinary=True,
        )

    def _encode_lines_flat(
        self,
        head: bytes,
        data: bytes,
        cut: int,
        *,
        num_threads: int | None = None,
        separator: int | None = None,
        width: int = 4,
    ) -> tuple[bytearray, bytearray, bytearray]:
        """The lines of ``head + data[:cut]`` (UTF-8 text cut after a line ending; passed in parts so that the caller
        copies neither), encoded as ordinary text like ``_encode_batch_flat`` of the text's ``split("\\n")`` without
        line endings and empty lines, and each line's size (int64). ``ValueError`` when the text is not UTF-8."""
        return self._core.encode_lines_flat(head, data, cut, _threads(num_threads), separator, width)

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
            try:
                return self._core.encode_with_unstable(text, policy)
            except UnicodeEncodeError:
                return self._core.encode_with_unstable(_repair_surrogates(text), policy)
        except DisallowedSpecialTokenError as err:  # also from the retry with repaired surrogates
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

        # A bundled or plugin encoding pickles as its name: small, and unpickles to the cached instance's state.
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

    def _run_batch(
        self,
        text: Sequence[str],
        allowed: AllowedSpecial,
        disallowed: DisallowedSpecial,
        call: Callable[[list[str], Any], _T],
        ordinary: bool = False,
    ) -> _T:
        """``call(texts, policy)`` with tiktoken's special-token checks and surrogate repair around it.

        With ``ordinary``, the policy is None when no special token is allowed or disallowed, so the core takes
        its `encode_ordinary` path (no special-token search).
        """
        texts = _as_list(text)
        policy, extra = self._policy_and_extra(allowed, disallowed)
        if extra:
            for one in texts:
                _check_extra_disallowed(one, extra)
        core_policy = None if ordinary and policy is self._policies[("default", ())][0] else policy
        try:
            try:
                return call(texts, core_policy)
            except UnicodeEncodeError:
                return call([_repair_surrogates(one) for one in texts], core_policy)
        except DisallowedSpecialTokenError as err:
            _raise_disallowed(err)

    def _policy(self, text: str, allowed: AllowedSpecial, disallowed: DisallowedSpecial) -> _core.SpecialPolicy:
        """The core policy for these arguments; raises if ``text`` holds a disallowed non-special string."""
        if disallowed == "all" and type(allowed) is set and not allowed:
            return self._default_policy
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


@functools.cache
def _numpy() -> Any:
    """NumPy, imported on first use (bytepair does not need it otherwise); cached, since an import statement in a
    function costs about half a microsecond per call."""
    import numpy

    return numpy


@functools.cache
def _uint32_le() -> Any:
    """The dtype of token arrays, made once: ``np.dtype("<u4")`` parses its string on every call."""
    return _numpy().dtype("<u4")


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
