"""What a scrape sends: stored body and live tail as buffers, the cached live part, and
the send path (one ``sendmsg`` on plain sockets, the TLS socket's own writes)."""

from __future__ import annotations

import gzip
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.daemon import http as http_server
from exporter.daemon.exposition import _gzip
from exporter.daemon.http import ServerThread, WebApp, send_buffers
from exporter.daemon.scrape import LiveMetrics, body
from exporter.daemon.snapshot import Exposition, Snapshot
from tests.daemon.test_exposition import one_gzip_member
from tests.support.certs import make_pki

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Counting(Collector):
    """A collector that counts how often it is collected."""

    def __init__(self) -> None:
        self.calls = 0

    def collect(self) -> Iterator[Metric]:
        self.calls += 1
        yield CounterMetricFamily("bench_collections", "Collections so far.", value=self.calls)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def big_exposition(lines: int = 60_000) -> Exposition:
    """Megabytes of series: more than a socket buffer and many TLS records."""
    text = b"# TYPE x gauge\n" + b"".join(
        b'x{user="user-%06d",check="c%d"} 1\n' % (i, i % 13) for i in range(lines)
    )
    openmetrics = text.replace(b"# TYPE x gauge", b"# TYPE x gauge\n# HELP x X.")
    return Exposition(text, _gzip(text), openmetrics, _gzip(openmetrics))


def test_live_part_is_rendered_at_most_once_per_max_age_and_after_invalidate() -> None:
    counting, clock = Counting(), Clock()
    live = LiveMetrics([counting], max_age=1.0, clock=clock)
    first = live.text()
    assert live.text() == first and counting.calls == 1  # shared within the second
    clock.now += 0.99
    assert live.text() == first and counting.calls == 1
    clock.now += 0.01
    assert b"bench_collections_total 2.0" in live.text() and counting.calls == 2
    live.invalidate()  # a counter changed: the next scrape must show it at once
    assert b"bench_collections_total 3.0" in live.text()
    # Each format is cached on its own.
    assert live.openmetrics().endswith(b"# EOF\n") and counting.calls == 4


def test_the_stored_body_is_sent_as_it_is_not_copied() -> None:
    exposition = big_exposition(1000)
    live = LiveMetrics(max_age=3600)
    plain = body(exposition, live, None, None)
    assert plain.parts[0] is exposition.text and plain.content_encoding is None
    assert plain.content == exposition.text + live.text()
    assert plain.length == len(plain.content)
    zipped = body(exposition, live, None, "gzip")
    head = zipped.parts[0]
    assert isinstance(head, memoryview) and head.obj is exposition.text_gzip
    assert one_gzip_member(zipped.content) == exposition.text + live.text()
    om = body(exposition, live, "application/openmetrics-text; version=1.0.0", "gzip")
    doc = one_gzip_member(om.content)
    assert doc == exposition.openmetrics + live.openmetrics()
    assert doc.count(b"# EOF") == 1 and doc.endswith(b"# EOF\n")


def test_a_stored_gzip_of_another_make_is_recompressed_into_one_member() -> None:
    exposition = big_exposition(100)
    foreign = Exposition(exposition.text, gzip.compress(exposition.text, mtime=0))
    live = LiveMetrics(max_age=3600)
    zipped = body(foreign, live, None, "gzip")
    assert one_gzip_member(zipped.content) == exposition.text + live.text()


def test_a_refusal_counted_shows_in_the_next_scrape_despite_the_cache() -> None:
    app = WebApp(snapshot=lambda: None, live=LiveMetrics(max_age=3600))
    server = ServerThread(("127.0.0.1", 0), app)
    try:
        assert b"aws_iam_exporter_http_request_timeouts_total 0.0" in app.live.text()
        server.server.stats.add("request_timeouts")
        assert b"aws_iam_exporter_http_request_timeouts_total 1.0" in app.live.text()
    finally:
        server.server.server_close()


def reader(sock: socket.socket, into: bytearray, delay: float = 0.0) -> threading.Thread:
    def read() -> None:
        while chunk := sock.recv(7919):  # an odd size: reads cross the buffers' edges
            into.extend(chunk)
            time.sleep(delay)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_send_buffers_sends_every_byte_in_order_through_partial_sends() -> None:
    parts = [b"head\r\n\r\n", memoryview(b"a" * 3_000_001)[1:], b"", b"tail" * 999]
    left, right = socket.socketpair()
    # A small send buffer and a slow reader: the kernel takes a part of it at a time.
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    received = bytearray()
    with left, right:
        left.settimeout(5)  # as the request reader leaves it: send_buffers must undo it
        thread = reader(right, received, delay=0.0001)
        deadline = http_server._Deadline()
        deadline.set(30, "response")
        send_buffers(left, parts, deadline)
        left.shutdown(socket.SHUT_WR)
        thread.join(10)
    assert bytes(received) == b"".join(parts)


def test_send_buffers_stops_at_the_deadline_when_the_client_reads_nothing() -> None:
    left, right = socket.socketpair()
    with left, right:
        deadline = http_server._Deadline()
        deadline.set(0.3, "response")
        started = time.monotonic()
        with pytest.raises(http_server._DeadlineError) as raised:
            send_buffers(left, [b"x" * (64 << 20)], deadline)
        assert raised.value.args[0] == "response"
        assert time.monotonic() - started < 5  # not the whole write timeout of 60 s


@pytest.fixture(params=["plain", "tls"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WebApp, object]]:
    """A server with a multi-megabyte snapshot, over plain HTTP or TLS (whose sockets
    have no sendmsg), and a function making a client connection to it."""
    exposition = big_exposition()
    snapshot = Snapshot((), NOW, 1, exposition)
    context = client = None
    if request.param == "tls":
        pki = make_pki(tmp_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        client = ssl.create_default_context(cafile=str(pki.ca_cert))
    app = WebApp(
        snapshot=lambda: snapshot, live=LiveMetrics(max_age=3600), ssl_context=lambda: context
    )
    server = ServerThread(("127.0.0.1", 0), app)
    server.start()

    def connect() -> http.client.HTTPConnection:
        if client is None:
            return http.client.HTTPConnection("127.0.0.1", server.server.port, timeout=30)
        return http.client.HTTPSConnection(
            "localhost", server.server.port, timeout=30, context=client
        )

    try:
        yield app, connect
    finally:
        server.stop()


def test_whole_answers_plain_gzip_and_head_on_one_kept_alive_connection(
    served: tuple[WebApp, object],
) -> None:
    app, connect = served
    snapshot = app.snapshot()
    assert snapshot is not None
    stored = snapshot.exposition
    assert len(stored.text) > 2_000_000 and len(stored.text_gzip) > 65536
    conn = connect()  # type: ignore[operator]
    try:
        for _ in range(2):  # the second answer proves the first left nothing behind
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.headers["Content-Encoding"] is None
            assert resp.read() == stored.text + app.live.text()
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            assert resp.headers["Content-Encoding"] == "gzip"
            assert one_gzip_member(resp.read()) == stored.text + app.live.text()
            conn.request("HEAD", "/metrics")
            resp = conn.getresponse()
            length = int(resp.headers["Content-Length"])
            assert length == len(stored.text + app.live.text()) and resp.read() == b""
    finally:
        conn.close()


def test_date_header_is_the_current_second_and_requests_log_at_debug(
    served: tuple[WebApp, object], caplog: pytest.LogCaptureFixture
) -> None:
    _, connect = served
    conn = connect()  # type: ignore[operator]
    try:
        with caplog.at_level(logging.DEBUG, logger="exporter.http"):
            for _ in range(3):
                conn.request("GET", "/-/healthy")
                resp = conn.getresponse()
                resp.read()
                sent = parsedate_to_datetime(resp.headers["Date"]).timestamp()
                assert abs(sent - time.time()) < 2.5
    finally:
        conn.close()
    assert sum('"GET /-/healthy HTTP/1.1" 200' in r.getMessage() for r in caplog.records) == 3


def test_refresh_renders_the_scraped_formats_so_a_scrape_does_not() -> None:
    counting, clock = Counting(), Clock()
    live = LiveMetrics([counting], max_age=1.0, clock=clock)
    live.refresh()
    assert counting.calls == 0  # no format scraped yet: nothing to keep fresh
    live.text()
    clock.now += 0.6
    live.refresh()
    clock.now += 0.6  # the first rendering has expired, the refreshed one has not
    assert b"bench_collections_total 2.0" in live.text() and counting.calls == 2


def test_the_server_keeps_the_live_part_fresh_between_scrapes() -> None:
    counting = Counting()
    app = WebApp(snapshot=lambda: None, live=LiveMetrics([counting], max_age=0.2))
    server = ServerThread(("127.0.0.1", 0), app)
    server.start()
    try:
        app.live.text()
        deadline = time.monotonic() + 10
        while counting.calls < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counting.calls >= 4  # rendered again and again without a scrape
    finally:
        server.stop()
    assert not server._live.is_alive()
