"""User strings made safe to show: bidirectional control characters taken out.

Names, class names, texts and audit details come from people. A right-to-left override
(U+202E) or an isolate in a name reverses what follows it on screen, so "ada" can read as
another name and an audit line can say the opposite of what it records. These characters
are invisible and change only display order; without them a string shows in the order it
was typed, the order the store holds. Right-to-left scripts (Arabic, Hebrew) still show
right to left: that comes from their letters, not from these controls.

Escaping Markdown is the UI's part (`ui.plain`), which calls this first.
"""
from __future__ import annotations

# Embeddings and overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI PDI), the
# left-to-right and right-to-left marks, and the Arabic letter mark.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_DROP = {ord(c): None for c in BIDI_CONTROLS}


def neutral(text) -> str:
    """`text` as a string without bidirectional control characters."""
    return str(text).translate(_DROP)


def neutral_rows(rows: list[dict]) -> list[dict]:
    """Table rows with every string cell neutral (for tables of names, labels and texts)."""
    return [{k: neutral(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
