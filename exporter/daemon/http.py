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
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.daemon.exposition import LiveMetrics, body
from exporter.daemon.landing import render_landing
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
    """Counters of the server's refusals and failures, exported with the live metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(_STATS_HELP, 0)

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


_STATS_HELP = {
    "accept_errors": "Failed accept() calls for lack of file descriptors or memory; "
    "each is followed by a pause of 5 ms doubling to 1 s.",
}


class HttpStatsCollector(Collector):
    def __init__(self, stats: HttpStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        for name, value in self.stats.counts.items():
            yield CounterMetricFamily(
                f"aws_iam_exporter_http_{name}", _STATS_HELP[name], value=value
            )


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
    handshake_timeout = 10.0

    def __init__(self, address: tuple[str, int], app: WebApp, max_connections: int = 512) -> None:
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.app = app
        # One thread per connection: without a cap, a flood of slow clients would
        # grow threads without bound (Prometheus caps at --web.max-connections too).
        self._slots = threading.BoundedSemaphore(max_connections)
        self.stats = HttpStats()
        app.live.registry.register(HttpStatsCollector(self.stats))
        self._accept_delay = 0.0
        self._accept_failed = RateLimitedLog("accept failed")
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
        if not self._slots.acquire(blocking=False):
            log.warning(
                "connection refused: --web.max-connections reached",
                extra={"client": client_address[0]},
            )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self._serve_connection(request, client_address)
        finally:
            self._slots.release()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a slow
        # or hostile client cannot stall the accept loop.
        context = self.app.ssl_context() if self.app.ssl_context else None
        if context is not None:
            try:
                request.settimeout(self.handshake_timeout)
                request = context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as err:
                log.debug(
                    "TLS handshake failed", extra={"client": client_address[0], "error": str(err)}
                )
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error", exc_info=True)


class ServerThread:
    """Runs an ``ExporterHTTPServer`` in a background thread."""

    def __init__(self, address: tuple[str, int], app: WebApp, max_connections: int = 512) -> None:
        self.server = ExporterHTTPServer(address, app, max_connections)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="http"
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"iam-credential-exporter/{__version__}"
    timeout = 30  # seconds a client may take to send its request
    # Headers and body go out in two writes; with Nagle on, a kept-alive scrape
    # waits for the client's delayed ACK (~40 ms) before the body leaves.
    disable_nagle_algorithm = True

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
                page = render_landing(app.snapshot(), app.telemetry_path, app.now())
                self._send(200, page, "text/html; charset=utf-8")
            else:
                self._metrics(app)
        else:
            self._send(404, b"not found\n")

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
        self._send(200, out.content, out.content_type, extra)

    def _send(
        self,
        status: int,
        content: bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in extra:
            self.send_header(name, value)
        provider = self.server.app.headers
        if provider is not None:
            for name, value in provider():
                self.send_header(name, value)
        self.end_headers()
        if not getattr(self, "_head", False):
            self.wfile.write(content)

    def parse_request(self) -> bool:
        self._unread = False
        if not super().parse_request():
            return False
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            # HTTP/0.9 answers carry no headers (no Content-Type, no security headers).
            self.send_error(505, "only HTTP/1.0 and HTTP/1.1 are served")
            return False
        return self._skip_body()

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
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # HTTP/0.9 has no status line; we want a 4xx seen
        text = f"{code} {message or self.responses.get(code, ('error',))[0]}\n"
        self._send(code, text.encode("utf-8", "replace"))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)
