"""A simulated population of installations, made from a seed and nothing else.

Every installation has what a real one has (a UUIDv4, a platform, the projects it
uses and their versions) and what only the network knows (the address it comes
from, behind its institution's NAT or its home ISP).  The addresses are ones that
never reach the Internet: documentation ranges (RFC 5737, RFC 3849) for
institutions and the benchmarking range 198.18.0.0/15 (RFC 2544) for homes; they are
only names in the simulated DNS zone (dns.py), nothing ever connects to them.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Project:
    name: str
    versions: tuple[tuple[str, int], ...]  # (version, released this many days before today)
    counters: tuple[str, ...]
    labeled: dict[str, tuple[str, ...]]  # labeled counter -> its labels
    timings: dict[str, float]  # timing -> median duration (microseconds)
    crash_types: tuple[str, ...]
    share: float  # fraction of installations that use it


PROJECTS = (
    Project("astroflux", (("1.0.0", 400), ("1.1.0", 120), ("1.2.0", 40), ("2.0.0", 6)),
            ("io.read_fits", "io.write_fits", "coords.transform", "plot.sky"),
            {"io.format": ("fits", "hdf5", "csv", "votable")},
            {"solve.photometry": 40_000.0, "io.load": 3_000.0},
            ("ValueError", "astroflux.errors.WCSError", "MemoryError"), 0.45),
    Project("genomix", (("0.8.2", 300), ("0.9.0", 90), ("0.9.1", 20)),
            ("align.run", "variants.call", "io.read_bam"),
            {"align.reference": ("hg38", "hg19", "mm10")},
            {"align.run": 900_000.0},
            ("KeyError", "genomix.AlignError"), 0.30),
    Project("climapy", (("3.4.0", 500), ("3.5.0", 200), ("4.0.0", 30)),
            ("grid.regrid", "io.open_netcdf", "stats.anomaly"),
            {"grid.method": ("bilinear", "conservative", "nearest")},
            {"grid.regrid": 250_000.0},
            ("IndexError", "climapy.GridError"), 0.35),
    Project("tensorlite", (("0.1.0", 60), ("0.2.0", 10)),
            ("model.fit", "model.predict"),
            {"device": ("cpu", "cuda")},
            {"model.fit": 5_000_000.0},
            ("RuntimeError",), 0.15),
)

# (os, os_version, arch, weight): what the platform mix of a scientific user base looks like.
PLATFORMS = (
    ("Linux", "6.1.0", "x86_64", 48), ("Linux", "5.15.0", "x86_64", 12), ("Linux", "6.8.0", "aarch64", 4),
    ("Darwin", "23.4.0", "arm64", 16), ("Darwin", "22.6.0", "x86_64", 5),
    ("Windows", "10", "AMD64", 12), ("Windows", "11", "AMD64", 3),
)
PYTHONS = (("3.9.19", 6), ("3.10.14", 18), ("3.11.9", 34), ("3.12.4", 30), ("3.13.0", 12))

# (institution hostname suffix, network, share of installations).  The hostnames'
# registered domains are what enrichment classifies (academic lists, the curated labs).
INSTITUTIONS = (
    ("cs.stanford.edu", "192.0.2.0/27", 0.08),
    ("physics.ox.ac.uk", "192.0.2.32/27", 0.06),
    ("lbl.gov", "192.0.2.64/27", 0.05),
    ("math.mit.edu", "192.0.2.96/27", 0.05),
    ("cs.u-tokyo.ac.jp", "2001:db8:100::/64", 0.04),
    ("astro.ethz.ch", "192.0.2.128/27", 0.04),
    ("rd.example-pharma.com", "198.51.100.0/26", 0.06),
    ("hq.example-corp.com", "198.51.100.64/26", 0.04),
)
HOME_NETWORK = "198.18.0.0/15"  # home ISP customers, one address each
HOME_DOMAIN = "dsl.example-isp.net"
# One address shared by a crowd of installations (a CI farm, a big NAT): the
# anomaly the private aggregates are meant to spot.
# Where the software runs, as the client's environment tags say (model/domains.py):
# weights for a scientific user base.  The CI service follows `ci`.
TAGS = {
    "scheduler": (("none", 84), ("slurm", 11), ("pbs", 3), ("lsf", 1), ("sge", 1)),
    "container": (("none", 84), ("docker", 9), ("apptainer", 5), ("podman", 2)),
    "notebook": (("none", 68), ("jupyter", 27), ("ipython", 5)),
    "install": (("pip-venv", 45), ("conda", 37), ("system", 18)),
}

CROWDED_ADDRESS = "203.0.113.200"
CROWDED_HOST = "ci-gateway.example-cloud.net"
CROWDED_SHARE = 0.08


@dataclass
class Installation:
    index: int
    client_id: str
    ip: str
    hostname: str | None  # its reverse DNS name, if it has one
    environment: dict
    projects: dict[str, str] = field(default_factory=dict)  # project -> version at install
    first_day: int = 0  # days before today it was installed
    activity: float = 0.5  # chance of running on a given day
    opts_out_on: int | None = None  # days before today it opts out (of its first project)
    crash_permission: bool = False


def generate(size: int, days: int, seed: int) -> list[Installation]:
    """`size` installations active over the last `days` days (today is day 0)."""
    rng = random.Random(seed)
    tags = random.Random(seed + 1)  # drawn apart: the rest of a seed's population stays as it was
    addresses = _AddressBook(rng)
    population = []
    for index in range(size):
        roll = rng.random()
        if roll < CROWDED_SHARE:
            ip, hostname = CROWDED_ADDRESS, CROWDED_HOST
        else:
            ip, hostname = addresses.pick(rng, roll - CROWDED_SHARE)
        os_name, os_version, arch = _weighted(rng, [(p[:3], p[3]) for p in PLATFORMS])
        python = _weighted(rng, PYTHONS)
        environment = {
            "os": os_name, "os_version": os_version, "arch": arch,
            "python_implementation": "CPython", "python_version": python,
            "cpu_count": rng.choice((2, 4, 8, 8, 16, 32, 64)),
            "memory_total": rng.choice((8, 16, 16, 32, 64, 256)) * 2**30,
            "ci": ip == CROWDED_ADDRESS,
            "platform_tag": _platform_tag(os_name, arch, python),
            **{tag: _weighted(tags, values) for tag, values in TAGS.items()},
            "ci_provider": "github-actions" if ip == CROWDED_ADDRESS else "none",
        }
        installation = Installation(
            index=index, client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            ip=ip, hostname=hostname, environment=environment,
            first_day=rng.randrange(days), activity=rng.choice((0.15, 0.4, 0.7, 0.9)),
            crash_permission=rng.random() < 0.5)
        chosen = [p for p in PROJECTS if rng.random() < p.share] or [rng.choice(PROJECTS)]
        for project in chosen:
            installation.projects[project.name] = version_on(project, installation.first_day, rng)
        if rng.random() < 0.12:  # enough opt-outs per month to pass k
            installation.opts_out_on = rng.randrange(installation.first_day + 1)
        population.append(installation)
    return population


def version_on(project: Project, day: int, rng: random.Random) -> str:
    """A version a user installing `day` days before today would get: mostly the latest."""
    released = [v for v, age in project.versions if age >= day] or [project.versions[0][0]]
    return released[-1] if rng.random() < 0.75 else rng.choice(released)


def project(name: str) -> Project:
    return next(p for p in PROJECTS if p.name == name)


def _weighted(rng: random.Random, choices):
    values, weights = zip(*choices)
    return rng.choices(values, weights)[0]


def _platform_tag(os_name: str, arch: str, python: str) -> str:
    tag = "cp" + "".join(python.split(".")[:2])
    plat = {"Linux": f"linux_{arch}", "Darwin": f"macosx_11_0_{arch}", "Windows": "win_amd64"}[os_name]
    return f"{tag}-{tag}-{plat}"


class _AddressBook:
    """Hands out addresses: several installations per institutional address (NAT)."""

    def __init__(self, rng: random.Random) -> None:
        self._hosts = {suffix: list(itertools.islice(ipaddress.ip_network(net).hosts(), 24))
                       for suffix, net, _ in INSTITUTIONS}
        self._homes = ipaddress.ip_network(HOME_NETWORK)
        self._next_home = 1

    def pick(self, rng: random.Random, roll: float) -> tuple[str, str | None]:
        for suffix, _, share in INSTITUTIONS:
            if roll < share:
                ip = rng.choice(self._hosts[suffix])
                return str(ip), f"ws{int(ip) % 1000}.{suffix}"
            roll -= share
        ip = self._homes[self._next_home]
        self._next_home += 1
        # A third of home addresses have no reverse DNS at all, as in real life.
        hostname = None if int(ip) % 3 == 0 else f"host-{str(ip).replace('.', '-')}.{HOME_DOMAIN}"
        return str(ip), hostname


def addresses(population: list[Installation]) -> dict[str, str | None]:
    """Every address in the population and its hostname (for the DNS zone)."""
    return {i.ip: i.hostname for i in population}


def declaration(project: Project):
    """What a simulated project declares (its metrics file): everything it records."""
    from ..model.declarations import Declaration, Metric

    def described(name: str, kind: str, labels: tuple[str, ...] = ()) -> Metric:
        return Metric(name, kind, f"Simulated {kind.replace('_', ' ')} {name}.", "", labels)

    metrics = [described(n, "counter") for n in project.counters]
    metrics += [described(n, "labeled_counter", labels) for n, labels in project.labeled.items()]
    metrics += [described(n, "timing") for n in project.timings]
    versions = dict.fromkeys(".".join(v.split(".")[:2]) for v, _ in project.versions)
    return Declaration(tuple(sorted(metrics, key=lambda m: m.name)), tuple(versions),
                       project.crash_types)
