"""What a project declares it collects: its metrics file.

A project ships one TOML file (in the spirit of Glean's metrics.yaml) and registers
it with `sempervirens admin project add NAME --metrics FILE`.  Nothing undeclared is
ever published; the public catalogue page lists exactly this.

    versions = ["1.0", "1.1", "2.0"]       # optional: the version breakdown's domain
    crash_kinds = ["ValueError"]           # exception types reported as crashes

    [metrics."io.read_csv"]
    kind = "counter"                       # counter | labeled_counter | timing
    description = "Calls of read_csv."
    unit = "calls"                         # optional

    [metrics."io.format"]
    kind = "labeled_counter"
    description = "Files read, by format."
    labels = ["csv", "parquet"]            # the closed list of labels

Standard library only (tomllib; tomli on Python 3.10), so that `sempervirens.testing`
can check a project's own tests against it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from .limits import MAX_LABEL_LENGTH, MAX_LABELS_PER_METRIC, MAX_NAME_LENGTH
from .text import refusal

# The metric kinds, with what each measures (for readers: the public catalogue page).
KIND_DESCRIPTIONS = {
    "counter": "how many times something happened (calls, files, runs)",
    "labeled_counter": "a counter split by a closed list of labels, declared here",
    "timing": "how long something took: a distribution, published as percentiles",
}
KINDS = tuple(KIND_DESCRIPTIONS)
# The kinds of Declaration.rows(): the metrics', and what else a project declares.
ROW_KINDS = (*KINDS, "crash", "version")
# Lower-case dotted snake case, as the protocol's metric names (the public API's too).
NAME_PATTERN = r"[a-z][a-z0-9_]*(?:[.\-][a-z0-9_]+)*"
_NAME = re.compile(NAME_PATTERN + r"\Z")
_LABEL = re.compile(r"[a-z0-9][a-z0-9_.\-]*\Z")
_VERSION = re.compile(r"[0-9]+\.[0-9]+\Z")
_EXCEPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
MAX_DESCRIPTION = 1000
MAX_METRICS = 500


class DeclarationError(ValueError):
    """A metrics file that cannot be registered; the message names the entry."""


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    description: str
    unit: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declaration:
    metrics: tuple[Metric, ...] = ()
    versions: tuple[str, ...] = ()  # major.minor; empty: partition selection
    crash_kinds: tuple[str, ...] = ()
    # Derived from metrics: not an argument, so dataclasses.replace() rebuilds it
    # rather than sharing (and extending) the original's.
    by_name: dict = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {m.name: m for m in self.metrics})

    def allows(self, kind: str, name: str, label: str = "") -> bool:
        """Whether a recorded (kind, name[, label]) is declared, as rows() lists them."""
        if kind in ("crash", "version"):
            return not label and name in (self.crash_kinds if kind == "crash" else self.versions)
        metric = self.by_name.get(name)
        if metric is None or metric.kind != kind:
            return False
        return kind != "labeled_counter" or label in metric.labels

    def to_json(self) -> str:
        return json.dumps({"versions": list(self.versions), "crash_kinds": list(self.crash_kinds),
                           "metrics": [{k: list(v) if isinstance(v, tuple) else v
                                        for k, v in asdict(m).items()} for m in self.metrics]},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Declaration:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(tuple(Metric(**{**m, "labels": tuple(m["labels"])}) for m in data["metrics"]),
                   tuple(data["versions"]), tuple(data["crash_kinds"]))

    def rows(self) -> list[tuple[str, str, str]]:
        """(kind, name, label) of everything declared, for the engine's join:
        ('counter', name, ''), ('labeled_counter', name, label), ('timing', name, ''),
        ('crash', kind, ''), ('version', 'major.minor', '')."""
        rows = []
        for m in self.metrics:
            rows += [(m.kind, m.name, label) for label in (m.labels or ("",))]
        rows += [("crash", kind, "") for kind in self.crash_kinds]
        rows += [("version", version, "") for version in self.versions]
        return rows


def parse(text: str, source: str = "metrics file") -> Declaration:
    """A metrics file's text -> Declaration, or DeclarationError with one clear line."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))  # a BOM, as some editors save one
    except tomllib.TOMLDecodeError as error:
        raise DeclarationError(f"{source}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise DeclarationError(f"{source}: not valid TOML: nested too deeply") from None
    unknown = set(data) - {"versions", "crash_kinds", "metrics"}
    if unknown:
        raise DeclarationError(f"{source}: unknown key {sorted(unknown)[0]!r} "
                               "(expected versions, crash_kinds, metrics)")
    versions = _strings(data.get("versions", []), f"{source}: versions", _VERSION,
                        "a major.minor version such as 1.2")
    crash_kinds = _strings(data.get("crash_kinds", []), f"{source}: crash_kinds", _EXCEPTION,
                           "a dotted exception type name such as ValueError")
    entries = data.get("metrics", {})
    if not isinstance(entries, dict):
        raise DeclarationError(f"{source}: metrics must be a table of [metrics.\"name\"] entries")
    if len(entries) > MAX_METRICS:
        raise DeclarationError(f"{source}: at most {MAX_METRICS} metrics")
    return Declaration(tuple(_metric(name, entry, source) for name, entry in sorted(entries.items())),
                       versions, crash_kinds)


def _metric(name: str, entry, source: str) -> Metric:
    where = f"{source}: metrics.{name!r}"
    if not (_NAME.match(name) and len(name) <= MAX_NAME_LENGTH):
        raise DeclarationError(f"{where}: a name is lower-case dotted snake case, at most "
                               f"{MAX_NAME_LENGTH} characters (e.g. io.read_csv)")
    if not isinstance(entry, dict):
        raise DeclarationError(f"{where}: must be a table with kind and description")
    unknown = set(entry) - {"kind", "description", "unit", "labels"}
    if unknown:
        raise DeclarationError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise DeclarationError(f"{where}: kind must be one of {', '.join(KINDS)}")
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip() \
            or len(description) > MAX_DESCRIPTION:
        raise DeclarationError(f"{where}: needs a description (1-{MAX_DESCRIPTION} characters)")
    unit = entry.get("unit", "")
    if not isinstance(unit, str) or len(unit) > 32:
        raise DeclarationError(f"{where}: unit must be a short string")
    for key, text, lines in (("description", description, True), ("unit", unit, False)):
        refused = refusal(f"the {key}", text, lines=lines)
        if refused:
            raise DeclarationError(f"{where}: {refused}")
    labels = ()
    if kind == "labeled_counter":
        labels = _strings(entry.get("labels"), f"{where}: labels", _LABEL,
                          f"a lower-case label of at most {MAX_LABEL_LENGTH} characters")
        if not labels or len(labels) > MAX_LABELS_PER_METRIC:
            raise DeclarationError(f"{where}: a labeled_counter lists 1-{MAX_LABELS_PER_METRIC} "
                                   "labels")
    elif "labels" in entry:
        raise DeclarationError(f"{where}: only a labeled_counter has labels")
    return Metric(name, kind, description.strip(), unit, labels)


def _strings(values, where: str, pattern: re.Pattern, what: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DeclarationError(f"{where}: must be a list of strings")
    for value in values:
        if not pattern.match(value) or len(value) > MAX_LABEL_LENGTH:
            raise DeclarationError(f"{where}: {value!r} is not {what}")
    if len(set(values)) != len(values):
        raise DeclarationError(f"{where}: listed twice: "
                               f"{next(v for v in values if values.count(v) > 1)!r}")
    return tuple(values)
