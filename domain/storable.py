"""Decoded JSON from outside, made into a value PostgreSQL can keep (as jsonb, or as text).

A message's payload is kept whole as a dead letter, but JSON can carry what PostgreSQL
refuses: U+0000 (NUL) and lone surrogates (`"\\ud800"`) in a string or a key, NaN and
Infinity (Python's JSON reads them), and nesting deeper than a recursive encoder can walk.
`storable` replaces those parts, and only those, and counts them, so the letter is still kept
and says it was changed.
"""

from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"  # Unicode's own mark for a character that could not be kept
MAX_DEPTH = 100
TOO_DEEP = f"{REPLACEMENT} nested deeper than {MAX_DEPTH} levels"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> tuple[Any, int]:
    """`value` with each part PostgreSQL cannot store replaced, and how many were: in strings
    (and keys) each NUL or lone surrogate becomes U+FFFD, NaN and Infinity become the strings
    `"NaN"`, `"Infinity"`, `"-Infinity"`, and a value nested deeper than `MAX_DEPTH` becomes
    `TOO_DEEP`. A value with none of these comes back equal to itself, with 0."""
    replaced = [0]
    kept = _walk(value, 0, replaced)
    return kept, replaced[0]


def storable_text(text: str) -> str:
    """`text` with each NUL or lone surrogate replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _walk(value: Any, depth: int, replaced: list[int]) -> Any:
    if isinstance(value, str):
        kept = storable_text(value)
        replaced[0] += kept != value
        return kept
    if isinstance(value, float) and not math.isfinite(value):
        replaced[0] += 1
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if not isinstance(value, (dict, list, tuple)):
        return value
    if depth >= MAX_DEPTH:
        replaced[0] += 1
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            _walk(key, depth, replaced): _walk(item, depth + 1, replaced)
            for key, item in value.items()
        }
    return [_walk(item, depth + 1, replaced) for item in value]
