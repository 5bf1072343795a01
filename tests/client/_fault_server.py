"""A scripted HTTP server on loopback, only for faults the real server cannot produce
on demand (429/503 with Retry-After, 500) and to look at the request's headers."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultServer:
    def __init__(self, answers: list[tuple[int, dict]], tls_context=None,
                 error_body: bytes | None = None) -> None:
        self.answers = list(answers)  # (status, headers) per request; the last one repeats
        self.error_body = error_body  # what an error answer says, if not ours
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = (
                    gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                )
                owner.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                status, headers = (
                    owner.answers.pop(0) if len(owner.answers) > 1 else owner.answers[0]
                )
                payload = (
                    b"{}"
                    if status < 400
                    else owner.error_body
                    or json.dumps(
                        {"error": {"code": "scripted", "field": "", "message": "scripted fault"}}
                    ).encode()
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
