"""The serving shim's gunicorn worker: gunicorn's threaded worker (gthread), where a connection gets
a thread only once its whole request head is in, and gunicorn's own rejections (400, 414, 431, …)
are answered in our JSON error shape.

Why not a stock worker (issue 14; tests/python/test_serving_http.py's slow clients, gunicorn 27):
- sync: a connection holds the whole process while it reads the request, so a few clients that
  send their headers slowly stop the server until `timeout` kills the workers;
- gthread: a new connection holds a thread up to 5 s waiting for its first byte (20 idle
  connections delayed a normal request by 4 s); after that a thread reads the head with blocking
  reads and no deadline, so a client sending a byte every few seconds holds its thread for as
  long as it likes, and as many such clients as threads stop the server; and closing a connection
  waits up to 2 s for the client's FIN in the worker's event loop (util.close_graceful), which
  serves nothing meanwhile (20 clients that never read their answer delayed one by 7 s).

Here the event loop reads what a connection has sent, without blocking, until the head (request
line and headers) is complete, then hands it to a thread with the head already buffered: the
thread parses it and answers without waiting on the client. A head must be complete within
`keepalive` seconds of the connection's opening (or of its first byte after a kept-alive
response) and fit gunicorn's limit_request_* (else 414 or 431); otherwise the connection is
closed. A request that carries a body (no route takes one) is answered and closed, not drained in
a thread. A closing connection lingers in the event loop like any other waiting connection.

Left to the network: a flood of connections (beyond worker_connections per worker, each cheap
but open up to `keepalive` seconds) needs a firewall or proxy in front. A client that never reads
could hold a thread on a response larger than the kernel's buffers; ours are tens of KB.

This overrides some of gthread's internal methods, which is why gunicorn is pinned exactly; the
tests drive every path here against a real server.
"""

from __future__ import annotations

import errno
import selectors
import socket
import ssl
import time
from collections import deque
from functools import partial
from http import HTTPStatus

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.body import LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

from serving import errors
from serving import metrics as serving_metrics
from tunesday import logs

HEAD_END = b"\r\n\r\n"
READ_BYTES = 65536
#: A closing connection waits this long at most for the client's FIN, reading this much at most.
LINGER_SECONDS = 2.0
LINGER_BYTES = 65536

#: gunicorn's reasons to reject a request, most specific first: status, code, message.
REJECTIONS = (
    (
        (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName, http_errors.ConfigurationProblem),
        500,
        "internal",
        "internal error",
    ),
    (http_errors.LimitRequestLine, 414, "uri_too_long", "the request line is too long"),
    (http_errors.LimitRequestHeaders, 431, "headers_too_large", "the request headers are too many or too large"),
    (http_errors.UnsupportedTransferCoding, 501, "not_implemented", "unsupported transfer coding"),
    (http_errors.ExpectationFailed, 417, "expectation_failed", "unsupported Expect header"),
    (http_errors.ForbiddenProxyRequest, 403, "forbidden", "request forbidden"),
    ((http_errors.ParseException, ssl.SSLError), 400, "bad_request", "malformed HTTP request"),
)


def rejection(error: BaseException) -> tuple[int, str, str]:
    for kinds, status, code, message in REJECTIONS:
        if isinstance(error, kinds):
            return status, code, message
    return 500, "internal", "internal error"


def error_response(status: int, code: str, message: str) -> bytes:
    content = errors.body(code, message)
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    ).encode() + content


def _read_now(sock) -> bytes | None:
    """What a non-blocking socket holds: None when nothing yet, b"" when the client closed (or reset)."""
    try:
        return sock.recv(READ_BYTES)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


class _Conn(TConn):
    """A connection with the head read so far; a graceful close lingers in the worker's loop."""

    def __init__(self, worker: ServingWorker, sock, client, server) -> None:
        super().__init__(worker.cfg, sock, client, server)
        self.worker = worker
        self.head = bytearray()
        self.drained = 0

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger(self)
        else:
            super().close()


class ServingWorker(ThreadWorker):
    def init_process(self) -> None:
        cfg = self.cfg
        self.lingering: deque[_Conn] = deque()
        self.line_limit = cfg.limit_request_line or 8190
        self.head_limit = (
            self.line_limit + 2 + cfg.limit_request_fields * ((cfg.limit_request_field_size or 8190) + 2) + 2
        )
        super().init_process()

    # A connection waits in the event loop (gthread's pending_conns, closed past their timeout)
    # until its head is complete.

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        self.wait_for_head(_Conn(self, sock, client, listener.getsockname()))

    def on_client_socket_readable(self, conn: _Conn, client) -> None:
        """A kept-alive connection's next request has begun."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.wait_for_head(conn)

    def enqueue_req(self, conn: _Conn) -> None:
        """gthread's own call: a response announced keep-alive and bytes of the next request were
        read ahead with it."""
        if conn.parser is not None:
            conn.head += conn.parser.unreader.take_buffered()
        self.wait_for_head(conn)

    def wait_for_head(self, conn: _Conn) -> None:
        if HEAD_END in conn.head:
            self._dispatch(conn)
            return
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def on_pending_socket_readable(self, conn: _Conn, client) -> None:
        data = _read_now(client)
        if data is None:
            return
        searched = max(len(conn.head) - len(HEAD_END) + 1, 0)
        conn.head += data
        complete = conn.head.find(HEAD_END, searched) >= 0
        if data and not complete and len(conn.head) <= self.head_limit:
            return
        self.poller.unregister(client)
        self.pending_conns.remove(conn)
        if complete or (not data and conn.head):
            self._dispatch(conn)  # a whole head, or all the client will send: the parser judges it
        elif data:
            line_too_long = b"\r\n" not in conn.head[: self.line_limit + 2]
            self._reject(
                conn, http_errors.LimitRequestLine(0) if line_too_long else http_errors.LimitRequestHeaders("")
            )
        else:
            self.nr_conns -= 1
            conn.close()

    def _dispatch(self, conn: _Conn) -> None:
        conn.init()  # the parser (plain HTTP/1.1: no I/O)
        conn.parser.unreader.unread(bytes(conn.head))
        conn.head = bytearray()
        conn.data_ready = True
        super().enqueue_req(conn)

    def _reject(self, conn: _Conn, error: Exception) -> None:
        status, code, message = rejection(error)
        self._log_rejection(conn.client, error, status)
        try:
            conn.sock.send(error_response(status, code, message))  # non-blocking; a few hundred bytes
        except OSError:
            pass
        self.nr_conns -= 1
        self.linger(conn)

    # A thread's request.

    def handle_request(self, req, conn: _Conn) -> bool:
        """A request with a body is answered and then closed: draining the body for the next
        request would hold this thread at the client's pace."""
        reader = req.body.reader
        if not (isinstance(reader, LengthReader) and reader.length == 0):
            req.must_close = True
        return super().handle_request(req, conn)

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's own answer to a request it could not parse (or a failure outside the app),
        in our JSON shape; the log names the exception's type, never the request line or a header."""
        status, code, message = rejection(exc)
        self._log_rejection(addr, exc, status)
        try:
            util.write_nonblock(client, error_response(status, code, message))
        except Exception:
            self.log.debug("Failed to send error message.")

    def _log_rejection(self, addr, error: BaseException, status: int) -> None:
        """Counted and logged as the route "unparsed": the request's one line, like the app's."""
        serving_metrics.observe("unparsed", status, 0.0)
        if status >= 500:
            logs.event("request", level="error", route="unparsed", status=status, exception=logs.describe(error))
        else:
            logs.event(
                "request",
                level="warning",
                route="unparsed",
                status=status,
                rejected=type(error).__name__,
                client=(addr or ("",))[0],
            )

    # Closing.

    def linger(self, conn: _Conn) -> None:
        """Close once the client has closed too (or LINGER_SECONDS passed), as util.close_graceful
        does, so that unread request bytes do not make the kernel reset the connection before the
        client read our answer; but waiting in the event loop, not blocking it."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            util.close(conn.sock)
            return
        conn.timeout = time.monotonic() + LINGER_SECONDS
        self.lingering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_lingering_readable, conn))

    def _on_lingering_readable(self, conn: _Conn, client) -> None:
        data = _read_now(client)
        if data is None:
            return
        conn.drained += len(data)
        if data and conn.drained < LINGER_BYTES:
            return
        self.poller.unregister(client)
        self.lingering.remove(conn)
        util.close(client)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.lingering and self.lingering[0].timeout <= now:
            conn = self.lingering.popleft()
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass
            util.close(conn.sock)
