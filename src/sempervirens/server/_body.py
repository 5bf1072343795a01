"""Reading a ping body within the protocol's limits, gzip included."""

from __future__ import annotations

import zlib

from starlette.requests import ClientDisconnect

from ..protocol import MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES
from ..protocol.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

# The request headers ingestion reads; picked from the raw list in one pass
# (this runs for every ping).
_WANTED = frozenset((b"content-type", b"content-encoding", b"content-length"))


def ping_headers(scope: dict) -> dict[bytes, bytes]:
    return {name: value for name, value in scope["headers"] if name in _WANTED}


async def read_body(receive, headers: dict[bytes, bytes]) -> bytes:
    media_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if media_type != b"application/json":
        raise UnsupportedMediaType("Content-Type must be application/json", field="Content-Type")
    encoding = headers.get(b"content-encoding", b"identity").strip().lower()
    if encoding not in (b"identity", b"gzip"):
        raise UnsupportedMediaType("Content-Encoding must be gzip or absent", field="Content-Encoding")

    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is over {MAX_BODY_BYTES} bytes")
    # The ASGI messages straight from receive (what request.stream() does, without
    # an async generator per request): a ping usually arrives in one message.
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the client went away
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY_BYTES:  # a lying or missing Content-Length
                raise PayloadTooLarge(f"body is over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return _gunzip(body) if encoding == b"gzip" else body


def _gunzip(data: bytes) -> bytes:
    # max_length stops a decompression bomb after MAX_DECOMPRESSED_BYTES + 1
    # bytes of output, so memory stays bounded whatever the ratio.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as error:
        raise BadRequest(f"body is not valid gzip: {error}", code="malformed_gzip") from None
    if len(out) > MAX_DECOMPRESSED_BYTES:
        raise PayloadTooLarge(f"decompressed body is over {MAX_DECOMPRESSED_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise BadRequest("gzip body is truncated or has trailing data", code="malformed_gzip")
    return out
