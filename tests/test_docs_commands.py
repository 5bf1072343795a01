"""The `sempervirens` command lines of README.md and docs/*.md are real: each subcommand
exists, takes the arguments written, and accepts each option (with a value or without).

They are read from fenced code blocks and `inline code` (`admin project list`, and an
option span such as "`sempervirens opt-out PROJECT` (or `--all`)" continuing a command
in the same sentence) and checked against the parser cli.py builds; nothing is run.
Placeholders (NAME, FILE, ..., [--x]) are fine.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
from pathlib import Path

from sempervirens.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SEPARATOR = re.compile(r"\s(?:&&|\|\||\||;)\s")  # `a && b`, not `admin|maintainer`
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_|-]*|\.\.\.|…")


def snippets(text: str):
    """(line number, text, whether it continues the inline span before it in the same
    sentence) for each line of a code block and each inline code span."""
    prose, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append((number, ""))
        elif fenced:
            prose.append((number, ""))
            yield number, re.sub(r"^\s*\$ ", "", re.split(r"\s#", line)[0]), False
        else:
            prose.append((number, line))
    paragraph: list[tuple[int, str]] = []
    for number, line in [*prose, (0, "")]:  # inline code spans stop at a blank line
        if line.strip():
            paragraph.append((number, line))
            continue
        joined, end = "\n".join(line for _, line in paragraph), None
        for span in re.finditer(r"`([^`]+)`", joined):
            follows = end is not None and not re.search(r"[.:;]\s", joined[end:span.start()])
            yield (paragraph[0][0] + joined.count("\n", 0, span.start()),
                   " ".join(span[1].split()), follows)
            end = span.end()
        paragraph = []


def subcommands(parser: argparse.ArgumentParser) -> dict:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices if actions else {}


def invocations(snippet: str, commands: dict):
    """The arguments after each `sempervirens` (or `python -m sempervirens`) in a snippet,
    or of a snippet that starts with a command's name (`admin project list`)."""
    for segment in SEPARATOR.split(snippet):
        try:
            words = shlex.split(segment)
        except ValueError:  # an unbalanced quote in prose
            words = segment.split()
        for i, word in enumerate(words):
            if (word == "sempervirens" and (i == 0 or words[i - 1] == "-m")
                    or word.endswith("/bin/sempervirens")):
                yield words[i + 1:]
                break
        else:
            if words and words[0] in commands and not re.search(r"[()]| = ", segment):
                yield words


def check(parser: argparse.ArgumentParser, words: list[str]) -> tuple[list[str], str | None]:
    """The subcommand path the words name, and what in them the parser refuses (or None)."""
    words = [word.strip("[]") for word in words]
    if any(word.endswith(":") for word in words[:3]):
        return [], None  # a message the command prints (`sempervirens purge: stores: ...`)
    path, positionals = [], 0
    while words:
        word = words.pop(0)
        name = " ".join(["sempervirens", *path])
        if word.startswith("-") and len(word) > 1:
            flag, equals, _ = word.partition("=")
            action = parser._option_string_actions.get(flag)
            if action is None:
                return path, f"`{name}` has no option {flag}"
            if action.nargs == 0 and equals:
                return path, f"`{name} {flag}` takes no value"
            if action.nargs != 0 and not equals and words:  # last: it is only named
                if words[0].startswith("-"):
                    if action.nargs == "?":  # a boolean flag alone (`--no-dp`)
                        continue
                    return path, f"`{name} {flag}` takes a value"
                words.pop(0)
        elif subcommands(parser):
            if PLACEHOLDER.fullmatch(word):
                return path, None  # `sempervirens COMMAND --help`
            if word not in subcommands(parser):
                return path, f"`{name}` has no subcommand {word!r}"
            parser = subcommands(parser)[word]
            path.append(word)
        elif word not in ("...", "…"):
            positionals += 1
            room = sum({None: 1, "?": 1}.get(a.nargs, a.nargs if isinstance(a.nargs, int)
                                              else math.inf)
                       for a in parser._actions if not a.option_strings)
            if positionals > room:
                return path, f"`{name}` takes no argument {word!r} ({room} at most)"
    return path, None


def test_documented_command_lines_are_accepted_by_the_parser():
    parser = build_parser()
    commands = subcommands(parser)
    found, problems = 0, []
    for page in PAGES:
        path = []
        for number, snippet, follows in snippets(page.read_text()):
            runs = list(invocations(snippet, commands))
            if follows and path and snippet.startswith("-") and not runs:
                runs = [[*path, *shlex.split(snippet)]]  # `sempervirens forget` (or `--all`)
            for words in runs:
                found += 1
                path, wrong = check(parser, words)
                if wrong:
                    problems.append(f"{page.relative_to(ROOT)}:{number}: {wrong} "
                                    f"(in `{snippet}`)")
            if not runs:
                path = []
    assert found > 80, f"only {found} command lines found: is their extraction broken?"
    assert not problems, "documented command lines the CLI refuses:\n" + "\n".join(problems)
