"""Names for the special-token strings of the bundled encodings, instead of string literals."""

from __future__ import annotations

ENDOFTEXT = "<|endoftext|>"
STARTOFTEXT = "<|startoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# o200k_harmony's chat-format tokens.
RETURN = "<|return|>"
CONSTRAIN = "<|constrain|>"
CHANNEL = "<|channel|>"
START = "<|start|>"
END = "<|end|>"
MESSAGE = "<|message|>"
CALL = "<|call|>"


def reserved(token_id: int) -> str:
    """The name of an unassigned special token of o200k_harmony, e.g. ``<|reserved_200000|>``."""
    return f"<|reserved_{token_id}|>"
