"""A raw HTTP/1.1 client for tests of the real server: it sends exactly the bytes it is given (a
client library would refuse or repair most of what the HTTP tests send) on a new connection, and
reads the answer to the end."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class Answer:
    status: int            # 0: no answer at all
    headers: dict[str, str]  # names lower-cased
    body: bytes


def exchange(port: int, raw: bytes, timeout: float = 10) -> Answer:
    """Send `raw` and read until the server closes."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before reading all of it: the answer is still there to read
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return parse(bytes(received))


def request(port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None,
            timeout: float = 10) -> Answer:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""), timeout)


def parse(received: bytes) -> Answer:
    head, _, body = received.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return Answer(0, {}, received)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ")[1]), headers, body)
