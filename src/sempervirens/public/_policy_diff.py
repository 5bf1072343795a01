"""A readable line diff between two versions of the privacy policy (difflib)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT = 3  # unchanged lines shown around each change


@dataclass(frozen=True)
class Line:
    mark: str  # "+" added, "-" removed, " " unchanged, "…" unchanged lines left out
    text: str
    old: int | None = None  # line numbers, from 1
    new: int | None = None


def line_diff(old: str, new: str, context: int = CONTEXT) -> list[Line]:
    """The changed lines of `new` against `old`, with `context` unchanged lines around them."""
    before, after = old.splitlines(), new.splitlines()
    lines: list[Line] = []
    groups = difflib.SequenceMatcher(None, before, after, autojunk=False).get_grouped_opcodes(context)
    for number, group in enumerate(groups):
        if number or group[0][1] > 0:
            lines.append(Line("…", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [Line(" ", before[i], i + 1, j1 + i - i1 + 1) for i in range(i1, i2)]
                continue
            lines += [Line("-", before[i], old=i + 1) for i in range(i1, i2)]
            lines += [Line("+", after[j], new=j + 1) for j in range(j1, j2)]
    return lines


def counts(lines: list[Line]) -> tuple[int, int]:
    """(lines added, lines removed)."""
    return sum(line.mark == "+" for line in lines), sum(line.mark == "-" for line in lines)
