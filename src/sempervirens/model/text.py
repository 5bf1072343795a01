"""What free text written for people (a metric's description, a notice, a policy, a
token's holder) may hold: it is stored in both stores, published on pages and feeds,
and printed on terminals.

Refused: the C0 and C1 control characters (PostgreSQL cannot store a NUL; ESC and CSI
start terminal escapes; XML, the Atom feed's, allows none but tab and line breaks), the
noncharacters U+FFFE and U+FFFF (nor does XML), and the bidirectional embeddings,
overrides and isolates (they reorder what a reader sees, as in "Trojan Source").  Text
of several lines may hold tabs and line breaks.
"""

from __future__ import annotations

import re

_OTHERS = "\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_IN_A_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_OTHERS}]")
_IN_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_OTHERS}]")


def refusal(what: str, text: str, *, lines: bool = False) -> str | None:
    """Why `text` (named `what` in the message) cannot be published, in one line, or None."""
    found = (_IN_LINES if lines else _IN_A_LINE).search(text)
    if found is None:
        return None
    return (f"{what} holds U+{ord(found.group()):04X}: published text may hold no control or "
            "bidirectional character, nor U+FFFE or U+FFFF")


def showable(text: str) -> str:
    """One line of `text` with every character it must not hold made a space."""
    return _IN_A_LINE.sub(" ", text)
