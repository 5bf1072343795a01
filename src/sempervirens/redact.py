"""Store passwords out of what a person or a log reads.

A database URL carries its password after the user name (postgresql://user:PASSWORD@host)
or in its query (?password=PASSWORD, libpq's sslpassword too).  Whatever the command line,
`check`, the backups or the server say about a store goes through `text` (a message that
may quote a URL anywhere) or `url` (one store's URL), so that neither form is shown.
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
    """A store's URL as shown: a SQLite file as its path, any other without its password."""
    if value.startswith("sqlite:///"):
        return value[len("sqlite:///"):]
    value = _USERINFO_WHOLE.sub(rf"\g<1>:{HIDDEN}@", value)
    return _PARAMETER_WHOLE.sub(rf"\g<1>{HIDDEN}", value)


__all__ = ["HIDDEN", "text", "url"]
