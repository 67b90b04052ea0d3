"""A fault-injecting HTTP proxy in front of a moto server, switchable at runtime.

Point boto3 (``AWS_ENDPOINT_URL``) at ``proxy.url``; every request goes to moto
unless a fault is set::

    with FaultProxy(moto_endpoint) as proxy:
        proxy.set("throttle")                      # 400 Throttling (IAM's XML error)
        proxy.set("throttle_429")                  # 429 with an HTML page (a gateway)
        proxy.set("server_error")                  # 500 ServiceFailure
        proxy.set("reset")                         # TCP reset after the request
        proxy.set("refuse")                        # nothing listens: connection refused
        proxy.set("slow", delay=5)                 # answer after ``delay`` seconds
        proxy.set("error", code="AccessDenied", status=403)
        proxy.set("in_progress")                   # the report never becomes ready
        proxy.set("rewrite", transform=fn)         # fn(csv bytes) -> bytes in GetCredentialReport
        proxy.set("pass")                          # back to normal

``actions={"GetCredentialReport"}`` limits a fault to some IAM actions; the
others pass through. ``times=N`` injects the fault N times, then passes.
``proxy.seen`` counts the actions that reached the proxy.

``proxy.trickle("222222222222")`` makes one account hang, whatever the fault mode:
every call signed with credentials assumed into it (the proxy reads the access keys
out of the AssumeRole answers) gets its answer one byte per second, so no read
timeout ever trips (``proxy.seen["trickled"]`` counts those calls).
``proxy.trickle(None)`` stops it for new calls.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import struct
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

from tests.support.net import free_port

MODES = ("pass", "throttle", "throttle_429", "server_error", "reset", "refuse", "slow",
         "error", "in_progress", "rewrite")  # fmt: skip
_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
_CONTENT = re.compile(rb"<Content>([^<]*)</Content>")
_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_ACCOUNT = re.compile(rb"<Arn>arn:[a-z-]+:sts::(\d{12}):assumed-role/")
_SIGNED_KEY = re.compile(r"Credential=([^/,\s]+)/")


@dataclass(frozen=True)
class Fault:
    mode: str = "pass"
    actions: frozenset[str] | None = None  # None: every action
    delay: float = 5.0
    code: str = "AccessDenied"
    status: int = 403
    message: str = "injected fault"
    transform: Callable[[bytes], bytes] | None = None
    times: int | None = None  # fault this many matching requests, then pass

    def applies_to(self, action: str) -> bool:
        return self.actions is None or action in self.actions


def error_xml(code: str, message: str, sender: bool = True) -> bytes:
    kind = "Sender" if sender else "Receiver"
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()


def _generate_in_progress() -> bytes:
    return (
        f'<GenerateCredentialReportResponse xmlns="{_NS}"><GenerateCredentialReportResult>'
        "<State>INPROGRESS</State><Description>injected: still generating</Description>"
        "</GenerateCredentialReportResult><ResponseMetadata>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
        "</GenerateCredentialReportResponse>"
    ).encode()


@dataclass
class _Shared:
    upstream: tuple[str, int]
    fault: Fault = field(default_factory=Fault)
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    keys: dict[str, str] = field(default_factory=dict)  # assumed access key -> account
    trickle: str | None = None  # the account whose calls trickle
    trickle_interval: float = 1.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, shared: _Shared) -> None:
        self.shared = shared
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and timed-out clients are the point of this server


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: "refuse" takes effect at once

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        shared = self.server.shared
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = self._action = _action(self.path, body)
        signed = _SIGNED_KEY.search(self.headers.get("Authorization", ""))
        with shared.lock:
            shared.seen[action] += 1
            account = shared.keys.get(signed.group(1)) if signed else None
            if shared.trickle is not None and account == shared.trickle:
                shared.seen["trickled"] += 1
                fault = Fault("trickle")
            else:
                fault = shared.fault
            if fault.applies_to(action) and fault.times is not None:
                shared.fault = replace(fault, times=fault.times - 1)
                if fault.times <= 0:
                    fault = shared.fault = Fault()
        if not fault.applies_to(action) or fault.mode in ("pass", "refuse"):
            self._forward(body)
            return
        if fault.mode == "trickle":
            self._forward(body, interval=shared.trickle_interval)
            return
        self._inject(fault, action, body)

    def _inject(self, fault: Fault, action: str, body: bytes) -> None:
        mode = fault.mode
        if mode == "throttle":
            self._reply(400, error_xml("Throttling", "Rate exceeded"))
        elif mode == "throttle_429":
            # What a gateway in front of AWS sends: an HTML page, no AWS error code.
            self._reply(429, b"<html><body>429 Too Many Requests</body></html>", "text/html")
        elif mode == "server_error":
            self._reply(500, error_xml("ServiceFailure", "injected 500", sender=False))
        elif mode == "error":
            self._reply(fault.status, error_xml(fault.code, fault.message))
        elif mode == "reset":
            # SO_LINGER 0 makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif mode == "slow":
            if not self.server.shared.stopping.wait(fault.delay):
                self._forward(body)
        elif mode == "in_progress":
            if action == "GenerateCredentialReport":
                self._reply(200, _generate_in_progress())
            else:
                self._reply(410, error_xml("ReportInProgress", "injected: not ready"))
        elif mode == "rewrite":
            self._forward(body, fault.transform if action == "GetCredentialReport" else None)

    def _forward(
        self,
        body: bytes,
        transform: Callable[[bytes], bytes] | None = None,
        interval: float | None = None,
    ) -> None:
        host, port = self.server.shared.upstream
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            status, content_type = resp.status, resp.getheader("Content-Type", "text/xml")
        finally:
            conn.close()
        if transform is not None and status == 200:
            payload = _rewrite_content(payload, transform)
        if self._action == "AssumeRole" and status == 200:
            self._learn_key(payload)
        if interval is not None:
            self._trickle(status, payload, content_type, interval)
        else:
            self._reply(status, payload, content_type)

    def _learn_key(self, payload: bytes) -> None:
        key, account = _ASSUMED_KEY.search(payload), _ASSUMED_ACCOUNT.search(payload)
        if key and account:
            with self.server.shared.lock:
                self.server.shared.keys[key.group(1).decode()] = account.group(1).decode()

    def _trickle(self, status: int, payload: bytes, content_type: str, interval: float) -> None:
        """The whole answer, one byte per ``interval``: each read gets data in time."""
        stopping = self.server.shared.stopping
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(payload)):
                if stopping.wait(interval):
                    break
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _reply(self, status: int, payload: bytes, content_type: str = "text/xml") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. its read timeout)


def _action(path: str, body: bytes) -> str:
    query = urllib.parse.urlsplit(path).query
    for source in (body.decode("utf-8", "replace"), query):
        values = urllib.parse.parse_qs(source).get("Action")
        if values:
            return values[0]
    return ""


def _rewrite_content(payload: bytes, transform: Callable[[bytes], bytes]) -> bytes:
    def swap(match: re.Match[bytes]) -> bytes:
        csv = base64.b64decode(match.group(1))
        return b"<Content>" + base64.b64encode(transform(csv)) + b"</Content>"

    return _CONTENT.sub(swap, payload, count=1)


def reset_moto(endpoint: str) -> None:
    """Forget every user and report in the moto server (its state is process-wide)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as resp:
        resp.read()


class FaultProxy:
    def __init__(self, upstream: str, port: int | None = None) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._shared = _Shared(upstream=(parsed.hostname or "127.0.0.1", parsed.port or 80))
        self.port = port or free_port()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def seen(self) -> Counter[str]:
        with self._shared.lock:
            return Counter(self._shared.seen)

    def set(self, mode: str, actions: Iterable[str] | None = None, **options: Any) -> None:
        """Switch the fault; takes effect for the next request."""
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r} (known: {', '.join(MODES)})")
        fault = Fault(mode, frozenset(actions) if actions is not None else None, **options)
        with self._shared.lock:
            self._shared.fault = fault
        if mode == "refuse":
            self._close()
        elif self._server is None:
            self._open()

    def trickle(self, account_id: str | None, interval: float = 1.0) -> None:
        """Answer the calls of ``account_id`` one byte per ``interval`` (None: stop)."""
        with self._shared.lock:
            self._shared.trickle = account_id
            self._shared.trickle_interval = interval

    def start(self) -> FaultProxy:
        self._open()
        return self

    def stop(self) -> None:
        self._shared.stopping.set()
        self._close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open(self) -> None:
        self._server = _Server(self.port, self._shared)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
