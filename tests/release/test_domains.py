"""Each statistic's public keys come from the breakdowns and the declaration, never data."""

from __future__ import annotations

from release_helpers import NUMPY, SCIPY

from sempervirens.model.domains import BREAKDOWNS, OTHER, UNKNOWN
from sempervirens.model.statistics import STATISTICS
from sempervirens.release import build_domains
from sempervirens.release.domains import PUBLIC_BUCKETS


def test_declared_metrics_labels_timings_and_crashes_are_the_fixed_keys():
    domains = build_domains(BREAKDOWNS, NUMPY)
    assert set(domains) == {s.name for s in STATISTICS}
    features = domains["feature_users"].fixed
    assert features == (("io.read_csv", ""), ("io.format", "csv"), ("io.format", "parquet"),
                        ("io.format", OTHER))
    assert domains["feature_events"].fixed == features
    timings = domains["timing_users"].fixed
    assert timings == tuple(("linalg.solve", b) for b in PUBLIC_BUCKETS)
    assert PUBLIC_BUCKETS[0] == "1" and PUBLIC_BUCKETS[-1] == str(2 ** 50)  # lower bounds, in µs
    assert set(domains["crash_users"].fixed) == {
        (kind, version) for kind in ("ValueError", OTHER) for version in (OTHER, UNKNOWN)}
    installs = domains["installs"].fixed
    assert installs[0] == ("", "") and ("os", "linux") in installs and ("ci", "true") in installs
    assert ("python", "3.12") in installs and ("arch", OTHER) in installs
    assert domains["opt_outs"].fixed == (("", ""),)


def test_versions_without_a_declaration_need_partition_selection():
    domains = build_domains(BREAKDOWNS, NUMPY)
    installs = domains["installs"]
    assert installs.has_selection and installs.is_open(("version", "2.1"))
    assert not installs.is_open(("version", "2.1.3")) and not installs.is_open(("os", "2.1"))
    assert not installs.is_open(("version", OTHER)) and installs.is_fixed(("version", OTHER))
    assert domains["crash_events"].is_open(("ValueError", "2.1"))
    assert not domains["crash_events"].is_open(("KeyError", "2.1"))  # undeclared kind
    assert not domains["feature_users"].has_selection


def test_declared_versions_are_fixed_and_nothing_is_selected():
    domains = build_domains(BREAKDOWNS, SCIPY)
    assert not any(d.has_selection for d in domains.values())
    versions = {("version", v) for v in ("1.0", "1.1", OTHER, UNKNOWN)}
    assert versions <= set(domains["installs"].fixed)
    assert not domains["installs"].is_open(("version", "1.2"))
    assert domains["feature_users"].fixed == () and domains["timing_users"].fixed == ()
    assert domains["crash_users"].fixed == tuple(
        (OTHER, v) for v in ("1.0", "1.1", OTHER, UNKNOWN))
