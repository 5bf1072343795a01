"""What free text written for people (a metric's description, a notice, a policy, a
token's holder) may hold: it is stored in both stores, published on pages and feeds,
and printed on terminals.

Refused: the C0 and C1 control characters (PostgreSQL cannot store a NUL; ESC and CSI
start terminal escapes) and the bidirectional embeddings, overrides and isolates
(they reorder what a reader sees, as in "Trojan Source").  Text of several lines may
hold tabs and line breaks.
"""

from __future__ import annotations

import re

_BIDI = "\u202a-\u202e\u2066-\u2069"
_IN_A_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_IN_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")


def unshowable(text: str, *, lines: bool = False) -> str | None:
    """The first character of `text` it must not hold, as U+XXXX, or None."""
    found = (_IN_LINES if lines else _IN_A_LINE).search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def showable(text: str) -> str:
    """One line of `text` with every character it must not hold made a space."""
    return _IN_A_LINE.sub(" ", text)
