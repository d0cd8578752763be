"""Compatibility alias: code written for tiktoken imports ``Encoding`` from ``tiktoken.core``."""

from __future__ import annotations

from bytepair.encoding import Encoding

__all__ = ["Encoding"]
