"""The HTTP server in-process: routes, methods, readiness, bad requests, security hooks."""

from __future__ import annotations

import errno
import gzip
import http.client
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import Message
from pathlib import Path
from types import SimpleNamespace

import pytest

from exporter.config import Config
from exporter.config.flags import parse_listen_address
from exporter.config.settings import Settings
from exporter.daemon import http as http_server
from exporter.daemon.app import Daemon, Hooks
from exporter.daemon.http import ExporterHTTPServer, WebApp
from exporter.daemon.refresh import AccountTarget
from exporter.daemon.snapshot import Snapshot
from exporter.sources.base import FetchedReport
from tests.support.certs import make_pki
from tests.support.exporter_process import parse_samples, sample_value
from tests.support.sample_reports import ACCOUNT, NOW, sample_report


class Source:
    def fetch(self) -> FetchedReport:
        return FetchedReport(sample_report(3), NOW)


def make(
    hooks: Hooks | None = None,
    path: str = "/metrics",
    max_connections: int = 512,
    read_header_timeout: int = 5,
) -> Daemon:
    settings = Settings(
        web_listen_address="127.0.0.1:0", web_telemetry_path=path,
        web_max_connections=max_connections,
        web_read_header_timeout=timedelta(seconds=read_header_timeout),
    )  # fmt: skip
    targets = [AccountTarget(ACCOUNT, "prod", Source())]
    daemon = Daemon(lambda: targets, Config(settings=settings), hooks, now=lambda: NOW)
    daemon.start(schedule=False)
    return daemon


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    d = make()
    yield d
    d.stop()


def request(
    d: Daemon, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def test_ready_only_after_the_first_snapshot(daemon: Daemon) -> None:
    assert request(daemon, "/-/healthy")[0] == 200
    assert request(daemon, "/-/ready")[0] == 503
    status, _, body = request(daemon, "/metrics")
    assert status == 503 and b"first refresh" in body
    assert request(daemon, "/")[0] == 200  # the landing page says it is not ready yet
    daemon.refresher.run()
    assert request(daemon, "/-/ready")[0] == 200
    status, headers, body = request(daemon, "/metrics")
    assert status == 200 and b'aws_iam_users{account_id="111122223333"} 3.0' in body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_unknown_paths_404_and_other_methods_405(daemon: Daemon) -> None:
    daemon.refresher.run()
    for path in ("/nope", "/metrics/", "/-/", "/favicon.ico"):
        assert request(daemon, path)[0] == 404
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"):
        status, headers, body = request(daemon, "/metrics", method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        assert b"Traceback" not in body


def test_head_has_headers_but_no_body(daemon: Daemon) -> None:
    daemon.refresher.run()
    status, headers, body = request(daemon, "/metrics", "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


def test_query_string_is_ignored(daemon: Daemon) -> None:
    daemon.refresher.run()
    assert request(daemon, "/metrics?x=1")[0] == 200


def test_gzip_and_openmetrics(daemon: Daemon) -> None:
    daemon.refresher.run()
    status, headers, body = request(
        daemon, "/metrics",
        headers={"Accept-Encoding": "gzip", "Accept": "application/openmetrics-text;version=1.0.0"},
    )  # fmt: skip
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    doc = gzip.decompress(body)
    assert doc.endswith(b"# EOF\n") and doc.count(b"# EOF") == 1
    assert b"aws_iam_findings{" in doc


def test_landing_page_shows_findings_and_links(daemon: Daemon) -> None:
    daemon.refresher.run()
    status, headers, body = request(daemon, "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "href='/metrics'" in page and "prod (111122223333)" in page
    assert "console_without_mfa" in page and "Last refresh succeeded" in page
    assert "3 high" not in page and "6 high" in page  # 3 users x (no MFA + old key)


def test_custom_telemetry_path() -> None:
    d = make(path="/probe")
    try:
        d.refresher.run()
        assert request(d, "/probe")[0] == 200
        assert request(d, "/metrics")[0] == 404
    finally:
        d.stop()


def test_bad_requests_get_4xx_not_tracebacks(daemon: Daemon) -> None:
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") or reply.startswith(b"HTTP/1.0 400")
    huge = {"X-Big": "a" * 70000}
    assert request(daemon, "/metrics", headers=huge)[0] == 431
    many = {f"X-H{i}": "1" for i in range(150)}
    assert request(daemon, "/-/healthy", headers=many)[0] == 431


def test_a_bug_in_a_handler_is_a_500_without_details() -> None:
    d = make()
    try:
        d.refresher.run()

        def broken() -> None:
            raise RuntimeError("secret internals")

        d.app.snapshot = broken  # type: ignore[assignment]
        status, _, body = request(d, "/metrics")
        assert status == 500 and b"secret" not in body and b"Traceback" not in body
        assert request(d, "/-/healthy")[0] == 200
    finally:
        d.stop()


def test_auth_and_header_hooks() -> None:
    seen: list[str] = []

    def auth(path: str, headers: Message) -> bool:
        seen.append(path)
        return headers.get("Authorization") == "Basic b2s6b2s="

    hooks = Hooks(auth=auth, headers=lambda: [("X-Frame-Options", "DENY")])
    d = make(hooks)
    try:
        d.refresher.run()
        for path in ("/metrics", "/"):
            status, headers, _ = request(d, path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
            assert headers["X-Frame-Options"] == "DENY"
            ok = request(d, path, headers={"Authorization": "Basic b2s6b2s="})
            assert ok[0] == 200 and ok[1]["X-Frame-Options"] == "DENY"
        for path in ("/-/healthy", "/-/ready"):
            assert request(d, path)[0] == 200
        assert request(d, "/nope")[1]["X-Frame-Options"] == "DENY"
        assert "/-/healthy" not in seen and set(seen) == {"/metrics", "/"}
    finally:
        d.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [(":10063", ("", 10063)), ("127.0.0.1:1", ("127.0.0.1", 1)), ("[::1]:8080", ("::1", 8080))],
)
def test_listen_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["10063", "host:", ":99999", "::1:80", "a:b"])
def test_bad_listen_address(text: str) -> None:
    with pytest.raises(ValueError, match="listen-address"):
        parse_listen_address(text)


def closed_within(s: socket.socket, seconds: float) -> bool:
    """True if the server closes ``s`` (end of file or reset) within ``seconds``."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def counter(d: Daemon, name: str) -> float | None:
    status, _, body = request(d, "/metrics")
    assert status == 200
    return sample_value(parse_samples(body.decode()), name)


def test_at_the_cap_the_oldest_idle_or_unfinished_connection_makes_room() -> None:
    d = make(max_connections=2)
    try:
        d.refresher.run()
        silent = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        time.sleep(0.05)
        partial = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.05)
        # Both slots are held by clients that have not finished a request; a new one
        # is served, and the oldest of them (the silent one) makes room.
        assert request(d, "/-/healthy")[0] == 200
        assert closed_within(silent, 2.0)
        assert not closed_within(partial, 0.2)
        time.sleep(0.1)  # the served connection is closed and its slot free again
        newer = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        time.sleep(0.05)
        assert request(d, "/-/healthy")[0] == 200
        assert closed_within(partial, 2.0)  # older than the newer silent one
        assert not closed_within(newer, 0.2)
        for s in (silent, partial, newer):
            s.close()
        assert (counter(d, "aws_iam_exporter_http_connections_evicted_total") or 0) >= 2
    finally:
        d.stop()


def test_when_every_connection_is_answering_a_new_one_gets_503_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = make(max_connections=2)
    try:
        d.refresher.run()
        release = threading.Event()
        current = d.app.snapshot

        def slow_snapshot() -> Snapshot | None:
            release.wait(10)
            return current()

        d.app.snapshot = slow_snapshot  # type: ignore[method-assign]
        answers: list[int] = []
        busy = [threading.Thread(target=lambda: answers.append(request(d, "/metrics")[0]))
                for _ in range(2)]  # fmt: skip
        for t in busy:
            t.start()
        time.sleep(0.2)
        replies = [exchange(d, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n") for _ in range(30)]
        release.set()
        for t in busy:
            t.join(10)
        assert answers == [200, 200]
        for reply in replies:
            head, _, text = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 "), reply
            assert b"\r\nRetry-After: 1\r\n" in head and b"\r\nConnection: close" in head
            assert text == b"too many connections: try again shortly\n"
        d.app.snapshot = current  # type: ignore[method-assign]
        assert counter(d, "aws_iam_exporter_http_connections_rejected_total") == 30
        lines = [r for r in caplog.records if "answered 503" in r.getMessage()]
        assert len(lines) == 1  # at most one line per 10 s, however many refusals
    finally:
        d.stop()


def test_a_request_head_has_one_deadline_however_slowly_it_trickles_in() -> None:
    d = make(read_header_timeout=1)
    try:
        d.refresher.run()
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\n")
            started = time.monotonic()
            closed_after = None
            while time.monotonic() - started < 5:
                try:
                    s.sendall(b"X")  # one byte every 0.1 s: each read is quick
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                if closed_within(s, 0.1):
                    closed_after = time.monotonic() - started
                    break
        assert closed_after is not None and 0.8 < closed_after < 2.0, closed_after
        assert counter(d, "aws_iam_exporter_http_request_timeouts_total") == 1
    finally:
        d.stop()


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() -> None:
    d = make()
    try:
        d.refresher.run()
        server = d._http.server
        server.limits = replace(server.limits, idle_timeout=0.5)
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            assert closed_within(s, 3.0)
            assert 0.4 < time.monotonic() - started < 2.0
        # Idle connections are normal: not counted as timeouts.
        assert counter(d, "aws_iam_exporter_http_request_timeouts_total") == 0
    finally:
        d.stop()


def test_an_answer_the_client_does_not_read_is_cut_at_the_write_timeout() -> None:
    d = make()
    try:
        d.refresher.run()
        server = d._http.server
        server.limits = replace(server.limits, write_timeout=0.5)
        snapshot = d.app.snapshot()
        assert snapshot is not None
        huge = replace(snapshot.exposition, text=b"# padding\n" * 5_000_000)
        d.app.snapshot = lambda: replace(snapshot, exposition=huge)  # type: ignore[method-assign]
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", d.port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            # It never reads: the server's writes block, then give up at the deadline.
            deadline = time.monotonic() + 5
            while not server.stats.counts["response_timeouts"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            d.app.snapshot = lambda: snapshot  # type: ignore[method-assign]
            assert counter(d, "aws_iam_exporter_http_response_timeouts_total") == 1
    finally:
        d.stop()


def exchange(d: Daemon, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on one connection, half-close it, read until the server closes."""
    with socket.create_connection(("127.0.0.1", d.port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def statuses(reply: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.[01] ([0-9]{3}) ", reply)


SMUGGLED = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_request_body_is_read_not_taken_for_a_second_request(daemon: Daemon) -> None:
    head = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)
    after = b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = exchange(daemon, head + SMUGGLED + after)
    # The body is skipped; the kept-alive connection still serves the next request.
    assert statuses(reply) == [b"200", b"503"], reply
    assert b"healthy\n" in reply and b"not ready\n" in reply and b"first refresh" not in reply


def test_a_body_too_large_or_chunked_is_not_read_and_the_connection_closes(
    daemon: Daemon,
) -> None:
    big = b"x" * 200_000 + SMUGGLED
    head = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big)
    assert statuses(exchange(daemon, head + big + SMUGGLED)) == [b"200"]
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    head = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert statuses(exchange(daemon, head + chunk + SMUGGLED)) == [b"200"]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1, 2", b"\xc2\xb2", b"9" * 30])
def test_an_invalid_content_length_is_a_400_and_closes(daemon: Daemon, length: bytes) -> None:
    head = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n"
    assert statuses(exchange(daemon, head + SMUGGLED)) == [b"400"]


def test_a_slow_tls_handshake_counts_against_the_request_head_deadline(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    d = make(Hooks(ssl_context=lambda: context), read_header_timeout=1)
    try:
        d.refresher.run()
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00")  # a 512-byte TLS record, sent a byte at a time
            started = time.monotonic()
            closed_after = None
            while closed_after is None and time.monotonic() - started < 5:
                try:
                    s.sendall(b"\x00")
                except OSError:
                    closed_after = time.monotonic() - started
                if closed_within(s, 0.1):
                    closed_after = time.monotonic() - started
        assert closed_after is not None and 0.8 < closed_after < 2.0, closed_after
        client = ssl.create_default_context(cafile=str(pki.ca_cert))
        with (
            socket.create_connection(("127.0.0.1", d.port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 ")
        samples = parse_samples(reply.partition(b"\r\n\r\n")[2].decode())
        assert sample_value(samples, "aws_iam_exporter_http_request_timeouts_total") == 1
    finally:
        d.stop()


class FailingAccept:
    """A listening socket whose accept() fails with each of ``errors`` in turn, then
    succeeds."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)

    def accept(self) -> tuple[object, tuple[str, int]]:
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, os.strerror(code))
        return object(), ("127.0.0.1", 1)


def test_accept_backs_off_5ms_doubling_to_1s_when_descriptors_run_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.http")
    server = ExporterHTTPServer(("127.0.0.1", 0), WebApp(snapshot=lambda: None))
    listening = server.socket
    slept: list[float] = []
    monkeypatch.setattr(http_server, "time", SimpleNamespace(monotonic=time.monotonic,
                                                             sleep=slept.append))  # fmt: skip
    try:
        server.socket = FailingAccept(*[errno.EMFILE] * 10)  # type: ignore[assignment]
        for _ in range(10):
            with pytest.raises(OSError):
                server.get_request()
        assert slept == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
        server.get_request()  # a connection accepted: the next shortage starts over
        # Other failures (a client gone before accept) are not a shortage: no pause.
        server.socket = FailingAccept(errno.ENFILE, errno.ECONNABORTED)  # type: ignore[assignment]
        for _ in range(2):
            with pytest.raises(OSError):
                server.get_request()
        assert slept[10:] == [0.005]
        assert server.stats.counts["accept_errors"] == 11
        lines = [r.getMessage() for r in caplog.records if "accept failed" in r.getMessage()]
        assert lines == ["accept failed: Too many open files; retrying in 5 ms"]
    finally:
        server.socket = listening
        server.server_close()


def test_a_daemon_stopped_before_it_started_stops_at_once() -> None:
    """A start-up that fails before serving (run_until_signalled's finally) stops the
    daemon; the HTTP server's shutdown must not wait for a serve loop that never ran."""
    settings = replace(Settings(), web_listen_address="127.0.0.1:0")
    daemon = Daemon(lambda: [], replace(Config(), settings=settings))
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: (daemon.stop(), stopped.append(True)), daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "Daemon.stop() hung on a daemon never started"
    assert stopped == [True]
