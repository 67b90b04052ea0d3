"""What one scrape sends: the stored exposition and a live tail, as buffers, never joined.

The stored part (megabytes at 50k series) was rendered once per publication
(``exposition.render``); copying it into one ``bytes`` with the tail cost more than
sending it, so an answer is a list of buffers that the server hands to one
``sendmsg`` (``http.py``).

The tail is the live registry: process, platform and GC metrics and the exporter's
own counters (refused connections, reloads, saves). Reading ``/proc`` and rendering
them costs as much as sending a 6 MB body and ten times the sending of its gzip, so
they are rendered at most once per ``max_age`` (1 s, shorter than any scrape
interval) and shared, with their gzip, by the scrapes in between; a background
thread renders them every half second, so that no scrape has to. A collector whose
figures must never lag calls ``invalidate`` when they change (the HTTP server's
counters do), and the next scrape renders anew.

A gzip answer stays one gzip member: many clients (``curl --compressed``, some
proxies) decode only the first member of a multi-member stream. The stored gzip ends
with a sync flush and an empty final block (``exposition._gzip``); per scrape that
block and the trailer are cut off, and the cached tail follows as deflate blocks
(a fresh deflater refers back only into its own data, so its blocks are valid after
any byte-aligned non-final ones), then the same empty final block and a new
trailer: the running CRC-32 and size.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.openmetrics import exposition as om
from prometheus_client.registry import Collector

from exporter.daemon.exposition import (
    _CUT,
    _FINAL_BLOCK,
    _GZIP_HEADER,
    _LEVEL,
    _TRAILER,
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    _gzip,
    accepts_gzip,
    wants_openmetrics,
)
from exporter.daemon.snapshot import Exposition

Buffer = bytes | memoryview
MAX_AGE_SECONDS = 1.0


@dataclass(frozen=True)
class Tail:
    """The live part in one format: its bytes, and the same as deflate blocks that end
    byte-aligned and not final (a sync flush), to continue a stored gzip with."""

    data: bytes
    deflated: bytes

    @classmethod
    def of(cls, data: bytes) -> Tail:
        deflater = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        return cls(data, deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH))


@dataclass(frozen=True)
class _Rendered:
    tail: Tail
    at: float  # clock time of the rendering
    generation: int  # LiveMetrics' generation when it started


class LiveMetrics:
    """The live registry (process, platform and GC ``collectors`` first, then whatever
    is registered on ``registry``), rendered at most once per ``max_age`` seconds per
    format, and again after each ``invalidate``."""

    def __init__(
        self,
        collectors: Iterable[Collector] | None = None,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in collectors or (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._rendered: dict[bool, _Rendered] = {}
        self._generations = itertools.count(1)
        self._generation = 0

    def invalidate(self) -> None:
        """Something on the registry changed: the next scrape renders it anew. Lock-free
        (``next`` on a counter is atomic), so counting an event never waits on a render."""
        self._generation = next(self._generations)

    def tail(self, openmetrics: bool) -> Tail:
        """The tail in one format; OpenMetrics ends with the one ``# EOF``. One thread
        renders while concurrent scrapes wait for it, and all of them send it."""
        with self._lock:
            now = self._clock()
            rendered = self._rendered.get(openmetrics)
            if (
                rendered is None
                or rendered.generation != self._generation
                or now - rendered.at >= self.max_age
            ):
                rendered = self._render(openmetrics, now)
                self._rendered[openmetrics] = rendered
            return rendered.tail

    def refresh(self) -> None:
        """Render again each format scraped so far. Called every half ``max_age`` (by
        ``http.ServerThread``): Prometheus scrapes every 15 s or more, so without it
        each of its scrapes would find the tail expired and render it itself. Rendered
        outside the lock, so scrapes meanwhile send the previous tail."""
        for openmetrics in list(self._rendered):
            rendered = self._render(openmetrics, self._clock())
            with self._lock:
                self._rendered[openmetrics] = rendered

    def _render(self, openmetrics: bool, now: float) -> _Rendered:
        generation = self._generation  # read first: a change during the render counts
        if openmetrics:
            data = bytes(om.generate_latest(self.registry))  # type: ignore[no-untyped-call]
        else:
            data = generate_latest(self.registry)
        return _Rendered(Tail.of(data), now, generation)

    def text(self) -> bytes:
        return self.tail(False).data

    def openmetrics(self) -> bytes:
        return self.tail(True).data


@dataclass(frozen=True)
class Body:
    """An answer's content as buffers to send in order, never joined by the server."""

    parts: tuple[Buffer, ...]
    content_type: str
    content_encoding: str | None

    @property
    def length(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def content(self) -> bytes:
        return b"".join(self.parts)


# Pure functions of a header's text; scrapers send the same one each time, and
# parsing it char by char costs more than sending a small answer. Bounded, so
# varied headers from hostile clients only evict.
_openmetrics_wanted = functools.lru_cache(maxsize=256)(wants_openmetrics)
_gzip_accepted = functools.lru_cache(maxsize=256)(accepts_gzip)


def body(
    exposition: Exposition, live: LiveMetrics, accept: str | None, accept_encoding: str | None
) -> Body:
    gz = _gzip_accepted(accept_encoding)
    openmetrics = _openmetrics_wanted(accept)
    tail = live.tail(openmetrics)
    if openmetrics:
        content_type = CONTENT_TYPE_OPENMETRICS
        stored = exposition.openmetrics_gzip if gz else exposition.openmetrics
    else:
        content_type = CONTENT_TYPE_TEXT
        stored = exposition.text_gzip if gz else exposition.text
    if gz:
        return Body(gzip_parts(stored, tail), content_type, "gzip")
    return Body((stored, tail.data), content_type, None)


def gzip_parts(stored: bytes, tail: Tail) -> tuple[Buffer, ...]:
    """One gzip member of the data of ``stored`` (made by ``exposition._gzip``) and then
    of ``tail``, as buffers: the stored one is not copied."""
    if not (stored.startswith(_GZIP_HEADER) and stored[-_CUT : -_TRAILER.size] == _FINAL_BLOCK):
        rest = gzip.decompress(stored) if stored else b""
        return (_gzip(rest + tail.data),)  # not made by _gzip: recompressed whole
    crc, size = _TRAILER.unpack_from(stored, len(stored) - _TRAILER.size)
    trailer = _TRAILER.pack(zlib.crc32(tail.data, crc), (size + len(tail.data)) & 0xFFFFFFFF)
    return (memoryview(stored)[:-_CUT], tail.deflated, _FINAL_BLOCK + trailer)
