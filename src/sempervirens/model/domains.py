"""Breakdowns and their public value domains.

A breakdown splits a project's active installations by one reported field.  Its
published values come from a fixed public domain written here, never from what
clients sent: a reported value is mapped to one of the domain's values, or to
OTHER; a value not reported is UNKNOWN.  The only domain that is not fixed here is
the project's version, normalised to major.minor: a project that declares its
versions (metrics file) makes them its public domain; without a declaration, each
major.minor is published only through private partition selection (release/).
"""

from __future__ import annotations

from dataclasses import dataclass

OTHER = "(other)"  # any reported value outside the public domain
UNKNOWN = "(unknown)"  # the field was not reported
TOTAL = ""  # the breakdown name of the total, and its only value

# major.minor of a version string: "1.26.4" -> "1.26", "2.0rc1" -> "2.0".
MAJOR_MINOR_PATTERN = r"^([0-9]+\.[0-9]+)"


@dataclass(frozen=True)
class Breakdown:
    """One breakdown: the reported `field` (a lake column) mapped to public values.

    kind:
    - 'spellings': `values` maps each public value to the reported spellings it
      stands for, compared in lower case (`platform.system()`, `platform.machine()`);
      the spellings are ASCII, and a value with another character is OTHER (its
      lower case would depend on whose: Python's 'K'.lower(), the Kelvin sign, is 'k');
    - 'major_minor': the field's major.minor, published if it is one of `values`
      (for 'version', `values` is empty: the project's declared versions, or
      partition selection);
    - 'boolean': 'true' or 'false'.
    """
    name: str
    field: str
    kind: str
    label: str  # for readers: a chart's or a selector's name
    description: str
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def public_values(self) -> tuple[str, ...]:
        """The fixed domain (empty for 'version'), OTHER and UNKNOWN included."""
        if self.kind == "boolean":
            return ("true", "false", UNKNOWN)
        if not self.values:
            return ()
        return (*(value for value, _ in self.values), OTHER, UNKNOWN)


def _tags(*values: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A domain whose public values are the reported ones, spelt one way."""
    return tuple((value, (value,)) for value in values)


_PYTHONS = tuple((f"3.{minor}", ()) for minor in range(6, 17))

BREAKDOWNS: tuple[Breakdown, ...] = (
    Breakdown("version", "project_version", "major_minor", "Version",
              "the project's version, as major.minor"),
    Breakdown("os", "os", "spellings", "Operating system", "operating system family", (
        ("linux", ("linux",)),
        ("macos", ("darwin", "macos")),
        ("windows", ("windows",)),
        ("bsd", ("freebsd", "openbsd", "netbsd", "dragonfly")),
    )),
    Breakdown("arch", "arch", "spellings", "Architecture", "processor architecture", (
        ("x86_64", ("x86_64", "amd64", "x64")),
        ("arm64", ("arm64", "aarch64", "armv8l")),
        ("x86", ("i386", "i486", "i586", "i686", "x86")),
        ("ppc64le", ("ppc64le",)),
        ("s390x", ("s390x",)),
        ("riscv64", ("riscv64",)),
    )),
    Breakdown("python", "python_version", "major_minor", "Python version",
              "Python version, as 3.minor",
              _PYTHONS),
    Breakdown("ci", "is_ci", "boolean", "CI or not", "running under continuous integration"),
    # The environment tags (model/ping.py): 'none' is a client that looked and found
    # nothing; UNKNOWN a client that does not report the tag.
    Breakdown("scheduler", "scheduler", "spellings", "Batch scheduler", "batch scheduler of the job",
              _tags("slurm", "pbs", "lsf", "sge", "none")),
    Breakdown("container", "container", "spellings", "Container", "container runtime",
              _tags("docker", "podman", "apptainer", "singularity", "none")),
    Breakdown("notebook", "notebook", "spellings", "Notebook", "Jupyter kernel or IPython",
              _tags("jupyter", "ipython", "none")),
    Breakdown("install", "install_method", "spellings", "Install method",
              "conda, pip in a virtual environment, or the system's Python",
              _tags("conda", "pip-venv", "system")),
    Breakdown("ci_provider", "ci_provider", "spellings", "CI provider", "continuous integration service",
              _tags("github-actions", "gitlab", "azure-pipelines", "jenkins", "buildkite", "circleci",
                    "travis", "appveyor", "teamcity", "bitbucket", "codebuild", "drone", "semaphore",
                    "other", "none")),
)

BREAKDOWN_NAMES = tuple(b.name for b in BREAKDOWNS)
# The breakdowns whose public values are the same for every project (all but the
# version): their released counts add up across projects (the ecosystem view).
SHARED_BREAKDOWN_NAMES = tuple(b.name for b in BREAKDOWNS if b.public_values)
BY_NAME = {b.name: b for b in BREAKDOWNS}


def public_value(breakdown: Breakdown, reported, declared_versions: tuple[str, ...] = ()) -> str:
    """The public value a reported one maps to, in Python (the engine does the same in SQL).

    For 'version' without declared versions the major.minor itself is returned: such a
    key is published only if the release's partition selection keeps it.
    """
    import re

    if reported is None:
        return UNKNOWN
    if breakdown.kind == "boolean":
        return "true" if reported else "false"
    if breakdown.kind == "spellings":
        reported = str(reported)
        for value, spellings in breakdown.values:
            if reported.isascii() and reported.lower() in spellings:
                return value
        return OTHER
    match = re.match(MAJOR_MINOR_PATTERN, str(reported))
    if match is None:
        return OTHER
    domain = declared_versions if breakdown.name == "version" else breakdown.public_values
    if breakdown.name == "version" and not declared_versions:
        return match.group(1)
    return match.group(1) if match.group(1) in domain else OTHER
