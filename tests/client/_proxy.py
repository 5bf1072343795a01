"""A real forward proxy on loopback: CONNECT tunnels for HTTPS, absolute-form
requests for plain HTTP; it records what it was asked."""

from __future__ import annotations

import socket
import threading


class Proxy:
    def __init__(self) -> None:
        self.requests: list[dict] = []  # {"method", "target", "authorization"}
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._closed = False
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        upstream = None
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.requests.append(
                {
                    "method": method,
                    "target": target,
                    "authorization": headers.get("proxy-authorization"),
                }
            )
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            else:
                # http://host:port/path -> origin form to the server
                without_scheme = target.split("://", 1)[1]
                authority, slash, path = without_scheme.partition("/")
                host, _, port = authority.rpartition(":")
                upstream = socket.create_connection((host, int(port or 80)), timeout=10)
                kept = [
                    line
                    for line in lines[1:]
                    if not line.lower().startswith("proxy-authorization:")
                ]
                request = "\r\n".join([f"{method} /{path} {version}", *kept]) + "\r\n\r\n"
                upstream.sendall(request.encode("latin-1") + rest)
            self._pipe(client, upstream)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        def copy(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        other = threading.Thread(target=copy, args=(b, a), daemon=True)
        other.start()
        copy(a, b)
        other.join(10)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
