"""Identifier-shaped strings never become names, labels or versions; odd input is a ProtocolError.

Properties over generated UUIDs, addresses, e-mail addresses, host names and paths:
wherever one is put (a metric name, a label, the project version, a dropped reason),
the validator refuses the ping with invalid_field naming that field.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sempervirens.protocol import MAX_CPU_COUNT, ProtocolError, identifier_in, validate_ping

from sempervirens.protocol._identifiers import public_suffix_list

CLIENT = str(uuid.uuid4())
public_suffix_list()  # loaded once, before hypothesis times the examples
dns_labels = st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,10}[a-z0-9])?", fullmatch=True)
host_suffixes = st.sampled_from(["com", "org", "net", "edu", "gov", "local", "lan", "internal",
                                 "ac.uk", "co.jp", "ac.jp", "de", "fr", "ch", "edu.au"])
host_names = st.builds(lambda parts, suffix: ".".join([*parts, suffix]),
                       st.lists(dns_labels, min_size=1, max_size=3), host_suffixes).filter(
    lambda name: len(name.split(".")) >= 3 or name.rsplit(".", 1)[1] in {
        "com", "org", "net", "edu", "gov", "local", "lan", "internal"})
uuids = st.uuids().map(str)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
emails = st.builds(lambda user, host: f"{user}@{host}", st.from_regex(r"[a-z0-9._+\-]{1,12}", fullmatch=True),
                   host_names)
paths = st.one_of(
    st.from_regex(r"/[a-z]{1,8}(/[a-z._]{1,8}){0,3}", fullmatch=True),
    st.from_regex(r"~[a-z]{0,8}(/[a-z]{1,8}){0,2}", fullmatch=True),
    st.from_regex(r"[A-Za-z]:\\[A-Za-z]{1,8}(\\[A-Za-z]{1,8}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}/[a-z]{1,8}", fullmatch=True),
)
identifiers = st.one_of(uuids, ipv4, ipv6, emails, host_names, paths)
# Identifiers that fit the metric-name syntax (lower case, dots, dashes, underscores).
name_shaped = st.one_of(uuids, ipv4.map(lambda ip: f"net.{ip}"), host_names)


def refused(body: dict, ping_type: str = "usage") -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        validate_ping(ping_type, {"client_id": CLIENT, "project_version": "1.0", **body})
    assert caught.value.code == "invalid_field", caught.value
    return caught.value


@settings(max_examples=150)
@given(value=identifiers)
def test_identifiers_are_refused_as_labels(value):
    error = refused({"metrics": {"labeled_counters": {"io.read": {value: 1}}}})
    assert error.field == f"metrics.labeled_counters.io.read.{value}"


@settings(max_examples=150)
@given(value=st.one_of(uuids, ipv4.map(lambda ip: f"1.0+{ip}"), ipv4.map(lambda ip: f"x{ip}"),
                       ipv6, emails, host_names, paths))
def test_identifiers_are_refused_as_project_versions(value):
    assert refused({"project_version": value}).field == "project_version"


@pytest.mark.parametrize("version", ["4.10.0.84", "1.2.3.4", "v1.0.0.0", "2.1.0.1rc1",
                                     "4.10.0.84+cu121", "10.0.0.1.post2"])
def test_a_version_of_four_numbers_is_a_version(version):
    """A project versioned as opencv-python is (4.10.0.84) had every ping refused as
    carrying an IPv4 address; the same four numbers anywhere else still are."""
    ping = validate_ping("usage", {"client_id": CLIENT, "project_version": version})
    assert ping.project_version == version
    assert refused({"project_version": f"{version}-192.168.1.7"}).field == "project_version"
    assert refused({"metrics": {"labeled_counters": {"io.read": {version: 1}}}})


@settings(max_examples=150)
@given(value=name_shaped, kind=st.sampled_from(["counters", "timings"]))
def test_identifiers_are_refused_as_metric_names(value, kind):
    metric = 1 if kind == "counters" else {"count": 0, "sum_us": 0, "buckets": {}}
    assert refused({"metrics": {kind: {value: metric}}}).field == f"metrics.{kind}.{value}"


@settings(max_examples=100)
@given(value=name_shaped)
def test_identifiers_are_refused_as_labeled_metric_names_and_dropped_reasons(value):
    assert refused({"metrics": {"labeled_counters": {value: {"x": 1}}}}).field == \
        f"metrics.labeled_counters.{value}"
    assert refused({"dropped": {value: 1}}).field == f"dropped.{value}"


@settings(max_examples=100)
@given(value=uuids, where=st.sampled_from(["os", "os_version", "platform_tag"]))
def test_no_string_of_a_ping_carries_a_uuid_but_client_id(value, where):
    assert refused({"environment": {where: f"v{value}"}}).field == f"environment.{where}"
    assert refused({"library": {"name": "x", "version": value}}).field == "library.version"


@settings(max_examples=200)
@given(parts=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}_[a-z0-9]{1,6}", fullmatch=True), min_size=1,
                      max_size=3))
def test_snake_case_metric_names_are_never_host_names(parts):
    name = ".".join(parts)
    assert validate_ping("usage", {"client_id": CLIENT, "project_version": "1.0",
                                   "metrics": {"counters": {name: 1}}}).metrics["counters"] == {name: 1}


@pytest.mark.parametrize("name", ["io.read_csv", "plot.show", "io.save", "core.app", "disk.io", "log.info",
                                  "cast.int", "np.linalg.norm", "torch.nn.functional", "numpy.fft.rfft2"])
def test_ordinary_metric_names_pass(name):
    assert identifier_in(name) is None
    validate_ping("usage", {"client_id": CLIENT, "project_version": "1.26.4", "metrics": {"counters": {name: 1}}})


@pytest.mark.parametrize("label", ["csv", "float64", "std::vector", "1.0~rc1", "numpy@1.2", "x86_64", "C++"])
def test_ordinary_labels_pass(label):
    validate_ping("usage", {"client_id": CLIENT, "project_version": "1.0",
                            "metrics": {"labeled_counters": {"io.read": {label: 1}}}})


@settings(max_examples=100)
@given(other=uuids, before=st.text(max_size=30), after=st.text(max_size=30))
def test_uuids_are_scrubbed_from_tracebacks(other, before, after):
    traceback = f"{before}{other}{after}".replace("\x00", "")
    try:
        ping = validate_ping("crash", {"client_id": CLIENT, "project_version": "1.0",
                                       "crash": {"exception_type": "ValueError", "traceback": traceback}})
    except ProtocolError as error:  # a lone surrogate from st.text
        assert error.field == "crash.traceback"
        return
    assert other not in ping.crash_traceback and other.upper() not in ping.crash_traceback.upper()


def test_nul_in_a_traceback_is_refused():
    with pytest.raises(ProtocolError) as caught:
        validate_ping("crash", {"client_id": CLIENT, "project_version": "1.0",
                                "crash": {"exception_type": "ValueError", "traceback": "a\x00b"}})
    assert caught.value.field == "crash.traceback" and "NUL" in caught.value.message


@pytest.mark.parametrize("key", ["\u00b2", "\u0663", "\uff11", "01", "+1", " 1", "1_0", "201"])
def test_bucket_keys_are_ascii_decimal(key):
    error = refused({"metrics": {"timings": {"solve": {"count": 1, "sum_us": 1, "buckets": {key: 1}}}}})
    assert error.field == f"metrics.timings.solve.buckets.{key}"


@settings(max_examples=300)
@given(moment=st.datetimes(timezones=st.just(timezone.utc)),
       offset=st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_any_timestamp_is_a_ping_or_a_protocol_error(moment, offset):
    zone = timezone(timedelta(minutes=offset))
    try:
        text = moment.replace(tzinfo=zone).isoformat()
    except OverflowError:
        return
    try:
        ping = validate_ping("usage", {"client_id": CLIENT, "project_version": "1.0",
                                       "period": {"start": text, "end": text}})
    except ProtocolError as error:
        assert error.field == "period.start"
    else:
        assert datetime(1970, 1, 1, tzinfo=timezone.utc) <= ping.period_start < datetime(2100, 1, 1,
                                                                                         tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                  "9999-12-31T23:59:59.999999+00:00", "1969-12-31T23:59:59Z"])
def test_timestamps_at_the_limits_of_the_date_range(text):
    assert refused({"period": {"start": text, "end": text}}).field == "period.start"


@pytest.mark.parametrize("text, utc", [
    ("2026-11-29t10:00:00z", "2026-11-29T10:00:00+00:00"),  # RFC 3339 allows lower case
    ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999+00:00"),  # a leap second
    ("2017-01-01T00:59:60.25+01:00", "2016-12-31T23:59:59.999999+00:00"),
])
def test_every_rfc_3339_form_is_accepted(text, utc):
    ping = validate_ping("usage", {"client_id": CLIENT, "project_version": "1.0",
                                   "period": {"start": text, "end": text}})
    assert ping.period_start.isoformat() == utc


@pytest.mark.parametrize("text", ["2026-11-29T10:00:61Z", "2026-11-29T10:60:00Z",
                                  "2026-11-29T10:00:60", "2026-11-29T10:00:00", "2026-11-29"])
def test_what_rfc_3339_does_not_allow_is_refused(text):
    assert refused({"period": {"start": text, "end": text}}).field == "period.start"


def test_cpu_count_fits_a_32_bit_column():
    assert refused({"environment": {"cpu_count": MAX_CPU_COUNT + 1}}).field == "environment.cpu_count"
    validate_ping("usage", {"client_id": CLIENT, "project_version": "1",
                            "environment": {"cpu_count": MAX_CPU_COUNT}})
