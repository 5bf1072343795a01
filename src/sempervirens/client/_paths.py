"""Where the client keeps its files: one data directory per user, shared by projects.

SEMPERVIRENS_HOME wins; otherwise the platform's convention (XDG on Linux and
other Unix, ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows).
The directory is never created inside a home directory that does not exist.
"""

from __future__ import annotations

import os
import stat
import sys

from . import _config

APP = "sempervirens"


def data_dir(environ=None) -> str | None:
    """The data directory's path (not created), or None when the user has no home."""
    environ = os.environ if environ is None else environ
    explicit = _config.text("SEMPERVIRENS_HOME", environ)
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.isabs(path):
            # Relative to what? Each process's working directory would be another home.
            _config.warn(
                f"SEMPERVIRENS_HOME={explicit!r} refused (not an absolute path): nothing is kept"
            )
            return None
        return os.path.normpath(path)
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or environ.get("APPDATA")
        return os.path.join(base, APP) if base else None
    home = _home(environ)
    if home is None:
        return None
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", APP)
    xdg = environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: relative paths are invalid and ignored
        return os.path.join(xdg, APP)
    return os.path.join(home, ".local", "share", APP)


def _home(environ) -> str | None:
    home = environ.get("HOME")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError, OSError):
            return None
    # A service account's home may not exist: then there is nowhere to keep files.
    return home if home and os.path.isdir(home) else None


def ensure_dir(path: str, warn: bool = True) -> bool:
    """Create the data directory (0700) if needed; False if it cannot be written or
    cannot be trusted (`untrusted`: then said once, as a warning, if `warn`)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return False
    why = untrusted(path)
    if why:
        if warn:
            _config.warn(f"{why}: nothing is kept (chmod 700 it, or set SEMPERVIRENS_HOME)")
        return False
    return os.access(path, os.W_OK | os.X_OK)


def untrusted(path: str) -> str | None:
    """Why the directory at `path` cannot hold this user's id, decisions and pings.

    On a shared /tmp or a group's project space, a directory that another user
    made, or can write to, lets that user plant a symbolic link where we write (a
    file of ours overwritten), a FIFO where we read, an id or a consent of their
    choosing, and read the pings; a symbolic link that another user owns can be
    pointed elsewhere at any time.  None when it is this user's alone.
    """
    if not hasattr(os, "getuid"):  # Windows: ACLs, not owners and modes
        return None
    try:
        link, info = os.lstat(path), os.stat(path)
    except OSError as error:
        return f"{path}: {error.strerror}"
    me = os.getuid()
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (me, 0):
        return f"{path} is a symbolic link of another user"
    if info.st_uid != me:
        return f"{path} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by other users"
    return None


def home_dir() -> str | None:
    """The user's home, for scrubbing it out of crash reports."""
    return _home(os.environ) if sys.platform != "win32" else os.environ.get("USERPROFILE")
