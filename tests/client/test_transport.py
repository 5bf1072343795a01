"""The one POST the client makes, against real loopback sockets."""

import socket
import threading
import zlib

import pytest

from sempervirens.client import _transport
from sempervirens.client._transport import BadResponse, split_endpoint


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://telemetry.example.org", ("https", "telemetry.example.org", 443, "")),
        ("http://127.0.0.1:8000/", ("http", "127.0.0.1", 8000, "")),
        ("https://example.org/base/path/", ("https", "example.org", 443, "/base/path")),
        ("http://[::1]:9000/x", ("http", "::1", 9000, "/x")),
        ("HTTPS://user:secret@example.org:8443", ("https", "example.org", 8443, "")),
    ],
)
def test_endpoints(url, expected):
    assert split_endpoint(url) == expected


@pytest.mark.parametrize(
    "url", ["ftp://example.org", "example.org", "http://", "file:///etc/passwd"]
)
def test_bad_endpoints_are_refused(url):
    with pytest.raises(ValueError):
        split_endpoint(url)


def _one_shot_server(answer: bytes):
    """A loopback socket that reads one request, answers `answer` verbatim, and closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    seen = {}

    def serve():
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    line
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ).split(b":")[1]
            )
            while len(body) < length:
                body += conn.recv(65536)
            seen["head"], seen["body"] = head.decode(), body
            conn.sendall(answer)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/prefix", seen, thread


def test_request_is_gzip_json_on_the_submit_path_with_retry_after_read_back():
    url, seen, thread = _one_shot_server(
        b'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 14\r\n\r\n{"error": {}}\r\n'
    )
    answer = _transport.post(
        url, "numpy", "usage", "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162", b'{"a":1}', 5
    )
    thread.join(5)
    assert (
        answer.status == 503 and answer.retry_after == "7" and answer.error.startswith('{"error"')
    )
    assert seen["head"].startswith(
        "POST /prefix/submit/numpy/usage/1/0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162 HTTP/1.1"
    )
    assert (
        "Content-Encoding: gzip" in seen["head"]
        and "Content-Type: application/json" in seen["head"]
    )
    assert zlib.decompress(seen["body"], 31) == b'{"a":1}'


def test_a_server_that_does_not_speak_http_is_a_network_failure():
    url, _, thread = _one_shot_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    with pytest.raises(BadResponse):
        _transport.post(url, "numpy", "usage", "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162", b"{}", 5)
    thread.join(5)


def test_timeout_against_a_blackhole(blackhole):
    with pytest.raises(OSError):  # socket.timeout is an OSError
        _transport.post(
            blackhole, "numpy", "usage", "0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162", b"{}", 0.2
        )
