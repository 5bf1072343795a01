"""What a ping says about the machine: collected once per process, nothing personal.

No host name, user name, path or locale: only what a maintainer needs to choose
platforms and wheels (OS, architecture, Python, CPU count, memory, ABI tag, CI).
"""

from __future__ import annotations

import os
import sys

from . import _wire

# Variables that the common CI services set (GitHub, GitLab, Azure, Jenkins, ...).
CI_VARIABLES = (
    "CI", "CONTINUOUS_INTEGRATION", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "JENKINS_URL",
    "BUILDKITE", "CIRCLECI", "TRAVIS", "APPVEYOR", "TEAMCITY_VERSION", "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID", "DRONE", "SEMAPHORE", "BUILD_ID",
)

_cache: dict | None = None


def environment() -> dict:
    global _cache
    if _cache is None:
        _cache = _collect()
    return dict(_cache)


def _collect() -> dict:
    import platform

    env = {
        "os": platform.system(),
        "os_version": platform.release(),
        "arch": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        "platform_tag": _platform_tag(),
    }
    env = {k: v for k, v in ((k, _wire.clean_string(v)) for k, v in env.items()) if v}
    cpus = os.cpu_count()
    if cpus:
        env["cpu_count"] = cpus
    memory = _memory_total()
    if memory:
        env["memory_total"] = memory
    env["ci"] = is_ci()
    return env


def is_ci(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return any(environ.get(name, "").strip().lower() not in ("", "0", "false") for name in CI_VARIABLES)


def _platform_tag() -> str:
    """A wheel-style tag such as cp311-cp311-linux_x86_64: which wheels this user needs."""
    import sysconfig

    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name)
    interp = f"{impl}{sys.version_info[0]}{sys.version_info[1]}"
    abi = interp + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{interp}-{abi}-{plat}"


def _memory_total() -> int | None:
    try:
        if hasattr(os, "sysconf"):
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if sys.platform == "win32":
            return _windows_memory()
    except (OSError, ValueError):
        pass
    return None


def _windows_memory() -> int | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                    ("total_phys", ctypes.c_ulonglong), ("avail_phys", ctypes.c_ulonglong),
                    ("total_page", ctypes.c_ulonglong), ("avail_page", ctypes.c_ulonglong),
                    ("total_virtual", ctypes.c_ulonglong), ("avail_virtual", ctypes.c_ulonglong),
                    ("avail_extended", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return int(status.total_phys)
    return None


def peak_rss_bytes() -> int | None:
    """The process's peak resident memory so far (the end of the period)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024) or None
