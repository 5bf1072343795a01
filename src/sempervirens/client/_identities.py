"""Who and where the user is: the names that nothing the client sends may carry.

The crash scrubber (_crash.py) and the environment of every ping (_environment.py)
both take them out, as `<name>`.
"""

from __future__ import annotations

import os
import re

PLACEHOLDER = "<name>"


def identities() -> list[str]:
    """This user's names and this machine's names, longest first."""
    names = set()
    for variable in ("USER", "USERNAME", "LOGNAME"):
        if os.environ.get(variable):
            names.add(os.environ[variable])
    try:
        import getpass

        names.add(getpass.getuser())
    except Exception:  # noqa: BLE001, S110 - no user name at all (a container's random uid)
        pass
    try:
        import socket

        host = socket.gethostname()  # no DNS look-up: getfqdn() could block
        if host:
            names.add(host)
            names.add(host.split(".")[0])
    except OSError:
        pass
    # Very short names ("a", "pi") would blank out ordinary words.
    return sorted((n for n in names if len(n) >= 3), key=len, reverse=True)


def without_identities(text: str) -> str:
    """`text` with each of the user's and the machine's names, as a word, made `<name>`."""
    for name in identities():
        text = re.sub(
            r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])",
            PLACEHOLDER,
            text,
            flags=re.IGNORECASE,
        )
    return text
