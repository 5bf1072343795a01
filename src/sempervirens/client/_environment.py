"""What a ping says about the machine: collected once per process, nothing personal.

No host name, user name, path or locale (a value that holds the user's or the
machine's name has it replaced, as crash reports do): only what a maintainer needs to choose
platforms and wheels (OS, architecture, Python, CPU count, memory, ABI tag, CI).
"""

from __future__ import annotations

import os
import sys

from . import _wire

# Variables that the common CI services set (GitHub, GitLab, Azure, Jenkins, ...).
CI_VARIABLES = (
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "TF_BUILD",
    "JENKINS_URL",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "APPVEYOR",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID",
    "DRONE",
    "SEMAPHORE",
    "BUILD_ID",
)

_cache: dict | None = None


def environment() -> dict:
    global _cache
    if _cache is None:
        _cache = _collect()
    return dict(_cache)


_IMPLEMENTATIONS = {
    "cpython": "CPython",
    "pypy": "PyPy",
    "graalpy": "GraalVM",
    "ironpython": "IronPython",
}


def _collect() -> dict:
    if hasattr(os, "uname"):  # POSIX: no need to import `platform` (milliseconds at exit)
        uname = os.uname()
        system, release, machine = uname.sysname, uname.release, uname.machine
    else:
        import platform

        system, release, machine = platform.system(), platform.release(), platform.machine()
    name = sys.implementation.name
    env = {
        "os": system,
        "os_version": release,
        "arch": machine,
        "python_implementation": _IMPLEMENTATIONS.get(name, name),
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "platform_tag": _platform_tag(system, machine),
    }
    from ._identities import without_identities

    # A kernel built by its user may be named after them or their machine (6.8.0-alice).
    env = {k: _wire.clean_string(without_identities(v)) for k, v in env.items()}
    env = {k: v for k, v in env.items() if v}
    cpus = os.cpu_count()
    if cpus:
        env["cpu_count"] = cpus
    memory = _memory_total()
    if memory:
        env["memory_total"] = memory
    env["ci"] = is_ci()
    detected = tags()
    for name in SENT_TAGS:  # "none": looked and found nothing (an older client sends no key)
        env[name] = detected[name] or "none"
    return env


def is_ci(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return any(
        environ.get(name, "").strip().lower() not in ("", "0", "false") for name in CI_VARIABLES
    )


def _platform_tag(system: str, machine: str) -> str:
    """A wheel-style tag such as cp311-cp311-linux_x86_64: which wheels this user needs."""
    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name)
    interp = f"{impl}{sys.version_info[0]}{sys.version_info[1]}"
    abi = interp + getattr(sys, "abiflags", "")  # "t" free-threaded, "d" debug
    if system == "Linux":
        plat = f"linux_{machine}"  # what sysconfig.get_platform() says, without importing it
    else:
        import sysconfig

        plat = sysconfig.get_platform()
    return f"{interp}-{abi}-{plat.replace('-', '_').replace('.', '_')}"


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
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("load", ctypes.c_ulong),
            ("total_phys", ctypes.c_ulonglong),
            ("avail_phys", ctypes.c_ulonglong),
            ("total_page", ctypes.c_ulonglong),
            ("avail_page", ctypes.c_ulonglong),
            ("total_virtual", ctypes.c_ulonglong),
            ("avail_virtual", ctypes.c_ulonglong),
            ("avail_extended", ctypes.c_ulonglong),
        ]

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


# -- environment tags ----------------------------------------------------------
#
# Where the software runs: batch scheduler, container, notebook, install method,
# CI provider.  Detected here, shown by `sempervirens show`, and sent in the ping's
# environment (SENT_TAGS, as declared by the catalogue: tests/client/test_wire.py).
# The MPI rank is not sent.

SENT_TAGS = ("scheduler", "container", "notebook", "install", "ci_provider")

SCHEDULERS = (  # (tag, variable that the scheduler sets in every job)
    ("slurm", "SLURM_JOB_ID"),
    ("pbs", "PBS_JOBID"),  # PBS Pro, OpenPBS, Torque
    ("lsf", "LSB_JOBID"),
    ("sge", "SGE_TASK_ID"),  # Sun/Oracle/Univa Grid Engine (with JOB_ID)
)
CI_PROVIDERS = (
    ("github-actions", "GITHUB_ACTIONS"),
    ("gitlab", "GITLAB_CI"),
    ("azure-pipelines", "TF_BUILD"),
    ("jenkins", "JENKINS_URL"),
    ("buildkite", "BUILDKITE"),
    ("circleci", "CIRCLECI"),
    ("travis", "TRAVIS"),
    ("appveyor", "APPVEYOR"),
    ("teamcity", "TEAMCITY_VERSION"),
    ("bitbucket", "BITBUCKET_BUILD_NUMBER"),
    ("codebuild", "CODEBUILD_BUILD_ID"),
    ("drone", "DRONE"),
    ("semaphore", "SEMAPHORE"),
)


def tags(environ=None, root: str = "/") -> dict:
    """{scheduler, container, notebook, install, ci_provider, mpi_rank}: None when absent."""
    environ = os.environ if environ is None else environ
    from . import _config

    return {
        "scheduler": _first(SCHEDULERS, environ)
        or ("sge" if environ.get("JOB_ID") and environ.get("SGE_ROOT") else None),
        "container": container(environ, root),
        "notebook": notebook(),
        "install": install_method(environ),
        "ci_provider": _first(CI_PROVIDERS, environ) or ("other" if is_ci(environ) else None),
        "mpi_rank": _config.parallel_rank(environ),
    }


def _first(table: tuple, environ) -> str | None:
    for tag, variable in table:
        if environ.get(variable, "").strip() not in ("", "0", "false"):
            return tag
    return None


def container(environ=None, root: str = "/") -> str | None:
    environ = os.environ if environ is None else environ
    if environ.get("APPTAINER_CONTAINER") or environ.get("APPTAINER_NAME"):
        return "apptainer"
    if environ.get("SINGULARITY_CONTAINER") or environ.get("SINGULARITY_NAME"):
        return "singularity"
    if os.path.exists(os.path.join(root, "run", ".containerenv")):
        return "podman"
    if os.path.exists(os.path.join(root, ".dockerenv")):
        return "docker"
    return None


def notebook() -> str | None:
    """'jupyter' inside a Jupyter kernel, 'ipython' in a terminal IPython, else None."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython is not None else None
    shell = get() if callable(get) else None
    if shell is None:
        return None
    if "ipykernel" in sys.modules and type(shell).__name__ == "ZMQInteractiveShell":
        return "jupyter"
    return "ipython"


def install_method(environ=None) -> str:
    """'conda', 'pip-venv' (a virtual environment) or 'system'."""
    environ = os.environ if environ is None else environ
    if os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
        return "conda"
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix) or environ.get("VIRTUAL_ENV"):
        return "pip-venv"
    return "system"
