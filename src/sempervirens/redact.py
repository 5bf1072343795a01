"""What a person or a log reads of what was typed: no store password, one line.

A database URL carries its password after the user name (postgresql://user:PASSWORD@host)
or in its query (?password=PASSWORD, libpq's sslpassword too).  Whatever the command line,
`check`, the backups or the server say about a store goes through `text` (a message that
may quote a URL anywhere) or `url` (one store's URL), so that neither form is shown.
A path or an argument may hold a line break or a terminal's escape: `line` (and `url`)
write each such character as its escape, so that a message stays the one line it is.
Standard library only: the command line uses it before it knows which command runs.
"""

from __future__ import annotations

import re

HIDDEN = "***"
# After ://, a user name, ':', then everything up to the last '@' of the word: SQLAlchemy
# takes a password up to the first '@', a person may have meant the last; hide either.
_USERINFO = re.compile(r"(://[^:/@\s'\"]*):[^\s'\"]*@")
_PARAMETER = re.compile(r"(?i)\b((?:ssl)?password=)[^&\s'\"]*")
# In one URL, known to be whole, a space or a quote is part of the password too.
_USERINFO_WHOLE = re.compile(r"(://[^:/@]*):.*@", re.DOTALL)
_PARAMETER_WHOLE = re.compile(r"(?i)\b((?:ssl)?password=)[^&]*")


def text(message: str) -> str:
    """The message with every URL's password, and every password= value, as ***."""
    return _PARAMETER.sub(rf"\g<1>{HIDDEN}", _USERINFO.sub(rf"\g<1>:{HIDDEN}@", message))


def url(value: str) -> str:
    """A store's or the lake's location as shown: a SQLite file as its path, a URL without
    its password; on one line."""
    if value.startswith("sqlite:///"):
        return escaped(value[len("sqlite:///"):])
    value = _USERINFO_WHOLE.sub(rf"\g<1>:{HIDDEN}@", value)
    return escaped(_PARAMETER_WHOLE.sub(rf"\g<1>{HIDDEN}", value))


# Control characters but tab (C0, DEL, C1) and the bidirectional ones (as model/text.py).
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def escaped(value: str) -> str:
    """The text with each character that would break its line or act on a terminal
    written as its escape (\\n, \\x1b, \\u202e)."""
    return _UNPRINTABLE.sub(lambda found: _NAMED.get(found.group()) or (
        f"\\x{ord(found.group()):02x}" if ord(found.group()) < 0x100
        else f"\\u{ord(found.group()):04x}"), value)


def line(message: str) -> str:
    """A message for stderr or a log: no password, and one line (its last break kept)."""
    body, newline = (message[:-1], "\n") if message.endswith("\n") else (message, "")
    return escaped(text(body)) + newline


__all__ = ["HIDDEN", "escaped", "line", "text", "url"]
