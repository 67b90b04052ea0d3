"""The HTTP side: a threading stdlib server whose handlers only read the current snapshot.

Routes: ``/`` (landing page), the telemetry path (default ``/metrics``),
``/-/healthy`` and ``/-/ready``. Other paths get 404, other methods 405, and a
bug gets a plain 500, never a traceback.

Security plugs in through three optional parameters of ``WebApp``, all called
per request or connection so that a reloaded configuration applies at once:
``auth(path, headers) -> bool`` guards ``/`` and the telemetry path (health
endpoints stay open); ``headers()`` yields extra response headers for every
response; ``ssl_context()`` returns the TLS context for each new connection,
or None for plain HTTP.

Hostile or broken clients are bounded (``Limits``; docs/security.md lists each
limit with its default). A connection has one deadline for its TLS handshake and
request head (``--web.read-header-timeout``), however slowly the bytes trickle in;
a kept-alive one waits at most ``idle_timeout`` for its next request, and each
answer must be written within ``write_timeout``. At most ``--web.max-connections``
connections are open, each with its thread. When a new one would pass the cap, the
oldest connection that is not answering a request (idle, or still sending its
head) is closed to make room, so clients that never finish a request cannot lock
out the scrapes and probes that do; only when every connection is busy answering
is the new one answered ``503`` with ``Retry-After``. Refusals are counted and
logged at a bounded rate.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.daemon.landing import render_landing
from exporter.daemon.scrape import Buffer, LiveMetrics, body
from exporter.daemon.snapshot import Snapshot

log = logging.getLogger("exporter.http")

Authenticator = Callable[[str, Message], bool]
HeadersProvider = Callable[[], Iterable[tuple[str, str]]]
SSLContextProvider = Callable[[], "ssl.SSLContext | None"]

HEALTH_PATHS = ("/-/healthy", "/-/ready")
# No route takes a body. One up to this size is read and dropped so the connection
# stays usable; a larger or chunked one is left unread and the connection closed.
MAX_DISCARDED_BODY_BYTES = 64 << 10
# Closing a socket with unread input sends a reset, which can destroy the answer
# before the client reads it: wait this long for the client to finish sending.
LINGER_SECONDS = 0.5
_LENGTH = re.compile(r"^[0-9]{1,18}$")
# accept() fails like this when the process or system runs out of descriptors or
# memory; the pending connection stays queued, so retrying at once would spin.
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# The backoff between such failures, as Go's net/http: 5 ms doubling up to 1 s.
ACCEPT_BACKOFF_FIRST = 0.005
ACCEPT_BACKOFF_MAX = 1.0
LOG_EVERY_SECONDS = 10.0


class RateLimitedLog:
    """A warning repeated at most once per ``every`` seconds, saying how many it stands
    for: an attack or a shortage that repeats per connection must not flood the log."""

    def __init__(self, message: str, every: float = LOG_EVERY_SECONDS) -> None:
        self.message = message
        self.every = every
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._count = 0

    def __call__(self, detail: str = "", **extra: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self._count += 1
            if now - self._last < self.every:
                return
            count, self._count, self._last = self._count, 0, now
        text = self.message + (f": {detail}" if detail else "")
        if count > 1:
            text += f" ({count} times since the last such line)"
        log.warning(text, extra=extra)


class HttpStats:
    """Counters of the server's refusals and failures, exported with the live metrics;
    ``on_change`` is called after each count (the live metrics' cache is dropped then,
    so a scrape never reports a refusal late)."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(_STATS_HELP, 0)
        self._on_change = on_change

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1
        self._on_change()


_STATS_HELP = {
    "accept_errors": "Failed accept() calls for lack of file descriptors or memory; "
    "each is followed by a pause of 5 ms doubling to 1 s.",
    "connections_rejected": "Connections answered 503 because every one of the "
    "--web.max-connections connections was answering a request.",
    "connections_evicted": "Connections closed to make room for a new one at "
    "--web.max-connections: the oldest that was idle or had not finished its request.",
    "request_timeouts": "Connections closed because their TLS handshake and request head "
    "(and small body) took longer than --web.read-header-timeout.",
    "response_timeouts": "Connections closed because an answer could not be written "
    "within the write timeout (a client not reading).",
}


class HttpStatsCollector(Collector):
    def __init__(self, stats: HttpStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        for name, value in self.stats.counts.items():
            yield CounterMetricFamily(
                f"aws_iam_exporter_http_{name}", _STATS_HELP[name], value=value
            )


@dataclass(frozen=True)
class Limits:
    """How long and how many; the defaults are the flags' (docs/security.md)."""

    max_connections: int = 512
    read_header_timeout: float = 5.0  # TLS handshake + request line + headers (+ body)
    # A kept-alive connection's wait for its next request: longer than the usual
    # scrape intervals (up to a minute), so Prometheus keeps its connection.
    idle_timeout: float = 120.0
    write_timeout: float = 60.0  # one whole answer, however slowly the client reads


HEAD, IDLE, BUSY = "head", "idle", "busy"


class _Connection:
    """One open connection: its socket (TLS once the handshake is done) and its phase:
    HEAD (handshake or request head not complete), IDLE (between requests) or BUSY
    (answering). Changed under ``_Connections._lock`` only."""

    __slots__ = ("deadline", "evicted", "since", "sock", "state")

    def __init__(self, sock: socket.socket, now: float, deadline: float) -> None:
        self.sock = sock
        self.state = HEAD
        self.since = now
        self.deadline = deadline  # of the handshake and first request head
        self.evicted = False


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown: on an SSLSocket it would also drop the TLS
    # object under the thread still reading it. Wakes a thread blocked in recv.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Connections:
    """The open connections, at most ``cap`` of them; thread-safe."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()

    def admit(self, sock: socket.socket, timeout: float) -> tuple[_Connection | None, bool]:
        """The new connection's entry, or None if every open one is busy answering;
        and whether an idle or unfinished one was closed to make room for it."""
        now = time.monotonic()
        with self._lock:
            evicted = False
            if len(self._open) >= self.cap:
                victim = min(
                    (c for c in self._open if c.state != BUSY),
                    key=lambda c: c.since,
                    default=None,
                )
                if victim is None:
                    return None, False
                # Its thread sees end of file at once and ends; the slot is free now.
                self._open.discard(victim)
                victim.evicted = True
                _shut(victim.sock)
                evicted = True
            conn = _Connection(sock, now, now + timeout)
            self._open.add(conn)
            return conn, evicted

    def enter(self, conn: _Connection, state: str) -> None:
        with self._lock:
            conn.state = state
            conn.since = time.monotonic()

    def wrapped(self, conn: _Connection, sock: socket.socket) -> None:
        """Record the TLS socket (shut at once if the connection was evicted meanwhile)."""
        with self._lock:
            conn.sock = sock
            if conn.evicted:
                _shut(sock)

    def release(self, conn: _Connection) -> None:
        with self._lock:
            self._open.discard(conn)

    def shut_all(self) -> None:
        with self._lock:
            for conn in self._open:
                _shut(conn.sock)


class _Deadline:
    """A point in time (monotonic) by which a phase's reads or writes must be done."""

    __slots__ = ("at", "what")

    def __init__(self) -> None:
        self.at = float("inf")
        self.what = "request"

    def set(self, seconds: float, what: str) -> None:
        self.at = time.monotonic() + seconds
        self.what = what

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise _DeadlineError(self.what)
        return left


class _DeadlineError(TimeoutError):
    """A phase's deadline passed (``args[0]``: "request", "idle" or "response")."""


class _Reader(io.RawIOBase):
    """The socket's input with one deadline across all its reads: a per-recv timeout
    would let a client sending a byte now and then hold the connection forever."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.sock.settimeout(self.deadline.left())
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            raise _DeadlineError(self.deadline.what) from None


class _Writer(io.BufferedIOBase):
    """The socket's output with one deadline for the whole answer."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            self.sock.settimeout(self.deadline.left())
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                raise _DeadlineError(self.deadline.what) from None
            view = view[sent:]
        return total


_TIMEVAL = struct.Struct("@ll")  # struct timeval: seconds, microseconds


def send_buffers(sock: socket.socket, buffers: Sequence[Buffer], deadline: _Deadline) -> None:
    """Send ``buffers`` in order, within ``deadline``, with as few system calls as the
    kernel allows: one ``sendmsg`` of them all on a blocking socket, which sends the
    whole answer unless interrupted, without copying them into one. A Python socket
    timeout would make each send a poll plus a partial non-blocking send instead, so
    the deadline is the kernel's send timeout (``SO_SNDTIMEO``), renewed per call.
    Plain sockets only: an ``SSLSocket`` has no ``sendmsg``."""
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    sock.settimeout(None)
    while views:
        seconds, micros = divmod(max(round(deadline.left() * 1e6), 1), 1_000_000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL.pack(seconds, micros))
        try:
            sent = sock.sendmsg(views)
        except BlockingIOError:  # the send timeout passed before any byte went out
            raise _DeadlineError(deadline.what) from None
        while sent:
            if sent < len(views[0]):
                views[0] = views[0][sent:]
                break
            sent -= len(views.pop(0))


_REFUSAL_BODY = b"too many connections: try again shortly\n"
# Refused sockets kept half-closed while the client's request drains (LINGER_SECONDS).
MAX_LINGERING_REFUSALS = 64


@dataclass
class WebApp:
    """What the handlers need; everything in it is safe to read from many threads."""

    snapshot: Callable[[], Snapshot | None]
    telemetry_path: str = "/metrics"
    live: LiveMetrics = field(default_factory=LiveMetrics)
    auth: Authenticator | None = None
    headers: HeadersProvider | None = None
    ssl_context: SSLContextProvider | None = None
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The stdlib default backlog of 5 drops SYNs when many scrapers connect at once,
    # and each dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WebApp, limits: Limits = Limits()) -> None:
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.app = app
        self.limits = limits
        # One thread per connection: without a cap, a flood of slow clients would
        # grow threads without bound (Prometheus caps at --web.max-connections too).
        self.connections = _Connections(self.limits.max_connections)
        self.stats = HttpStats(on_change=app.live.invalidate)
        app.live.registry.register(HttpStatsCollector(self.stats))
        app.live.invalidate()
        self._accept_delay = 0.0
        self._accept_failed = RateLimitedLog("accept failed")
        self._rejected = RateLimitedLog(
            "connection answered 503: all --web.max-connections connections are answering"
        )
        self._evicted = RateLimitedLog(
            "--web.max-connections reached: closed the oldest idle or unfinished connection "
            "to make room (slow or idle clients)"
        )
        self._lingering: list[tuple[float, socket.socket]] = []
        super().__init__((host or "0.0.0.0", address[1]), Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            request, client = self.socket.accept()
        except OSError as err:
            if err.errno in _RESOURCE_ERRORS:
                self._back_off(err)
            raise  # socketserver drops this round and polls again
        self._accept_delay = 0.0
        return request, client

    def _back_off(self, err: OSError) -> None:
        delay = min(max(self._accept_delay * 2, ACCEPT_BACKOFF_FIRST), ACCEPT_BACKOFF_MAX)
        self._accept_delay = delay
        self.stats.add("accept_errors")
        self._accept_failed(f"{err.strerror}; retrying in {delay * 1000:g} ms")
        time.sleep(delay)  # in the accept thread only; a stop waits at most this long

    def process_request(self, request: Any, client_address: Any) -> None:
        conn, evicted = self.connections.admit(request, self.limits.read_header_timeout)
        if evicted:
            self.stats.add("connections_evicted")
            self._evicted()
        if conn is None:
            self.stats.add("connections_rejected")
            self._rejected(client=client_address[0])
            self._refuse(request)
            return
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address, conn),
            name="http-connection",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            self.connections.release(conn)
            self.shutdown_request(request)
            raise

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 from the accept thread without blocking, then let the socket
        linger half-closed (``service_actions`` closes it) so no reset eats the answer."""
        if self.app.ssl_context is not None and self.app.ssl_context() is not None:
            self.shutdown_request(request)  # a 503 would need a TLS handshake first
            return
        headers = [
            "HTTP/1.1 503 Service Unavailable",
            "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {len(_REFUSAL_BODY)}",
            "Retry-After: 1",
            "Connection: close",
        ]
        if self.app.headers is not None:
            headers += [f"{name}: {value}" for name, value in self.app.headers()]
        answer = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + _REFUSAL_BODY
        try:
            request.setblocking(False)
            request.send(answer)
            request.shutdown(socket.SHUT_WR)
        except OSError:
            self.close_request(request)
            return
        if len(self._lingering) >= MAX_LINGERING_REFUSALS:
            self.close_request(self._lingering.pop(0)[1])
        self._lingering.append((time.monotonic() + LINGER_SECONDS, request))

    def service_actions(self) -> None:
        """Runs in the accept loop at least every poll interval: drop what refused
        clients sent, close them at end of input or after the linger time."""
        now = time.monotonic()
        keep = []
        for until, sock in self._lingering:
            try:
                while chunk := sock.recv(65536):
                    del chunk
                done = True  # end of input
            except BlockingIOError:
                done = until <= now
            except OSError:
                done = True
            if done:
                self.close_request(sock)
            else:
                keep.append((until, sock))
        self._lingering = keep

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def _serve_connection(self, request: Any, client_address: Any, conn: _Connection) -> None:
        sock = request
        try:
            context = self.app.ssl_context() if self.app.ssl_context else None
            if context is not None:
                sock = self._handshake(request, context, client_address, conn)
            if sock is not None and not conn.evicted:
                Handler(sock, client_address, self, conn)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            self.connections.release(conn)
            if sock is not None:
                self.shutdown_request(sock)

    def _handshake(
        self, request: Any, context: ssl.SSLContext, client_address: Any, conn: _Connection
    ) -> Any:
        """The TLS socket, or None if the handshake failed (the socket is closed then).
        It runs here, in the connection's own thread, so a slow or hostile client
        cannot stall the accept loop; it counts against the request head's deadline."""
        try:
            request.settimeout(max(conn.deadline - time.monotonic(), 0.001))
            # CPython bounds the whole handshake by this timeout, not each read.
            tls = context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            if isinstance(err, TimeoutError):
                self.stats.add("request_timeouts")
            log.debug(
                "TLS handshake failed", extra={"client": client_address[0], "error": str(err)}
            )
            self.shutdown_request(request)
            return None
        self.connections.wrapped(conn, tls)
        return tls

    def server_close(self) -> None:
        super().server_close()
        self.connections.shut_all()  # wakes every connection's thread: they end now
        for _, sock in self._lingering:
            self.close_request(sock)
        self._lingering = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error", exc_info=True)


class ServerThread:
    """Runs an ``ExporterHTTPServer`` in a background thread, and keeps its live
    metrics rendered in another (``LiveMetrics.refresh``)."""

    def __init__(self, address: tuple[str, int], app: WebApp, limits: Limits = Limits()) -> None:
        self.server = ExporterHTTPServer(address, app, limits)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="http"
        )
        self._stopping = threading.Event()
        self._live = threading.Thread(target=self._refresh_live, name="live-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._live.start()

    def stop(self) -> None:
        self._stopping.set()
        started = self._thread.ident is not None
        if started:
            # shutdown() waits for serve_forever to return: never, had it not started
            # (a start-up that failed before serving would hang on its way out).
            self.server.shutdown()
        self.server.server_close()
        if started:
            self._thread.join(timeout=5)
        if self._live.is_alive():
            self._live.join(timeout=5)

    def _refresh_live(self) -> None:
        live = self.server.app.live
        while not self._stopping.wait(live.max_age / 2):
            try:
                live.refresh()
            except Exception:  # a failing collector fails the scrape that renders it instead
                log.debug("rendering the live metrics failed", exc_info=True)


class Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"iam-credential-exporter/{__version__}"
    # Over TLS, headers and body go out in several writes; with Nagle on, a kept-alive
    # scrape would wait for the client's delayed ACK (~40 ms) before the body leaves.
    disable_nagle_algorithm = True
    _headers_buffer: list[bytes]  # the stdlib's, filled by send_response and send_header

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: ExporterHTTPServer,
        conn: _Connection | None = None,
    ) -> None:
        if conn is None:  # not admitted by the server (the stdlib's own calling convention)
            now = time.monotonic()
            conn = _Connection(request, now, now + server.limits.read_header_timeout)
        self._conn = conn
        self._served = 0
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        # Instead of StreamRequestHandler's per-operation socket timeout, every read
        # and write goes through a deadline for the phase it is in.
        self.connection = self.request
        if self.disable_nagle_algorithm:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self._deadline = _Deadline()
        self._deadline.at = self._conn.deadline  # set at accept: handshake + first head
        self._input = io.BufferedReader(_Reader(self.connection, self._deadline))
        self.rfile = self._input
        self.wfile = _Writer(self.connection, self._deadline)

    def handle_one_request(self) -> None:
        """The stdlib's, with deadlines: ``idle_timeout`` for the next request to
        start, then ``read_header_timeout`` for its head, then ``write_timeout``."""
        limits = self.server.limits
        try:
            if self._served:
                self.server.connections.enter(self._conn, IDLE)
                self._deadline.set(limits.idle_timeout, "idle")
                if not self._input.peek(1):
                    self.close_connection = True
                    return
                self.server.connections.enter(self._conn, HEAD)
                self._deadline.set(limits.read_header_timeout, "request")
            self._served += 1
            self.raw_requestline = self.rfile.readline(65537)
            if self._conn.evicted or not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.parse_request():
                return
            getattr(self, "do_" + self.command)()
            self.wfile.flush()
        except _DeadlineError as err:
            self._expired(err.args[0])
        except OSError:
            self.close_connection = True  # reset, or shut by an eviction or a stop

    def _expired(self, what: str) -> None:
        # Closed without an answer, as Go's net/http does: the client is too slow to
        # read one anyway, and writing it could block again.
        self.close_connection = True
        if what == "request":
            self.server.stats.add("request_timeouts")
        elif what == "response":
            self.server.stats.add("response_timeouts")
        log.debug("%s deadline passed; closing", what, extra={"client": self.client_address[0]})

    def _answering(self) -> None:
        """The request is read: from now on the connection is busy, not evictable."""
        self.server.connections.enter(self._conn, BUSY)
        self._deadline.set(self.server.limits.write_timeout, "response")

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def __getattr__(self, name: str) -> Any:
        # Every other method (POST, PUT, FOO...) is refused with 405, not 501.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(405, b"method not allowed\n", extra=[("Allow", "GET, HEAD")])

    def _dispatch(self, head: bool) -> None:
        self._head = head
        try:
            self._route(self.path.split("?", 1)[0])
        except _DeadlineError:
            raise
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("error while answering %s %s", self.command, self.path[:200])
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, b"internal error\n")

    def _route(self, path: str) -> None:
        app = self.server.app
        if path == "/-/healthy":
            self._send(200, b"healthy\n")
        elif path == "/-/ready":
            # Once every source has data or a recorded failure; /metrics serves earlier.
            snapshot = app.snapshot()
            ready = snapshot is not None and snapshot.ready
            self._send(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
        elif path in ("/", app.telemetry_path):
            if app.auth is not None and not app.auth(path, self.headers):
                self._send(
                    401, b"unauthorized\n", extra=[("WWW-Authenticate", 'Basic realm="exporter"')]
                )
            elif path == "/":
                self._send(200, self._landing(app), "text/html; charset=utf-8")
            else:
                self._metrics(app)
        else:
            self._send(404, b"not found\n")

    @staticmethod
    def _landing(app: WebApp) -> bytes:
        """The page rendered with the snapshot (never per request); before the first
        snapshot, a short page saying so."""
        snapshot = app.snapshot()
        if snapshot is not None:
            return snapshot.landing
        return render_landing(None, app.telemetry_path, app.now())

    def _metrics(self, app: WebApp) -> None:
        snapshot = app.snapshot()
        if snapshot is None:
            self._send(503, b"no data yet: the first refresh has not finished\n")
            return
        out = body(
            snapshot.exposition,
            app.live,
            self.headers.get("Accept"),
            self.headers.get("Accept-Encoding"),
        )
        extra = [("Vary", "Accept, Accept-Encoding")]
        if out.content_encoding:
            extra.append(("Content-Encoding", out.content_encoding))
        self._send_parts(200, out.parts, out.length, out.content_type, extra)

    def _send(
        self,
        status: int,
        content: bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._send_parts(status, (content,), len(content), content_type, extra)

    def _send_parts(
        self,
        status: int,
        parts: Sequence[Buffer],
        length: int,
        content_type: str,
        extra: Iterable[tuple[str, str]],
    ) -> None:
        """Status line, headers and body (``parts``, ``length`` bytes) in one write."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in extra:
            self.send_header(name, value)
        provider = self.server.app.headers
        if provider is not None:
            for name, value in provider():
                self.send_header(name, value)
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        if getattr(self, "_head", False):
            parts = ()
        if isinstance(self.connection, ssl.SSLSocket):
            for buffer in (head, *parts):
                self.wfile.write(buffer)
        else:
            send_buffers(self.connection, (head, *parts), self._deadline)

    def parse_request(self) -> bool:
        self._unread = False
        if not super().parse_request():
            return False
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            # HTTP/0.9 answers carry no headers (no Content-Type, no security headers).
            self.send_error(505, "only HTTP/1.0 and HTTP/1.1 are served")
            return False
        if not self._skip_body():
            return False
        self._answering()
        return True

    def _skip_body(self) -> bool:
        """Consume the request's body, so that it is never read as the next request."""
        if self.headers.get("Transfer-Encoding") is not None:
            # Chunked bodies are not parsed: answer, then close instead of reading on.
            self._unread = True
            self.close_connection = True
            return True
        values = self.headers.get_all("Content-Length")
        if not values:
            return True
        lengths = {v.strip() for v in ",".join(values).split(",")}
        length = lengths.pop() if len(lengths) == 1 else ""
        if not _LENGTH.match(length):
            self.send_error(400, "invalid Content-Length")
            return False
        left = int(length)
        if left > MAX_DISCARDED_BODY_BYTES:
            self._unread = True
            self.close_connection = True
            return True
        while left:
            chunk = self.rfile.read(min(left, 16384))
            if not chunk:
                self.close_connection = True
                return False
            left -= len(chunk)
        return True

    def finish(self) -> None:
        super().finish()
        if getattr(self, "_unread", False):
            self._linger()

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends, for a moment."""
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            budget = 4 * MAX_DISCARDED_BODY_BYTES
            while budget > 0 and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(min(budget, 65536))
                if not chunk:
                    break
                budget -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Requests the stdlib rejects itself (bad request line, huge headers...): what
        # follows them is unread and unknown.
        self.close_connection = True
        self._unread = True
        self._head = False
        self._answering()
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # HTTP/0.9 has no status line; we want a 4xx seen
        text = f"{code} {message or self.responses.get(code, ('error',))[0]}\n"
        self._send(code, text.encode("utf-8", "replace"))

    def version_string(self) -> str:
        return self.server_version

    # The Date header changes once a second; formatting it costs more than sending a
    # small answer, so it is formatted once per second (shared by all threads).
    _date: tuple[int, str] = (-1, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        date = Handler._date
        if date[0] != second:
            date = Handler._date = (second, super().date_time_string(second))
        return date[1]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if log.isEnabledFor(logging.DEBUG):  # else the line is not even formatted
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)
