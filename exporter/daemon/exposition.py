"""Render a snapshot once per publication (a scrape sends it with a live tail: scrape.py).

prometheus_client renders about 8 µs per series, so 50k findings cost ~0.4 s:
far too slow for every scrape, fine once per publication. The publisher renders
the text format, its gzip and OpenMetrics here; a scrape only appends the small
process/platform/GC and counter metrics. The gzip is made to be continued
(``_gzip``): it ends with a sync flush and an empty final block, which a scrape
cuts off to append the live part and a new trailer, so the answer stays one
gzip member."""

from __future__ import annotations

import heapq
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain, repeat
from operator import itemgetter
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics import exposition as om
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample, Timestamp

from exporter import __version__
from exporter.config import Config
from exporter.config.flags import format_duration
from exporter.config.settings import Settings
from exporter.daemon.build_info import python_version, revision
from exporter.daemon.exemptions import ExemptionStatus
from exporter.daemon.snapshot import AccountState, Exposition, PendingSource
from exporter.daemon.stored import (
    AnalysisSummary,
    SeriesEntry,
    series_fields,
    series_user,
    summary_of,
)
from exporter.daemon.upcoming_metrics import upcoming_metrics
from exporter.sources.base import REASONS

K = TypeVar("K", str, tuple[str, str])

CONTENT_TYPE_TEXT = CONTENT_TYPE_PLAIN_0_0_4
CONTENT_TYPE_OPENMETRICS = om.CONTENT_TYPE_LATEST
_EOF = b"# EOF\n"

# Maps a user name to the value of the ``user`` label; None leaves per-user
# series out (``--labels.user=none``). The security layer supplies name/hash/none.
UserLabel = Callable[[str], "str | None"]

STALE_KEY_CHECKS = {
    "access_key_not_rotated": "not_rotated",
    "access_key_unused": "unused",
    "access_key_never_used": "never_used",
}


def identity(user: str) -> str | None:
    return user


_DEFAULTS = Settings()  # the flags' defaults are declared there, once


@dataclass(frozen=True)
class ExpositionOptions:
    refresh_interval: timedelta = _DEFAULTS.refresh_interval
    finding_series: bool = _DEFAULTS.metrics_finding_series
    finding_series_limit: int = _DEFAULTS.metrics_finding_series_limit
    user_facts: bool = _DEFAULTS.metrics_user_facts
    user_label: UserLabel = identity
    # --labels.owner-tag given: aws_iam_finding has an owner label (DetailsState.owners).
    owner_label: bool = False
    version: str = __version__
    # More collectors per rendering, made from the account states (roles, shards).
    collectors: tuple[Callable[[Sequence[AccountState]], Collector], ...] = ()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        user_label: UserLabel = identity,
        collectors: tuple[Callable[[Sequence[AccountState]], Collector], ...] = (),
    ) -> ExpositionOptions:
        return cls(
            refresh_interval=settings.refresh_interval,
            finding_series=settings.metrics_finding_series,
            finding_series_limit=settings.metrics_finding_series_limit,
            user_facts=settings.metrics_user_facts,
            user_label=user_label,
            collectors=collectors,
            owner_label=bool(settings.labels_owner_tag),
        )


def render(
    accounts: Sequence[AccountState],
    config: Config,
    options: ExpositionOptions,
    pending: Sequence[PendingSource] = (),
    exemptions: Sequence[ExemptionStatus] = (),
) -> Exposition:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(accounts, config, options, pending, exemptions))
    for make in options.collectors:
        registry.register(make(accounts))
    # Collected once for both formats: collecting costs as much as formatting.
    metrics = list(registry.collect())
    rows: dict[tuple[int, str], bytes] = {}  # both formats write the same series lines
    text = _formatted(metrics, generate_latest, rows)
    openmetrics = _formatted(metrics, _openmetrics, rows)
    return Exposition(
        text=text,
        text_gzip=_gzip(text),
        openmetrics=openmetrics,
        openmetrics_gzip=_gzip(openmetrics),
    )


class _Collected(Collector):
    """Metric families collected already; the formatters only read them."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


Formatter = Callable[[Collector], bytes]


def _openmetrics(collected: Collector) -> bytes:
    return bytes(om.generate_latest(collected)).removesuffix(_EOF)  # type: ignore[no-untyped-call]


_SERIES_LABELS = ("account_id", "check", "severity", "user", "key")
# With --labels.owner-tag: the same, then the owner.
_OWNER_SERIES_LABELS = (*_SERIES_LABELS, "owner")
SeriesRow = tuple[str, ...]  # the values of the family's labels, in order


class FindingSeries(GaugeMetricFamily):
    """``aws_iam_finding``, its samples kept as rows of label values.

    Formatting 50k samples one by one in prometheus_client costs most of a rendering,
    so ``render`` writes these rows through a line template taken from the
    formatter itself (``_line_template``): the same bytes. ``samples`` is built
    from the rows only for a reader of the family (a test, a registry)."""

    def __init__(self, documentation: str, labels: Sequence[str] = _SERIES_LABELS) -> None:
        self.rows: list[SeriesRow] = []
        super().__init__("aws_iam_finding", documentation, labels=list(labels))

    @property
    def samples(self) -> list[Sample]:
        labels = self._labelnames
        return [
            Sample(self.name, dict(zip(labels, row, strict=True)), 1, None) for row in self.rows
        ]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:  # Metric.__init__ sets []
        if value:
            raise ValueError("aws_iam_finding takes rows (add_row), not samples")

    def add_row(self, row: SeriesRow) -> None:
        self.rows.append(row)

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: Timestamp | float | None = None
    ) -> None:
        # ``samples`` is built from the rows: a sample appended to it would be lost.
        if value != 1 or timestamp is not None or len(labels) != len(self._labelnames):
            raise ValueError("aws_iam_finding samples are 1, with each of its labels")
        self.add_row(tuple(labels))


def _formatted(
    metrics: Sequence[Metric], formatter: Formatter, written: dict[tuple[int, str], bytes]
) -> bytes:
    """``formatter`` over ``metrics``, the rows of a ``FindingSeries`` written by template.

    ``written`` keeps each family's rows as written by a template, for the next format
    whose template is the same (text and OpenMetrics write these lines alike)."""
    parts: list[bytes] = []
    batch: list[Metric] = []
    for metric in metrics:
        if not isinstance(metric, FindingSeries):
            batch.append(metric)
            continue
        parts.append(formatter(_Collected(batch)))
        batch = []
        labels = list(metric._labelnames)
        head = GaugeMetricFamily(metric.name, metric.documentation, labels=labels)
        parts.append(formatter(_Collected([head])))  # HELP and TYPE: no samples
        template = _line_template(formatter, labels)
        key = (id(metric), template)
        if key not in written:
            written[key] = _lines(template, metric.rows)
        parts.append(written[key])
    parts.append(formatter(_Collected(batch)))
    return b"".join(parts)


def _line_template(formatter: Formatter, labels: Sequence[str] = _SERIES_LABELS) -> str:
    """The formatter's line for one aws_iam_finding sample, ``{0}``, ``{1}``... where the
    values of ``labels`` go."""
    tokens = [f"T{n}Q{n}T" for n in range(len(labels))]
    probe = GaugeMetricFamily("aws_iam_finding", "-", labels=list(labels))
    probe.add_metric(tokens, 1)
    text = formatter(_Collected([probe])).decode()
    line = next(x for x in text.splitlines(keepends=True) if not x.startswith("#"))
    template = line.replace("{", "{{").replace("}", "}}")
    for n, token in enumerate(tokens):
        template = template.replace(token, f"{{{n}}}")
    return template


def _lines(template: str, rows: Sequence[SeriesRow]) -> bytes:
    # Escaping is per value: one look over all of them first (in C) finds whether any needs it.
    values = "".join(chain.from_iterable(rows))
    if "\\" in values or "\n" in values or '"' in values:
        return "".join([template.format(*map(_escaped, r)) for r in rows]).encode()
    return "".join([template.format(*r) for r in rows]).encode()


def _escaped(value: str) -> str:
    """A label value as both formats write it (backslash, newline, double quote)."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


_LEVEL = 6
# A gzip header (RFC 1952): magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# An empty final stored block (RFC 1951): BFINAL=1, BTYPE=00, LEN=0, NLEN=~0. Written
# by hand after a sync flush (which leaves the stream byte-aligned), so it is the same
# whatever zlib build compressed the rest, and can be cut off again.
_FINAL_BLOCK = b"\x01\x00\x00\xff\xff"
_TRAILER = struct.Struct("<II")  # CRC-32 and size mod 2^32 of the uncompressed data
_CUT = len(_FINAL_BLOCK) + _TRAILER.size


def _gzip(data: bytes) -> bytes:
    """A whole gzip member of ``data`` whose deflate stream can be continued (``_gzip_join``)."""
    deflater = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)
    trailer = _TRAILER.pack(zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return b"".join((_GZIP_HEADER, stream, _FINAL_BLOCK, trailer))


# RFC 9110 12.4.2: "0" to "1" with at most three decimals; anything else is invalid.
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_OPENMETRICS = "application/openmetrics-text"


def _elements(header: str | None) -> Iterator[tuple[str, float]]:
    """``(lowercased value, weight)`` of each element of a comma-separated header whose
    elements may carry ``;param=value`` (``Accept``, ``Accept-Encoding``). A missing
    weight is 1; an invalid one (``q=-1``, ``q=nan``, ``q=1.5``) counts as 0, so it never
    makes a value acceptable. Commas and semicolons inside quoted strings are kept."""
    for element in _split(header or "", ","):
        value, *params = _split(element, ";")
        value = value.strip().lower()
        if not value:
            continue
        weight = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                raw = raw.strip()
                weight = float(raw) if _QVALUE.match(raw) else 0.0
        yield value, weight


def _split(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def wants_openmetrics(accept: str | None) -> bool:
    """OpenMetrics when the client names it with a weight above 0 and at least that of
    the text format (its most specific range: ``text/plain``, ``text/*``, ``*/*``)."""
    openmetrics = 0.0
    text: dict[str, float] = {}
    for media_range, weight in _elements(accept):
        media_type = media_range.replace(" ", "")
        if media_type == _OPENMETRICS:
            openmetrics = max(openmetrics, weight)
        elif media_type in ("text/plain", "text/*", "*/*"):
            text[media_type] = max(text.get(media_type, 0.0), weight)
    text_weight = next((text[t] for t in ("text/plain", "text/*", "*/*") if t in text), 0.0)
    return openmetrics > 0 and openmetrics >= text_weight


def accepts_gzip(accept_encoding: str | None) -> bool:
    """gzip when its weight (or that of ``*``, if gzip is not listed) is above 0 and not
    below that of an explicitly weighted ``identity``. No header: identity."""
    weights: dict[str, float] = {}
    for listed, weight in _elements(accept_encoding):
        coding = "gzip" if listed == "x-gzip" else listed  # RFC 9110 8.4.1.3
        weights[coding] = max(weights.get(coding, 0.0), weight)
    gz = weights.get("gzip", weights.get("*", 0.0))
    identity = weights.get("identity", 0.0)
    return gz > 0 and gz >= identity


def _ts(when: datetime) -> float:
    return when.timestamp()


class SnapshotCollector(Collector):
    """Yields the metric contract for a set of account states."""

    def __init__(
        self,
        accounts: Sequence[AccountState],
        config: Config,
        options: ExpositionOptions,
        pending: Sequence[PendingSource] = (),
        exemptions: Sequence[ExemptionStatus] = (),
    ) -> None:
        self.accounts = accounts
        self.config = config
        self.options = options
        self.pending = pending
        self.exemptions = exemptions
        self.cached = (
            f"From the cached credential report, refreshed every "
            f"{format_duration(options.refresh_interval)}."
        )
        # Summaries, not findings: what the states keep between refreshes (stored.py).
        self.analysed = [(s, summary_of(s.analysis)) for s in accounts if s.analysis is not None]

    def _help(self, text: str) -> str:
        return f"{text} {self.cached}"

    def collect(self) -> Iterator[Metric]:
        yield from self._health()
        yield from self._inventory()
        yield from self._findings()
        yield from self._exemptions()
        yield from self._finding_series()
        yield from self._upcoming()
        if self.options.user_facts:
            yield from self._user_facts()

    def _health(self) -> Iterator[Metric]:
        build = InfoMetricFamily(
            "aws_iam_exporter_build",
            "Version, git revision and Python version of the exporter (value 1).",
            labels=["version", "revision", "pythonversion"],
        )
        build.add_metric([self.options.version, revision(), python_version()], {})
        yield build
        # Exporter-level, like build_info: alerts compare refresh ages with it.
        yield GaugeMetricFamily(
            "aws_iam_exporter_refresh_interval_seconds",
            "Configured --refresh.interval of this exporter, in seconds.",
            value=self.options.refresh_interval.total_seconds(),
        )
        info = InfoMetricFamily(
            "aws_iam_account", "Name of each account this exporter watches (value 1).",
            labels=["account_id", "account_name"],
        )  # fmt: skip
        success = _gauge(
            "aws_iam_exporter_refresh_success",
            "1 if the last refresh of the account's credential report succeeded, else 0.",
        )
        last = _gauge(
            "aws_iam_exporter_last_refresh_success_timestamp_seconds",
            "Unix time of the last successful refresh of the account's credential report.",
        )
        duration = _gauge(
            "aws_iam_exporter_refresh_duration_seconds",
            "Duration of the last refresh of the account's credential report, in seconds.",
        )
        errors = CounterMetricFamily(
            "aws_iam_exporter_refresh_errors",
            "Failed refreshes of the account's credential report, by reason.",
            labels=["account_id", "reason"],
        )
        for s in self.accounts:
            info.add_metric([s.account_id, s.name], {})
            if s.attempted:
                success.add_metric([s.account_id], 1.0 if s.success else 0.0)
                duration.add_metric([s.account_id], s.duration_seconds)
            if s.last_success is not None:
                last.add_metric([s.account_id], _ts(s.last_success))
            for reason, count in with_zeros(s.errors_total, REASONS):
                errors.add_metric([s.account_id, reason], count)
        yield from (info, success, last, duration, errors, self._pending())

    def _pending(self) -> Metric:
        # Sources without an account of their own have no account_id to report under.
        pending = GaugeMetricFamily(
            "aws_iam_exporter_pending_sources",
            "Sources that export no series of their own: never read successfully (their "
            "account is unknown), or yielding an account another source already yields "
            "(duplicate_account); by the reason of their last failure.",
            labels=["reason"],
        )
        for reason, count in sorted(Counter(p.reason for p in self.pending).items()):
            pending.add_metric([reason], count)
        return pending

    def _inventory(self) -> Iterator[Metric]:
        users = _gauge("aws_iam_users", self._help("IAM users in the report, root excluded."))
        no_mfa = _gauge(
            "aws_iam_users_without_mfa",
            self._help("Root without MFA (critical) and console users without MFA (high)."),
            ["account_id", "severity"],
        )
        generated = _gauge(
            "aws_iam_credential_report_generated_timestamp_seconds",
            "Unix time at which AWS generated the credential report in use (its GeneratedTime).",
        )
        problems = _gauge(
            "aws_iam_credential_report_problems",
            self._help("Values in the report that could not be read (those fields are unknown)."),
        )
        changes = CounterMetricFamily(
            "aws_iam_credential_changes",
            "Changes seen between consecutive credential reports, by kind.",
            labels=["account_id", "change"],
        )
        for state, summary in self.analysed:
            aid = state.account_id
            users.add_metric([aid], summary.users)
            no_mfa.add_metric([aid, "critical"], summary.root_without_mfa)
            no_mfa.add_metric([aid, "high"], summary.console_without_mfa)
            if summary.generated_time is not None:
                generated.add_metric([aid], _ts(summary.generated_time))
            problems.add_metric([aid], summary.problems)
        for state in self.accounts:
            for kind, count in state.changes_total.items():
                changes.add_metric([state.account_id, kind], count)
        yield from (users, no_mfa, generated, problems, changes)

    def _findings(self) -> Iterator[Metric]:
        enabled = [(cid, c) for cid, c in self.config.checks.items() if c.enabled]
        findings = _gauge(
            "aws_iam_findings",
            self._help(
                "Findings per check; every enabled and evaluated check is present, 0 when clean."
            ),
            ["account_id", "check", "severity"],
        )
        exempted = _gauge(
            "aws_iam_exempted_findings",
            self._help("Findings suppressed by the exemption list, per check."),
            ["account_id", "check"],
        )
        stale = _gauge(
            "aws_iam_stale_access_keys",
            self._help("Active access keys not rotated, unused or never used."),
            ["account_id", "severity", "reason"],
        )
        for state, summary in self.analysed:
            aid = state.account_id
            counts = summary.by_check()
            skipped = summary.exempted
            for cid, cfg in enabled:
                if cid in summary.not_evaluated:
                    continue
                findings.add_metric([aid, cid, cfg.severity], counts.get(cid, 0))
                exempted.add_metric([aid, cid], skipped.get(cid, 0))
            for cid, reason in STALE_KEY_CHECKS.items():
                key_check = self.config.checks.get(cid)
                if key_check is not None and key_check.enabled and cid not in summary.not_evaluated:
                    stale.add_metric([aid, key_check.severity, reason], counts.get(cid, 0))
        yield from (findings, exempted, stale)

    def _exemptions(self) -> Iterator[Metric]:
        # Of the configuration, not of an account: no account_id.
        count = _gauge(
            "aws_iam_exemptions",
            "Exemptions in the configuration, by state: active (it applies) or expired "
            "(past its expires day: it no longer applies, its findings are reported).",
            ["state"],
        )
        expired = sum(1 for s in self.exemptions if s.expired)
        count.add_metric(["active"], len(self.exemptions) - expired)
        count.add_metric(["expired"], expired)
        expiry = _gauge(
            "aws_iam_exemption_expiry_timestamp_seconds",
            "Unix time at which each exemption stops applying: the end of its expires day "
            "in UTC (the following midnight), for it applies through that whole day. "
            "Exemptions without expires have no series.",
            ["exemption"],
        )
        for status in self.exemptions:
            if status.ends_at is not None:
                expiry.add_metric([status.id], _ts(status.ends_at))
        yield from (count, expiry)

    def _finding_series(self) -> Iterator[Metric]:
        if not self.options.finding_series:
            return
        owned = self.options.owner_label
        series = FindingSeries(
            self._help("One series per finding (value 1), for drill-down."),
            _OWNER_SERIES_LABELS if owned else _SERIES_LABELS,
        )
        dropped = _gauge(
            "aws_iam_finding_series_dropped",
            "Findings left out of aws_iam_finding by the series limit.",
        )
        label = self.options.user_label
        left_out: Counter[str] = Counter()
        # Findings without a user (role findings) are not in the summaries' series:
        # they go to aws_iam_role_finding (exporter/daemon/accounts.py).
        merged = _Ranked(self.analysed)
        kept = 0
        limit = self.options.finding_series_limit
        for entry, state in merged if limit > 0 else ():
            severity, _, check, name, key = series_fields(entry)
            user = label(name)
            if user is None:
                continue
            row = (state.account_id, check, severity, user, key)
            # The owner is looked up by the user's own name, whatever --labels.user shows.
            series.add_row((*row, state.details.owners.get(name, "")) if owned else row)
            kept += 1
            if kept >= limit:
                break
        # What the merge did not reach is left out: counted per account, not ranked.
        for index, (state, summary) in enumerate(self.analysed):
            rest = summary.series[merged.consumed[index] :]
            left_out[state.account_id] += _labelled(rest, label)
        for state, _ in self.analysed:
            dropped.add_metric([state.account_id], left_out.get(state.account_id, 0))
        yield from (series, dropped)

    def _upcoming(self) -> Iterator[Metric]:
        options = self.options
        yield from upcoming_metrics(self.analysed, self.config, options.finding_series,
                                    options.finding_series_limit, options.user_label)  # fmt: skip

    def _user_facts(self) -> Iterator[Metric]:
        mfa = _gauge(
            "aws_iam_user_mfa_active",
            self._help("1 if the user has an MFA device, else 0."),
            ["account_id", "user"],
        )
        pw = _gauge(
            "aws_iam_user_password_last_used_timestamp_seconds",
            self._help("Unix time the user's console password was last used."),
            ["account_id", "user"],
        )
        rotated = _gauge(
            "aws_iam_access_key_last_rotated_timestamp_seconds",
            self._help("Unix time the access key was created or last rotated."),
            ["account_id", "user", "key"],
        )
        used = _gauge(
            "aws_iam_access_key_last_used_timestamp_seconds",
            self._help("Unix time the access key was last used."),
            ["account_id", "user", "key"],
        )
        for state, _ in self.analysed:
            aid = state.account_id
            assert state.analysis is not None
            # Parsed again from the stored report, one account at a time.
            for rec in state.analysis.report.records:
                user = self.options.user_label(rec.user)
                if user is None:
                    continue
                if isinstance(rec.mfa_active, bool):
                    mfa.add_metric([aid, user], 1.0 if rec.mfa_active else 0.0)
                if isinstance(rec.password_last_used, datetime):
                    pw.add_metric([aid, user], _ts(rec.password_last_used))
                for k in rec.access_keys:
                    if isinstance(k.last_rotated, datetime):
                        rotated.add_metric([aid, user, str(k.number)], _ts(k.last_rotated))
                    if isinstance(k.last_used, datetime):
                        used.add_metric([aid, user, str(k.number)], _ts(k.last_used))
        yield from (mfa, pw, rotated, used)


def with_zeros(counts: Mapping[K, int], known: Iterable[K]) -> list[tuple[K, int]]:
    """``counts`` with every ``known`` key, 0 if it never counted: a counter that only
    appears at its first increment hides that increment from increase() and rate()."""
    every = dict.fromkeys(known, 0)
    every.update(counts)
    return sorted(every.items())


class _Ranked:
    """Every account's series in ``Finding.sort_key`` order, as one stable sort of them
    all would give: each account's are sorted already, and ``heapq.merge`` keeps the
    accounts' order on ties. No list of every finding is built; ``consumed[i]`` counts
    the entries taken from account ``i``, so the merge can stop at the series limit."""

    def __init__(self, analysed: Sequence[tuple[AccountState, AnalysisSummary]]) -> None:
        self.consumed = [0] * len(analysed)
        self._merged = heapq.merge(
            *(
                zip(summary.series, repeat(index), repeat(state), strict=False)
                for index, (state, summary) in enumerate(analysed)
            ),
            key=itemgetter(0),  # the entries sort as Finding.sort_key
        )

    def __iter__(self) -> Iterator[tuple[SeriesEntry, AccountState]]:
        consumed = self.consumed
        for entry, index, state in self._merged:
            consumed[index] += 1
            yield entry, state


def _labelled(entries: Sequence[SeriesEntry], label: UserLabel) -> int:
    """How many of ``entries`` have a ``user`` label (the others have no series)."""
    every = getattr(label, "per_user_series", None)  # a UserLabeler says it at once
    if label is identity or every is True:
        return len(entries)
    if every is False:
        return 0
    return sum(1 for entry in entries if label(series_user(entry)) is not None)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or ["account_id"])
