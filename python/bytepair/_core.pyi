"""Type stubs for the compiled module; only `bytepair/*.py` imports it."""

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

__all__ = ["Encoder", "HfTokenizer", "SpecialPolicy", "__version__", "is_release_build", "parse_rank_file"]

@final
class SpecialPolicy:
    """Which special tokens one call encodes as such and which make it fail; built by `Encoder.special_policy`."""

@final
class Encoder:
    """Rust BPE encoder. Immutable; safe to share between threads."""

    def __new__(cls, vocab_file: bytes, pattern: str, special_tokens: list[tuple[str, int]]) -> Self: ...
    @staticmethod
    def from_ranks(
        mergeable_ranks: dict[bytes, int], pattern: str, special_tokens: list[tuple[str, int]]
    ) -> Encoder: ...

    # ==== Encoding ====
    def special_policy(self, allowed: list[str], disallowed: list[str]) -> SpecialPolicy: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode(self, text: str, policy: SpecialPolicy) -> list[int]: ...
    def encode_to_array(self, text: str, policy: SpecialPolicy) -> npt.NDArray[np.uint32]: ...
    def encode_batch(
        self, texts: list[str], policy: SpecialPolicy, num_threads: int | None = None
    ) -> list[list[int]]: ...
    def encode_ordinary_batch(self, texts: list[str], num_threads: int | None = None) -> list[list[int]]: ...
    def encode_batch_flat(
        self,
        texts: list[str],
        policy: SpecialPolicy | None,
        num_threads: int | None,
        separator: int | None,
        width: int,
    ) -> tuple[bytearray, bytearray]:
        """A batch's tokens end to end (``width``-byte little-endian) and its int64 document offsets."""
    def encode_lines_flat(
        self, head: bytes, data: bytes, cut: int, num_threads: int | None, separator: int | None, width: int
    ) -> tuple[bytearray, bytearray, bytearray]:
        """``encode_batch_flat`` of ordinary text on the lines of the UTF-8 chunk ``head + data[:cut]``, and each
        line's size (int64)."""
    def encode_batch_padded(
        self,
        texts: list[str],
        policy: SpecialPolicy | None,
        num_threads: int | None,
        length: int | None,
        pad: int,
        padding_side: str,
        truncation_side: str,
        width: int,
    ) -> tuple[bytearray, bytearray, int]:
        """A batch as padded rows: ids, mask (row-major, ``width``-byte little-endian) and the row length."""
    def count_tokens(self, text: str, policy: SpecialPolicy) -> int: ...
    def count_tokens_batch(
        self, texts: list[str], policy: SpecialPolicy | None, num_threads: int | None
    ) -> list[int]: ...
    def encode_with_unstable(self, text: str, policy: SpecialPolicy) -> tuple[list[int], list[list[int]]]: ...
    def encode_single_token(self, token: bytes) -> int | None: ...
    def encode_single_piece(self, piece: bytes) -> list[int]: ...
    def encode_bytes(self, bytes: bytes) -> list[int]: ...

    # ==== Decoding ====
    def decode_bytes(self, tokens: Sequence[int]) -> bytes: ...
    def decode_bytes_batch(self, batch: list[Sequence[int]], num_threads: int | None = None) -> list[bytes]: ...
    def decode_single_token_bytes(self, token: int) -> bytes: ...
    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]: ...

    # ==== Vocabulary ====
    def token_byte_values(self) -> list[bytes]: ...
    def mergeable_ranks(self) -> dict[bytes, int]: ...
    def special_tokens(self) -> list[tuple[str, int]]: ...
    @property
    def max_token_value(self) -> int: ...
    @property
    def n_mergeable(self) -> int: ...
    @property
    def pattern(self) -> str: ...
    @property
    def has_linear_splitter(self) -> bool: ...

def parse_rank_file(contents: bytes) -> dict[bytes, int]: ...

__version__: str
is_release_build: bool

@final
class HfTokenizer:
    """A Hugging Face byte-level BPE tokenizer (tokenizer.json parts). Immutable; safe to share between threads."""

    def __new__(
        cls,
        vocab: list[tuple[str, int]],
        merges: list[str] | list[tuple[str, str]],
        ignore_merges: bool,
        normalizers: list[tuple[str, str, str]],
        pre_tokenizers: list[tuple[str, str, str, bool]],
        added_tokens: list[tuple[str, int, bool, bool, bool, bool, bool]],
        trim_offsets: bool | None,
    ) -> Self: ...

    # ==== Encoding ====
    def normalize(self, text: str) -> str: ...
    def encode(self, text: str, with_offsets: bool) -> tuple[list[int], list[tuple[int, int]]]: ...
    def encode_batch(
        self, texts: list[str], with_offsets: bool, num_threads: int | None = None
    ) -> list[tuple[list[int], list[tuple[int, int]]]]: ...
    def encode_batch_flat(
        self, texts: list[str], with_offsets: bool, num_threads: int | None = None
    ) -> tuple[bytes, bytes, bytes]: ...

    # ==== Decoding ====
    def decode_bytes(self, tokens: Sequence[int], skip_special_tokens: bool) -> bytes: ...
    def decode_bytes_batch(
        self, batch: list[Sequence[int]], skip_special_tokens: bool, num_threads: int | None = None
    ) -> list[bytes]: ...

    # ==== Vocabulary ====
    def token_bytes(self, token: int) -> bytes | None: ...
    @property
    def is_linear(self) -> bool: ...
